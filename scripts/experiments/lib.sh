# Shared by the experiment scripts (sourced): quiet, nice'd uv runs, timestamps on stderr, and
# one capped, resumable training invocation. Expects NICE and TRAIN_SECONDS to be set.

run() { nice -n "$NICE" uv run --all-packages --quiet "$@"; }
stamp() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

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
