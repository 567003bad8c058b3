# Sourced by every batch script, whose first lines find it:
#   REPO="${REPO:-${SLURM_SUBMIT_DIR:-$(dirname "$0")/../..}}"
#   source "$REPO/scripts/slurm/common.sh"
# (under sbatch, $0 is SLURM's copy of the script, so the repository is the directory sbatch
# was called from unless REPO is exported). The workspace's commands run from the repository's
# locked environment (create it once on a login node with `uv sync --all-packages --frozen`);
# relative paths (data, logs) stay relative to the job's working directory (the submit
# directory, or sbatch --chdir).
set -euo pipefail
REPO="$(cd "$REPO" && pwd)"
export REPO  # jobs submitted from a job (eval-online's merge) find the repository too
VIMA=(uv run --project "$REPO" --frozen --all-packages --no-sync)
vima() { "${VIMA[@]}" "$@"; }
# One BLAS thread per process: the commands parallelise with their own workers.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
