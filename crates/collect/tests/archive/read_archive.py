"""Reads an idaudit System Log archive with pyarrow, as an independent check of
the Parquet files that idaudit writes.

Usage:
  read_archive.py FOLDER
  read_archive.py s3://BUCKET/PREFIX ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY

Prints one JSON object: the column names of the files, and one row per event
with its uuid, the `org` and `date` partition values, its `published` time
(RFC 3339, UTC, milliseconds), its event type and its target ids.
"""

import json
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs


def open_dataset(arguments):
    partitioning = ds.partitioning(
        pa.schema([("org", pa.string()), ("date", pa.string())]), flavor="hive"
    )
    source = arguments[0]
    if source.startswith("s3://"):
        endpoint, key_id, secret = arguments[1:4]
        scheme, _, address = endpoint.partition("://")
        filesystem = pafs.S3FileSystem(
            access_key=key_id,
            secret_key=secret,
            endpoint_override=address,
            scheme=scheme,
            region="us-east-1",
        )
        path = source[len("s3://") :]
        return ds.dataset(
            path, format="parquet", partitioning=partitioning, filesystem=filesystem
        )
    return ds.dataset(source, format="parquet", partitioning=partitioning)


def main():
    dataset = open_dataset(sys.argv[1:])
    table = dataset.to_table()
    published = table.column("published").cast(pa.int64()).to_pylist()
    rows = []
    for index, row in enumerate(table.select(["uuid", "org", "date", "event_type", "target_ids"]).to_pylist()):
        milliseconds = published[index]
        rows.append(
            {
                "uuid": row["uuid"],
                "org": row["org"],
                "date": row["date"],
                "published_ms": milliseconds,
                "event_type": row["event_type"],
                "target_ids": row["target_ids"],
            }
        )
    schema = dataset.schema
    print(
        json.dumps(
            {
                "columns": schema.names,
                "published_type": str(schema.field("published").type),
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
