"""Run the SigmaHQ Okta rules over System Log events in SQLite, as converted
by pySigma's SQLite backend, and report the rate beside idaudit's.

This is the approach of Zircolite: flatten each JSON event into one table row
whose columns are the dotted field paths, then run one SQL query per rule.

Usage: python bench/detect_sqlite.py EVENTS.jsonl|- [RULES_FOLDER] [DATABASE]

EVENTS may be `-` to read JSON Lines from stdin, so that ten million
events need not be written to disk first. DATABASE is the SQLite file to
load into (default: a temporary file, removed at the end); `:memory:` keeps
it in memory as Zircolite does by default, which needs about 1.5 GB per
million events.

Needs `pip install pysigma-backend-sqlite` (tested with pySigma 2.0.1 and
pySigma-backend-sqlite 2.1.1). Loading (reading and flattening the JSON and
inserting the rows) is timed apart from querying, and both rates are
printed: Zircolite has to load before it can query, while idaudit's rate
includes parsing the JSON. Times are wall-clock and on-CPU time of this
process (`time.process_time`), the latter so that a rate stays meaningful
while other processes share the cores.

Flattening: nested objects become `parent.child` columns. An array of
objects contributes the fields of each element under the same names, and
the first element that has a field gives its value, so a rule on
`target.displayName` sees only the first target that has a display name.
Other arrays are stored as JSON text. Columns use `COLLATE NOCASE`, so
`=` and `LIKE` ignore case as Sigma requires, and SQLite column names
ignore case, so the rules' lower-case field names resolve. A column is
added when an event first has the field.

Rules that pySigma cannot convert (the retired `| count() by` aggregation
of `okta_mfa_fatigue.yml`) are listed and left out of the SQLite side.
"""

import json
import os
import pathlib
import re
import sqlite3
import sys
import tempfile
import time

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

BATCH = 20_000


def flatten(value, prefix, row):
    """Add the scalar fields of `value` to `row` under dotted names."""
    if isinstance(value, dict):
        for key, child in value.items():
            flatten(child, f"{prefix}.{key}" if prefix else key, row)
    elif isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            for item in value:
                flatten(item, prefix, row)
        else:
            row.setdefault(prefix.lower(), (prefix, json.dumps(value)))
    else:
        if isinstance(value, bool):
            value = "true" if value else "false"
        row.setdefault(prefix.lower(), (prefix, value))


def regexp(pattern, text):
    if text is None:
        return False
    return re.search(pattern, str(text)) is not None


class Loader:
    """Inserts flattened rows in batches, adding columns as fields appear."""

    def __init__(self, connection):
        self.connection = connection
        self.columns = {}
        self.rows = []
        self.count = 0
        connection.execute("CREATE TABLE logs (row_id INTEGER PRIMARY KEY)")

    def add(self, line):
        row = {}
        flatten(json.loads(line), "", row)
        for lower, (name, _) in row.items():
            if lower not in self.columns:
                self.columns[lower] = name
                self.connection.execute(f'ALTER TABLE logs ADD COLUMN "{name}" COLLATE NOCASE')
        self.rows.append({lower: value for lower, (_, value) in row.items()})
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        order = list(self.columns)
        names = ", ".join(f'"{self.columns[lower]}"' for lower in order)
        placeholders = ", ".join("?" for _ in order)
        self.connection.executemany(
            f"INSERT INTO logs ({names}) VALUES ({placeholders})",
            ([row.get(lower) for lower in order] for row in self.rows),
        )
        self.connection.commit()
        self.count += len(self.rows)
        self.rows = []


def load(events, connection):
    loader = Loader(connection)
    lines = sys.stdin if events == "-" else open(events, encoding="utf-8")
    with lines:
        for line in lines:
            if line.strip():
                loader.add(line)
    loader.flush()
    return loader.count, len(loader.columns)


def convert(folder):
    backend = sqliteBackend()
    queries = []
    failed = []
    for path in sorted(pathlib.Path(folder).glob("*.yml")):
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
            title = collection.rules[0].title
            for query in backend.convert(collection):
                queries.append((title, query))
        except Exception as error:  # pySigma raises several unrelated error types.
            failed.append((path.name, str(error).splitlines()[0]))
    return queries, failed


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    events = sys.argv[1]
    folder = sys.argv[2] if len(sys.argv) > 2 else "crates/detect/rules/sigmahq"
    database = sys.argv[3] if len(sys.argv) > 3 else None
    temporary = None
    if database is None:
        temporary = tempfile.NamedTemporaryFile(suffix=".db", delete=False)
        temporary.close()
        database = temporary.name

    try:
        connection = sqlite3.connect(database)
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.create_function("REGEXP", 2, regexp, deterministic=True)

        started, started_cpu = time.perf_counter(), time.process_time()
        count, columns = load(events, connection)
        loaded = time.perf_counter() - started
        loaded_cpu = time.process_time() - started_cpu
        print(
            f"sqlite load: {count} events, {columns} columns in {loaded:.3f} s wall, "
            f"{loaded_cpu:.3f} s on CPU",
            flush=True,
        )

        queries, failed = convert(folder)
        for name, message in failed:
            print(f"not converted: {name}: {message}")
        counts = []
        started, started_cpu = time.perf_counter(), time.process_time()
        for title, query in queries:
            try:
                matched = sum(1 for _ in connection.execute(query))
            except sqlite3.OperationalError as error:
                # A field no event has is a missing column; the rule matches nothing.
                if "no such column" not in str(error):
                    raise
                matched = 0
            counts.append((title, matched))
        seconds = time.perf_counter() - started
        seconds_cpu = time.process_time() - started_cpu
        for name, wall, cpu in [
            ("sqlite, queries only", seconds, seconds_cpu),
            ("sqlite, loading and queries", seconds + loaded, seconds_cpu + loaded_cpu),
        ]:
            print(
                f"{name}: {count} events in {wall:.3f} s wall ({count / wall:.0f} events/s), "
                f"{cpu:.3f} s on CPU ({count / cpu:.0f} events/s)"
            )
        for title, matched in sorted(counts):
            print(f"match {matched:>8}  {title}")
        connection.close()
    finally:
        if temporary is not None:
            os.unlink(temporary.name)


if __name__ == "__main__":
    main()
