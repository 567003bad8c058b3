#!/usr/bin/env bash
# Issue 28, VIMA-Bench in miniature: one policy for the 13 L1-L3 tasks from vima-sim oracle
# episodes -> convert -> tokenize -> train -> online evaluation in vima-sim on L1, L2, L3 and
# zero-shot on L4's four tasks, and in the real VIMA-Bench on the same episode seeds when
# VIMA_BENCH_PYTHON is set -> reports beside VIMA-200M's published row and between the two
# simulators. same_shape and same_texture use upstream VIMA-Bench's unscaled bases
# (SAME_SHAPE_BASES), as the benchmark VIMA-200M's row was measured on, in the data and in
# vima-sim's evaluation (docs/SIMULATOR.md).
# Resumable at every stage (stop it any time; the same command continues): generation skips
# written episodes, parse/build/tokenize redo only stale shards, training resumes from the run's
# last checkpoint and trains at most TRAIN_SECONDS per invocation (a capped run ends the script
# there: rerun it), a finished training is not restarted, evaluation resumes its finished
# episodes (folders per checkpoint step), reports are redone. Budget, commands, results:
# docs/EXPERIMENTS.md ("Thirteen tasks, one policy").
#
# Usage: scripts/experiments/thirteen_tasks.sh [OUT] [STAGE...]
#   STAGE: data, train, eval, report (default: all four, in that order); budget (not in the
#          default: times generation per task, dataset preparation, training steps and online
#          episodes on BUDGET_EPISODES per task in OUT/budget; writes OUT/budget/budget.jsonl)
#   env: EPISODES (per task, 1000), EPISODES_<task> (one task's count, e.g.
#        EPISODES_rearrange_then_restore=1500), VALID_SIZE (validation episodes, 130),
#        SAME_SHAPE_BASES (upstream), PRESET (t1-match), NAME (run name, PRESET), STEPS (12000),
#        BATCH_SIZE (the preset's), TRAIN_SECONDS (cap of one training invocation, 10800),
#        TRAIN_SET (extra "--set K=V ..." for vima-train fit), WANDB (offline), WORKERS (1),
#        NICE (10), EVAL_EPISODES (per task and level, 100), EVAL_LEVELS (L1,L2,L3,L4), RECORD
#        (episodes kept for `vima-eval view` per pair, 2), VIMA_BENCH_PYTHON (the interpreter
#        scripts/vima-bench/setup.sh makes for an upstream checkout; unset: no VIMA-Bench
#        evaluation), VB_EPISODES (50), VB_LEVELS (EVAL_LEVELS), BUDGET_EPISODES (10),
#        SMOKE=1 (every stage in minutes: 2 episodes per task, batches of 4, 20 steps, 1 episode
#        per pair and level; OUT defaults to out/thirteen-tasks-smoke)
set -euo pipefail
cd "$(dirname "$0")/../.."
SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == 1 ]]; then
  : "${EPISODES:=2}" "${VALID_SIZE:=13}" "${STEPS:=20}" "${EVAL_EPISODES:=1}" "${VB_EPISODES:=1}"
  : "${RECORD:=0}" "${WANDB:=disabled}" "${BUDGET_EPISODES:=2}" "${BATCH_SIZE:=4}"
fi
OUT="${1:-out/thirteen-tasks$([[ "$SMOKE" == 1 ]] && echo -smoke)}"
shift || true
STAGES="${*:-data train eval report}"
TASKS="visual_manipulation scene_understanding rotate rearrange rearrange_then_restore"
TASKS+=" novel_adj novel_noun twist follow_order sweep_without_exceeding same_shape"
TASKS+=" manipulate_old_neighbor pick_in_order_then_restore"
N_TASKS=13
L4_TASKS="novel_adj_and_noun follow_motion sweep_without_touching same_texture"
EPISODES="${EPISODES:-1000}"
VALID_SIZE="${VALID_SIZE:-130}"
SAME_SHAPE_BASES="${SAME_SHAPE_BASES:-upstream}"
PRESET="${PRESET:-t1-match}"
NAME="${NAME:-$PRESET}"
STEPS="${STEPS:-12000}"
TRAIN_SECONDS="${TRAIN_SECONDS:-10800}"
WANDB="${WANDB:-offline}"
WORKERS="${WORKERS:-1}"
NICE="${NICE:-10}"
EVAL_EPISODES="${EVAL_EPISODES:-100}"
EVAL_LEVELS="${EVAL_LEVELS:-L1,L2,L3,L4}"
RECORD="${RECORD:-2}"
VB_EPISODES="${VB_EPISODES:-50}"
VB_LEVELS="${VB_LEVELS:-$EVAL_LEVELS}"
BUDGET_EPISODES="${BUDGET_EPISODES:-10}"
# shellcheck source=scripts/experiments/lib.sh
source scripts/experiments/lib.sh
mkdir -p "$OUT"
RUN="$OUT/run-$NAME"
CKPT="$RUN/checkpoints/last.ckpt"

