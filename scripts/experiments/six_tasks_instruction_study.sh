#!/usr/bin/env bash
# Issue 17's six-task policy and the paper's instruction question in miniature, resumable at
# every stage (stop it any time; the same command continues): oracle episodes of six tasks from
# vima-sim (generation skips episodes already written) -> convert -> reworded variant ->
# tokenize (stale shards only) -> two policies, one on original prompts and one with reworded
# prompts mixed in (training resumes from each run's last checkpoint) -> online evaluation of
# both on L1, L2, L3 (100 scenes per pair), and on identical L1 scenes (50 per task) under six
# instruction perturbations (evaluation resumes) -> one report with paired (McNemar) differences.
# Budget: about 1 CPU-second per simulated episode; plan it across sessions.
#
# Usage: scripts/experiments/six_tasks_instruction_study.sh [OUT] [STAGE...]
#   STAGE: data, train, eval, study, report (default: all, in that order)
#   env: EPISODES (per task, 1000), PRESET (t1-match), STEPS (4000), TRAIN_SECONDS (cap of
#        one training invocation, 36000), WORKERS (1), NICE (10), POLICIES (which of
#        "original paraphrased" to train and evaluate), TRAIN_SET (extra "--set KEY=VALUE ..."
#        for vima-train fit, e.g. "--set model.shuffle_objects=true"), EVAL_LEVELS (L1,L2,L3),
#        PERTURBATIONS (the study's)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-out/six-tasks}"
shift || true
STAGES="${*:-data train eval study report}"
TASKS="visual_manipulation rotate novel_noun follow_order same_shape manipulate_old_neighbor"
TASK_LIST="${TASKS// /,}"
EPISODES="${EPISODES:-1000}"
PRESET="${PRESET:-t1-match}"
STEPS="${STEPS:-4000}"
TRAIN_SECONDS="${TRAIN_SECONDS:-36000}"
WORKERS="${WORKERS:-1}"
NICE="${NICE:-10}"
POLICIES="${POLICIES:-original paraphrased}"
EVAL_LEVELS="${EVAL_LEVELS:-L1,L2,L3}"
PERTURBATIONS="${PERTURBATIONS:-noop reworded gobbledygook_word gobbledygook_tokens textual mask_text shuffle_objects}"
# shellcheck source=scripts/experiments/lib.sh
source scripts/experiments/lib.sh
mkdir -p "$OUT"

if has data; then
  stamp "generate $EPISODES oracle episodes per task: $TASKS"
  # shellcheck disable=SC2086
  run vima-sim generate $TASKS --episodes "$EPISODES" --out "$OUT/raw" --workers "$WORKERS" \
    --seed 0 >/dev/null
  stamp "parse, build, reword, tokenize (original and reworded)"
  prepare_dataset "$OUT" 50 reworded
fi

train() {  # NAME VARIANTS
  stamp "train $1 ($PRESET, variants $2, $STEPS steps)"
  # shellcheck disable=SC2086
  train_capped "$OUT/run-$1" "$OUT/train-$1.log" "$OUT/dataset" --preset "$PRESET" \
    --max-steps "$STEPS" --set "data.variants=$2" --set data.cache_dir="$OUT/cache" \
    --set train.checkpoint_every_n_steps=250 ${TRAIN_SET:-}
}
if has train; then
  for name in $POLICIES; do
    case "$name" in
      original) train original "[original]" ;;
      paraphrased) train paraphrased "[original,reworded]" ;;
    esac
  done
fi

online() {  # NAME OUTDIR LEVELS EPISODES [--perturb P]...
  local name="$1" out="$2" levels="$3" episodes="$4"
  shift 4
  run vima-eval online "$OUT/run-$name/checkpoints/last.ckpt" --tasks "$TASK_LIST" \
    --levels "$levels" --episodes "$episodes" --workers "$WORKERS" --seed 2026 --resume \
    --wandb disabled --out "$out" "$@" >/dev/null
}
if has eval; then
  for name in $POLICIES; do
    for level in ${EVAL_LEVELS//,/ }; do
      stamp "evaluate $name on $level (100 scenes per task)"
      online "$name" "$OUT/online-$name-$level" "$level" 100
    done
  done
fi
if has study; then
  perturb=()
  for p in $PERTURBATIONS; do perturb+=(--perturb "$p"); done
  for name in $POLICIES; do
    stamp "instruction study: $name under $PERTURBATIONS (identical L1 scenes, 50 per task)"
    online "$name" "$OUT/study-$name" L1 50 "${perturb[@]}"
  done
fi
if has report; then
  stamp "report: every perturbation against noop on the same scenes (paired, McNemar)"
  results=()
  for name in $POLICIES; do
    for folder in "$OUT/study-$name" "$OUT/online-$name"-L?; do
      [[ -d "$folder" ]] && results+=("$folder")
    done
  done
  first="${POLICIES%% *}"
  run vima-eval report "${results[@]}" --baseline "$OUT/study-$first" \
    --baseline-perturbation noop --out "$OUT/report" >/dev/null
fi
stamp "done"
echo "$OUT"
