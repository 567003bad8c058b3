#!/usr/bin/env bash
# T1 (issue 17): oracle episodes of visual_manipulation from vima-sim -> convert -> tokenize ->
# train a small policy on CPU -> online evaluation on 100 unseen scenes per level (L1, L2, L3).
# Resumable at every stage: generation skips episodes already written, parse/build/tokenize
# redo only stale shards, training resumes from the run's last checkpoint (each invocation
# trains at most TRAIN_SECONDS, then the newest checkpoint is evaluated), evaluation resumes its
# finished episodes (one folder per checkpoint step). Stop it any time and run it again.
# Results, commands and curves: docs/EXPERIMENTS.md.
#
# Usage: scripts/experiments/t1_visual_manipulation.sh [OUT]
#   env: EPISODES (1000), PRESET (t1-match), NAME (run name, PRESET), STEPS (optimiser steps, 3000),
#        TRAIN_SECONDS (cap of one training invocation), WORKERS (1), EVAL_EPISODES (100),
#        LEVELS (L1,L2,L3), PERTURB (extra "--perturb NAME ..." for vima-eval online, e.g.
#        "--perturb noop --perturb shuffle_objects"; without --perturb the run is noop alone),
#        TRAIN_SET (extra "--set KEY=VALUE ..." for vima-train fit), NICE (10)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-out/t1-visual-manipulation}"
EPISODES="${EPISODES:-1000}"
PRESET="${PRESET:-t1-match}"
NAME="${NAME:-$PRESET}"
STEPS="${STEPS:-3000}"
TRAIN_SECONDS="${TRAIN_SECONDS:-2700}"
WORKERS="${WORKERS:-1}"
EVAL_EPISODES="${EVAL_EPISODES:-100}"
LEVELS="${LEVELS:-L1,L2,L3}"
NICE="${NICE:-10}"
# shellcheck source=scripts/experiments/lib.sh
source scripts/experiments/lib.sh

mkdir -p "$OUT"
stamp "generate $EPISODES oracle episodes (training partition, seeds 0..$((EPISODES - 1)))"
run vima-sim generate visual_manipulation --episodes "$EPISODES" --out "$OUT/raw" \
  --workers "$WORKERS" --seed 0 >/dev/null

stamp "parse, build, tokenize (stale shards only)"
prepare_dataset "$OUT" 50

RUN="$OUT/run-$NAME"
stamp "train $NAME ($PRESET) for $STEPS steps (at most $TRAIN_SECONDS s this invocation)"
# shellcheck disable=SC2086
train_capped "$RUN" "$OUT/train-$NAME.log" "$OUT/dataset" --preset "$PRESET" --max-steps "$STEPS" \
  --wandb offline --set data.cache_dir="$OUT/cache" --set train.checkpoint_every_n_steps=250 \
  ${TRAIN_SET:-} || stamp "evaluating the last checkpoint of the capped run"
CKPT="$RUN/checkpoints/last.ckpt"
STEP="$(checkpoint_step "$CKPT")"

for level in ${LEVELS//,/ }; do
  stamp "evaluate $CKPT (step $STEP) online on $EVAL_EPISODES unseen $level scenes"
  # shellcheck disable=SC2086
  run vima-eval online "$CKPT" --tasks visual_manipulation --levels "$level" \
    --episodes "$EVAL_EPISODES" --workers "$WORKERS" --seed 2026 --resume --wandb disabled \
    --out "$OUT/online-$NAME-step$STEP-$level" --record 3 ${PERTURB:-} >/dev/null
done
stamp "done"
echo "$OUT"
