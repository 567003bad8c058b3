# Shared by the experiment scripts (sourced): quiet, nice'd uv runs, timestamps on stderr, the
# stage selection, the dataset preparation, and one capped, resumable training invocation.
# Expects NICE (and WORKERS for prepare_dataset, TRAIN_SECONDS for train_capped, STAGES for has).

run() { nice -n "$NICE" uv run --all-packages --quiet "$@"; }
stamp() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# has STAGE: whether STAGE is one of the space-separated STAGES asked for.
has() { [[ " $STAGES " == *" $1 "* ]]; }

# prepare_dataset OUT VALID_SIZE [reworded]: the vima-sim episodes of OUT/raw -> OUT/parsed ->
# OUT/dataset (VALID_SIZE validation episodes over all tasks) -> tokenized; with `reworded`, the
# reworded variant too (vima-convert reword, seed 0), tokenized. Every step redoes only stale
# shards, so a rerun after more episodes were generated costs little.
prepare_dataset() {
  local out="$1" valid="$2" reworded="${3:-}"
  run vima-convert parse "$out/raw" --out "$out/parsed" --workers "$WORKERS" >/dev/null
  run vima-convert build "$out/parsed" --out "$out/dataset" --valid-size "$valid" >/dev/null
  if [[ -n "$reworded" ]]; then
    run vima-convert reword "$out/dataset" --seed 0 >/dev/null
  fi
  run vima-tokenize "$out/dataset" --workers "$WORKERS" >/dev/null
  if [[ -n "$reworded" ]]; then
    run vima-tokenize "$out/dataset" --variant reworded --workers "$WORKERS" >/dev/null
  fi
}

# checkpoint_step CKPT: the optimiser step a checkpoint was written at (nothing when absent).
checkpoint_step() {
  [[ -f "$1" ]] && run vima-train inspect "$1" 2>/dev/null | sed -n 's/^global_step: //p'
  return 0
}

# train_capped RUN LOG [vima-train fit arguments...]: resumes RUN from its last checkpoint when
# there is one and trains for at most TRAIN_SECONDS this invocation (a rerun continues). Returns
# 0 when training finished, 124 when it reached the cap; exits 3 when it failed.
train_capped() {
  local run_dir="$1" log="$2" resume=() status=0
  shift 2
  if [[ -f "$run_dir/checkpoints/last.ckpt" ]]; then
    resume=(--resume "$run_dir/checkpoints/last.ckpt")
    stamp "resume training from $run_dir/checkpoints/last.ckpt"
  fi
  timeout --signal=TERM "$TRAIN_SECONDS" nice -n "$NICE" uv run --all-packages --quiet \
    vima-train fit "$@" --out "$run_dir" --max-epochs 100000 "${resume[@]}" >>"$log" 2>&1 \
    || status=$?
  if [[ $status -eq 124 ]]; then
    stamp "training stopped at the $TRAIN_SECONDS s cap (rerun to resume)"
    return 124
  elif [[ $status -ne 0 ]]; then
    stamp "training failed with status $status (see $log)"
    exit 3
  fi
}
