#!/usr/bin/env bash
# Runs idaudit's detection and pySigma's SQLite backend over the same
# simulator events, one after the other, and prints both rates.
#
# Usage: bench/detect_compare.sh [USERS] [DAYS] [SEEDS] [PYTHON]
# (defaults 2000, 30, 3 and python3). PYTHON must have
# pysigma-backend-sqlite installed. Run from the repository root.
set -euo pipefail

users=${1:-2000}
days=${2:-30}
seeds=${3:-3}
python=${4:-python3}
events=$(mktemp --suffix=.jsonl)
trap 'rm -f "$events"' EXIT

cargo build --release -p idaudit-bench --bin detect_rate
target/release/detect_rate write "$users" "$days" "$seeds" "$events"
target/release/detect_rate file "$events" parse builtin sigmahq matches
"$python" bench/detect_sqlite.py "$events" crates/detect/rules/sigmahq
