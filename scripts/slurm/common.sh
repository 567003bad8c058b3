# Sourced by every batch script: run the workspace's commands from the repository's locked
# environment (create it once on a login node with `uv sync --all-packages --frozen`).
set -euo pipefail
REPO="${REPO:-${SLURM_SUBMIT_DIR:-$PWD}}"
cd "$REPO"
vima() { uv run --frozen --all-packages --no-sync "$@"; }
# One BLAS thread per process: the commands parallelise with their own workers.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
