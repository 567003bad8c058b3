#!/usr/bin/env bash
# Main job on the sample episodes shipped in data/samples: validate -> parse -> build -> reword
# -> stats -> tokenize. Everything it needs is installed by uv. Output goes to OUT (default out/).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-out}"
uv sync --all-packages --quiet
run() { uv run --all-packages --quiet "$@"; }

run vima-schema validate data/samples
for task in data/samples/vima-raw/*/; do
  run vima-schema inspect "${task}000000" >&2
done
# The two VIMA-Bench samples share task/index with VIMA-Data ones, so each source gets its own
# parsed folder; the dataset is built from the released VIMA-Data samples.
run vima-convert parse data/samples/vima-raw --out "$OUT/parsed" --workers 2 >/dev/null
run vima-convert parse data/samples/vima-bench-generated --out "$OUT/parsed-vima-bench" >/dev/null
run vima-convert build "$OUT/parsed" --out "$OUT/dataset" --valid-size 2 >/dev/null
run vima-convert reword "$OUT/dataset" --seed 0 >/dev/null
run vima-convert stats "$OUT/dataset" --config original--parsed --plot "$OUT/stats.png" >&2
run vima-convert export-raw "$OUT/dataset" --out "$OUT/roundtrip" --overwrite >/dev/null
run vima-schema validate "$OUT/roundtrip"
run vima-tokenize "$OUT/dataset" --workers 2 >/dev/null
run vima-tokenize "$OUT/dataset" --variant reworded --workers 2 >/dev/null
echo "$OUT/dataset"
