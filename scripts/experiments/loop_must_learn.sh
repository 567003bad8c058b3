#!/usr/bin/env bash
# "The loop must learn": oracle episodes of visual_manipulation from vima-sim -> convert ->
# tokenize -> train a small policy on CPU (wall-clock capped) -> online evaluation on unseen
# seeds in the simulator. Success far above 0% shows that bins, tokenization, model, inverse
# bins and simulator agree end to end. Results and commands: docs/EXPERIMENTS.md.
#
# Usage: scripts/experiments/loop_must_learn.sh [OUT]   (env: EPISODES, TRAIN_SECONDS, WORKERS,
#        EVAL_EPISODES, PRESET, MODEL_SET (extra --set for the model), LR)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-out/loop-must-learn}"
EPISODES="${EPISODES:-2000}"
TRAIN_SECONDS="${TRAIN_SECONDS:-3600}"
WORKERS="${WORKERS:-2}"
EVAL_EPISODES="${EVAL_EPISODES:-100}"
PRESET="${PRESET:-tiny}"
LR="${LR:-1e-3}"
run() { uv run --all-packages --quiet "$@"; }
stamp() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

mkdir -p "$OUT"
stamp "generate $EPISODES oracle episodes (training partition, seeds 0..$((EPISODES - 1)))"
run vima-sim generate visual_manipulation --episodes "$EPISODES" --out "$OUT/raw" \
  --workers "$WORKERS" --seed 0 >/dev/null
stamp "parse, build, tokenize"
run vima-convert parse "$OUT/raw" --out "$OUT/parsed" --workers "$WORKERS" >/dev/null
run vima-convert build "$OUT/parsed" --out "$OUT/dataset" --valid-size 50 >/dev/null
run vima-tokenize "$OUT/dataset" --workers "$WORKERS" >/dev/null
stamp "train $PRESET for at most $TRAIN_SECONDS s (constant lr $LR after 100 warm-up steps)"
# The schedule is constant so that stopping at the wall-clock cap leaves a usable model;
# checkpoints every 250 steps, the newest one is evaluated.
timeout --signal=TERM "$TRAIN_SECONDS" uv run --all-packages --quiet vima-train fit \
  "$OUT/dataset" --preset "$PRESET" --out "$OUT/run" --lr "$LR" --max-epochs 1000 \
  --batch-size 16 --wandb offline --set train.schedule=constant --set train.warmup=100 \
  --set train.checkpoint_every_n_steps=250 ${MODEL_SET:-} >"$OUT/train.log" 2>&1 || true
CKPT="$(ls -t "$OUT"/run/checkpoints/*.ckpt | head -1)"
stamp "evaluate $CKPT online on $EVAL_EPISODES unseen L1 scenes"
run vima-eval online "$CKPT" --tasks visual_manipulation --levels L1 \
  --episodes "$EVAL_EPISODES" --workers "$WORKERS" --seed 2026 --out "$OUT/online" --record 5
run vima-eval oracle --tasks visual_manipulation --levels L1 --episodes "$EVAL_EPISODES" \
  --workers "$WORKERS" --seed 2026 --out "$OUT/oracle" --wandb disabled
stamp "done"
echo "$OUT/online"
