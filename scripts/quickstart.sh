#!/usr/bin/env bash
# Main job, end to end on the sample episodes shipped in data/samples (under 10 minutes on 2 CPU
# cores): validate -> parse -> build -> reword -> stats -> export round trip -> tokenize; generate
# episodes with the simulator and convert them too; train the `tiny` policy briefly; evaluate it
# offline (original and gobbledygook prompts) and online in the simulator; report. Everything it
# needs is installed by uv. Output goes to OUT (default out/); each step prints where its output is.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-out}"
uv sync --all-packages --all-extras --quiet
run() { uv run --all-packages --all-extras --quiet "$@"; }
say() { printf '\n== %s\n' "$*" >&2; }

say "validate and inspect the sample episodes"
run vima-schema validate data/samples >&2
for task in data/samples/vima-raw/*/; do
  run vima-schema inspect "${task}000000" >&2
done

say "convert: parse, build, reword, stats, export round trip"
# The two VIMA-Bench samples share task/index with VIMA-Data ones, so each source gets its own
# parsed folder; the dataset is built from the released VIMA-Data samples.
parsed=$(run vima-convert parse data/samples/vima-raw --out "$OUT/parsed" --workers 2 | tail -n 1)
run vima-convert parse data/samples/vima-bench-generated --out "$OUT/parsed-vima-bench" >/dev/null
dataset=$(run vima-convert build "$parsed" --out "$OUT/dataset" --valid-size 2 | tail -n 1)
run vima-convert reword "$dataset" --seed 0 >/dev/null
run vima-convert stats "$dataset" --config original--parsed --plot "$OUT/stats.png" >&2
run vima-convert export-raw "$dataset" --out "$OUT/roundtrip" --overwrite >/dev/null
run vima-schema validate "$OUT/roundtrip" >&2

say "tokenize (original and reworded)"
run vima-tokenize "$dataset" --workers 2 >/dev/null
run vima-tokenize "$dataset" --variant reworded --workers 2 >/dev/null

say "simulate: oracle episodes from vima-sim, converted and tokenized like VIMA-Data"
generated=$(run vima-sim generate visual_manipulation rotate --episodes 3 --out "$OUT/generated" \
  --workers 2 | tail -n 1)
run vima-schema validate "$generated" >&2
run vima-convert parse "$generated" --out "$OUT/parsed-generated" --workers 2 \
  | tail -n 1 | xargs -r -I{} uv run --all-packages --all-extras --quiet vima-convert build {} \
      --out "$OUT/dataset-generated" --valid-size 2 \
  | tail -n 1 | xargs -r uv run --all-packages --all-extras --quiet vima-tokenize --workers 2 >/dev/null

say "train the tiny policy"
rm -rf "$OUT/run"  # a fresh short run each time (vima-train refuses to overwrite a run)
ckpt=$(run vima-train fit "$dataset" --preset tiny --out "$OUT/run" --max-steps 20 --max-epochs 5 \
  --batch-size 4 --set data.cache_dir="$OUT/cache" | tail -n 1)

say "evaluate offline (original and gobbledygook prompts)"
offline=$(run vima-eval offline "$ckpt" "$dataset" --perturb noop --perturb gobbledygook_word \
  --out "$OUT/eval-offline" | tail -n 1)

say "evaluate online in the simulator"
online=$(run vima-eval online "$ckpt" --levels L1 --tasks visual_manipulation,rotate \
  --episodes 2 --workers 2 --overwrite --out "$OUT/eval-online" | tail -n 1)

say "report"
report=$(run vima-eval report "$online" "$offline" --baseline vima-200m --out "$OUT/report" \
  | tail -n 1)
cat "$report/report.md" >&2

cat >&2 <<SUMMARY

Outputs:
  dataset (load with datasets.load_dataset)  $dataset
  dataset statistics figure                   $OUT/stats.png
  simulator episodes / their dataset          $generated / $OUT/dataset-generated
  trained checkpoint                          $ckpt
  offline evaluation                          $offline
  online evaluation                           $online
  report (markdown, CSV, LaTeX, figures)      $report
SUMMARY
echo "$report"