task_episodes() {  # TASK: its episode count (EPISODES_<task>, else EPISODES)
  local var="EPISODES_$1"
  echo "${!var:-$EPISODES}"
}

generate() {  # ROOT TASK EPISODES: oracle episodes of one task (written ones are skipped)
  run vima-sim generate "$2" --episodes "$3" --out "$1/raw" --workers "$WORKERS" --seed 0 \
    --same-shape-bases "$SAME_SHAPE_BASES" >/dev/null
}

fit() {  # RUN DATASET STEPS [vima-train fit arguments...]: train_capped with the script's settings
  local run_dir="$1" dataset="$2" steps="$3" batch=()
  shift 3
  [[ -n "${BATCH_SIZE:-}" ]] && batch=(--batch-size "$BATCH_SIZE")
  # shellcheck disable=SC2086
  train_capped "$run_dir" "$run_dir.log" "$dataset" --preset "$PRESET" --max-steps "$steps" \
    --wandb "$WANDB" --set data.cache_dir="$(dirname "$run_dir")/cache" \
    --set train.checkpoint_every_n_steps=250 "${batch[@]}" "$@" ${TRAIN_SET:-}
}

online() {  # OUTDIR LEVELS START EPISODES [vima-eval online arguments...]: resumable evaluation
  local out="$1" levels="$2" start="$3" episodes="$4" tasks="$TASKS $L4_TASKS"
  shift 4
  run vima-eval online "$CKPT" --tasks "${tasks// /,}" --levels "$levels" --start "$start" \
    --episodes "$episodes" --workers "$WORKERS" --seed 2026 --resume --wandb disabled \
    --out "$out" "$@" >/dev/null
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f", b - a }'; }  # T0 [T1]: seconds
record() {  # JSON line of one budget measurement: WHAT SUBJECT COUNT SECONDS STARTUP_SECONDS
  printf '{"what": "%s", "subject": "%s", "count": %d, "seconds": %.2f, "startup_s": %.2f, "load": "%s"}\n' \
    "$1" "$2" "$3" "$4" "$5" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/budget/budget.jsonl"
}

budget() {  # the budget stage: every cost of a full run, measured small in OUT/budget
  local root="$OUT/budget" task t0 t1 t2 small=10 large=60
  local online=$((BUDGET_EPISODES < 4 ? BUDGET_EPISODES : 4))  # episodes per L1 task
  rm -rf "$root" && mkdir -p "$root"
  printf '{"what": "plan", "episodes_per_task": %d, "tasks": %d, "steps": %d, "preset": "%s", "eval_episodes": %d, "eval_levels": "%s", "vb_episodes": %d, "workers": %d, "nice": %d}\n' \
    "$EPISODES" "$N_TASKS" "$STEPS" "$PRESET" "$EVAL_EPISODES" "$EVAL_LEVELS" \
    "$VB_EPISODES" "$WORKERS" "$NICE" >"$root/budget.jsonl"
  for task in $TASKS; do  # the second call has nothing left to write: its time is the start-up
    t0=$(now); generate "$root" "$task" "$BUDGET_EPISODES"; t1=$(now)
    generate "$root" "$task" "$BUDGET_EPISODES"; t2=$(now)
    record generate "$task" "$BUDGET_EPISODES" "$(since "$t0" "$t1")" "$(since "$t1" "$t2")"
    stamp "budget: $task $(since "$t0" "$t1") s for $BUDGET_EPISODES episodes"
  done
  t0=$(now); prepare_dataset "$root" "$N_TASKS"; t1=$(now)
  record prepare_dataset all "$((BUDGET_EPISODES * N_TASKS))" "$(since "$t0" "$t1")" 0
  for steps in $small $large; do  # the difference is the time of large - small steps
    t0=$(now)
    fit "$root/run-$steps" "$root/dataset" "$steps" --set train.run_validation=false \
      --set train.checkpoint_every_n_steps=100000 --wandb disabled
    record train "$PRESET" "$steps" "$(since "$t0")" 0
  done
  CKPT="$root/run-$large/checkpoints/last.ckpt"
  t0=$(now)
  online "$root/online" L1 0 "$online" --same-shape-bases "$SAME_SHAPE_BASES"
  record online-vima-sim L1 "$((online * N_TASKS))" "$(since "$t0")" 0
  stamp "budget: $root/budget.jsonl"
}

if has data; then
  for task in $TASKS; do
    stamp "generate $(task_episodes "$task") oracle episodes of $task (same_shape bases: $SAME_SHAPE_BASES)"
    generate "$OUT" "$task" "$(task_episodes "$task")"
  done
  stamp "parse, build, tokenize (stale shards only)"
  prepare_dataset "$OUT" "$VALID_SIZE"
fi

if has train; then
  done_steps="$(checkpoint_step "$CKPT")"
  if [[ -n "$done_steps" && "$done_steps" -ge "$STEPS" ]]; then
    stamp "training done: $CKPT is at step $done_steps of $STEPS"
  else
    stamp "train $NAME ($PRESET) for $STEPS steps (at most $TRAIN_SECONDS s this invocation)"
    fit "$RUN" "$OUT/dataset" "$STEPS" || { stamp "rerun to continue training"; exit 0; }
  fi
fi

# vima-sim's episodes 0..PAIRED-1 (the ones VIMA-Bench runs too) and the rest are two result
# folders: vima-eval report pairs two runs' cells (exact McNemar) only on equal episode sets.
PAIRED=$((VB_EPISODES < EVAL_EPISODES ? VB_EPISODES : EVAL_EPISODES))
STEP="$(checkpoint_step "$CKPT")"
EVAL="$OUT/eval-$NAME-step${STEP:-none}"
SIM_HEAD="$EVAL/vima-sim-e0-$((PAIRED - 1))"
SIM_TAIL="$EVAL/vima-sim-e$PAIRED-$((EVAL_EPISODES - 1))"
VB="$EVAL/vima-bench-e0-$((VB_EPISODES - 1))"
if has eval; then
  [[ -n "$STEP" ]] || { stamp "no checkpoint at $CKPT: run the train stage first"; exit 2; }
  stamp "vima-sim $EVAL_LEVELS: step $STEP, $EVAL_EPISODES episodes per task and level"
  online "$SIM_HEAD" "$EVAL_LEVELS" 0 "$PAIRED" --record "$RECORD" \
    --same-shape-bases "$SAME_SHAPE_BASES"
  if [[ $PAIRED -lt $EVAL_EPISODES ]]; then
    online "$SIM_TAIL" "$EVAL_LEVELS" "$PAIRED" "$((EVAL_EPISODES - PAIRED))" \
      --same-shape-bases "$SAME_SHAPE_BASES"
  fi
  if [[ -n "${VIMA_BENCH_PYTHON:-}" ]]; then
    stamp "VIMA-Bench $VB_LEVELS ($VIMA_BENCH_PYTHON): $VB_EPISODES episodes per task, same seeds"
    online "$VB" "$VB_LEVELS" 0 "$VB_EPISODES" --record "$RECORD" --env vima-bench \
      --env-python "$VIMA_BENCH_PYTHON"
  else
    stamp "VIMA_BENCH_PYTHON is not set: no evaluation in the real VIMA-Bench"
  fi
fi

if has report; then
  [[ -d "$SIM_HEAD" ]] || { stamp "nothing evaluated in $EVAL yet"; exit 2; }
  sim=("$SIM_HEAD")
  [[ -d "$SIM_TAIL" && $PAIRED -lt $EVAL_EPISODES ]] && sim+=("$SIM_TAIL")
  stamp "report: vima-sim beside VIMA-200M's published row -> $EVAL/report-vima-sim"
  run vima-eval report "${sim[@]}" --baseline vima-200m --out "$EVAL/report-vima-sim" >/dev/null
  if [[ -d "$VB" ]]; then
    stamp "report: VIMA-Bench beside VIMA-200M -> $EVAL/report-vima-bench"
    run vima-eval report "$VB" --baseline vima-200m --out "$EVAL/report-vima-bench" >/dev/null
    stamp "report: VIMA-Bench minus vima-sim on the same seeds -> $EVAL/report-simulators"
    run vima-eval report "$VB" --baseline "$SIM_HEAD" --out "$EVAL/report-simulators" >/dev/null
  fi
fi

if has budget; then
  budget
fi
stamp "done"
echo "$OUT"
