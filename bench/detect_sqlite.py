"""Run the SigmaHQ Okta rules over System Log events in SQLite, as converted
by pySigma's SQLite backend, and report the rate beside idaudit's.

This is the approach of Zircolite: flatten each JSON event into one table row
whose columns are the dotted field paths, then run one SQL query per rule.

Usage: python bench/detect_sqlite.py EVENTS.jsonl [RULES_FOLDER]

Needs `pip install pysigma-backend-sqlite` (tested with pySigma 2.0.1 and
pySigma-backend-sqlite 2.1.1). Loading is timed apart from querying; the
rate compared with idaudit's counts the query time only, which favours
SQLite, because idaudit's rate includes parsing the JSON.

Flattening: nested objects become `parent.child` columns. An array of
objects contributes the fields of each element under the same names, and
the first element that has a field gives its value, so a rule on
`target.displayName` sees only the first target that has a display name.
Other arrays are stored as JSON text. Columns use `COLLATE NOCASE`, so
`=` and `LIKE` ignore case as Sigma requires, and SQLite column names
ignore case, so the rules' lower-case field names resolve.
"""

import json
import pathlib
import re
import sqlite3
import sys
import time

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection


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


def load(path):
    """Read the events and return the flattened rows and the column names."""
    rows = []
    columns = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = {}
            flatten(json.loads(line), "", row)
            for lower, (name, _) in row.items():
                columns.setdefault(lower, name)
            rows.append({lower: value for lower, (_, value) in row.items()})
    return rows, columns


def regexp(pattern, text):
    if text is None:
        return False
    return re.search(pattern, str(text)) is not None


def build_database(rows, columns):
    connection = sqlite3.connect(":memory:")
    connection.create_function("REGEXP", 2, regexp, deterministic=True)
    order = list(columns)
    definitions = ", ".join(f'"{columns[lower]}" COLLATE NOCASE' for lower in order)
    connection.execute(f"CREATE TABLE logs (row_id INTEGER PRIMARY KEY, {definitions})")
    placeholders = ", ".join("?" for _ in order)
    names = ", ".join(f'"{columns[lower]}"' for lower in order)
    connection.executemany(
        f"INSERT INTO logs ({names}) VALUES ({placeholders})",
        ([row.get(lower) for lower in order] for row in rows),
    )
    connection.commit()
    return connection


def convert(folder):
    backend = sqliteBackend()
    queries = []
    for path in sorted(pathlib.Path(folder).glob("*.yml")):
        collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
        title = collection.rules[0].title
        for query in backend.convert(collection):
            queries.append((title, query))
    return queries


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    events = sys.argv[1]
    folder = sys.argv[2] if len(sys.argv) > 2 else "crates/detect/rules/sigmahq"

    started = time.perf_counter()
    rows, columns = load(events)
    connection = build_database(rows, columns)
    loaded = time.perf_counter() - started
    print(f"sqlite load: {len(rows)} events, {len(columns)} columns in {loaded:.3f} s")

    queries = convert(folder)
    counts = []
    started = time.perf_counter()
    for title, query in queries:
        try:
            count = sum(1 for _ in connection.execute(query))
        except sqlite3.OperationalError as error:
            # A field no event has is a missing column; the rule matches nothing.
            if "no such column" not in str(error):
                raise
            count = 0
        counts.append((title, count))
    seconds = time.perf_counter() - started
    print(
        f"sqlite query: {len(rows)} events, {len(queries)} queries in {seconds:.3f} s "
        f"({len(rows) / seconds:.0f} events/s; with loading {len(rows) / (seconds + loaded):.0f} events/s)"
    )
    for title, count in sorted(counts):
        print(f"match {count:>8}  {title}")


if __name__ == "__main__":
    main()
