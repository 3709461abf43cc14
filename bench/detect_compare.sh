#!/usr/bin/env bash
# Runs idaudit's detection and pySigma's SQLite backend over the same
# simulator events, one after the other, and prints both rates.
#
# Usage: bench/detect_compare.sh [USERS] [DAYS] [SEEDS] [PYTHON]
# (defaults 2000, 30, 149 and python3; 149 orgs are about 10 million
# events). PYTHON must have pysigma-backend-sqlite installed. Run from the
# repository root.
#
# The simulator is deterministic, so each side generates the same events
# itself: idaudit in process, one org at a time, and SQLite from
# `detect_rate write`, piped, so that the JSON never has to be on disk.
# SQLite's database is in memory, as Zircolite keeps it by default, and
# takes about 1 GB per million events; set DATABASE to a file path to put
# it on disk instead.
set -euo pipefail

users=${1:-2000}
days=${2:-30}
seeds=${3:-149}
python=${4:-python3}

cargo build --release -p idaudit-bench --bin detect_rate
echo "== idaudit"
target/release/detect_rate generate "$users" "$days" "$seeds"
echo "== pySigma SQLite backend"
target/release/detect_rate write "$users" "$days" "$seeds" - 2>/dev/null |
    "$python" bench/detect_sqlite.py - crates/detect/rules/sigmahq "${DATABASE:-:memory:}"
