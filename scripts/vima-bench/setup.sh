#!/usr/bin/env bash
# scripts/vima-bench/setup.sh CHECKOUT [VENV]
#
# Makes the separate interpreter that `vima-eval online|oracle --env vima-bench` runs VIMA-Bench
# in, for a VIMA-Bench checkout: upstream VIMA-Bench (CHECKOUT/vima_bench) or CoGeLoT's vendored
# copy (CHECKOUT/src/vima_bench). VIMA-Bench needs gym 0.26 and numpy < 2, which cannot live in
# the project's environment, so it gets its own venv (default CHECKOUT/.venv-vima-bench), made
# with uv: Python 3.11, pybullet 3.2.7, gym 0.26.2, numpy < 2 and the modules vima_bench imports
# (cv2, kornia/torch, matplotlib, transforms3d, omegaconf, importlib_resources, einops, dm-tree,
# loguru). The checkout is put on the venv's path with a .pth file, so no PYTHONPATH is needed.
# Rerunning it is cheap (uv skips what is installed). Progress goes to stderr; the last stdout
# line is the interpreter to pass as --env-python (and as VIMA_BENCH_PYTHON to the opt-in test
# tests/eval/test_eval_vima_bench_real.py). VIMA_BENCH_PYTHON_VERSION picks the venv's Python
# (default 3.11). Exit 2 when CHECKOUT holds no vima_bench.
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 CHECKOUT [VENV]" >&2
  exit 2
fi
checkout=$(cd "$1" 2>/dev/null && pwd) || { echo "setup.sh: $1: no such folder" >&2; exit 2; }
if [[ -f "$checkout/vima_bench/__init__.py" ]]; then
  root=$checkout
elif [[ -f "$checkout/src/vima_bench/__init__.py" ]]; then
  root=$checkout/src
else
  echo "setup.sh: $checkout: no vima_bench package (looked in vima_bench/ and src/vima_bench/)" >&2
  exit 2
fi
venv=${2:-$checkout/.venv-vima-bench}
python_version=${VIMA_BENCH_PYTHON_VERSION:-3.11}

echo "setup.sh: vima_bench from $root, venv $venv (Python $python_version)" >&2
uv venv --quiet --allow-existing --python "$python_version" "$venv" >&2
python=$venv/bin/python
uv pip install --quiet --python "$python" \
  "pybullet==3.2.7" "gym==0.26.2" "numpy>=1.24,<2" \
  opencv-python-headless kornia torch matplotlib transforms3d omegaconf importlib_resources \
  einops dm-tree loguru hydra-core tqdm >&2  # hydra-core, tqdm: its scripts/data_generation (bench_sim.py)
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n' "$root" >"$site/vima_bench_checkout.pth"
# Check the install: importing vima_bench loads every task module.
"$python" - >&2 <<'PY'
import vima_bench

layout = "PARTITION_TO_SPECS" if hasattr(vima_bench, "PARTITION_TO_SPECS") else "get_partition_to_specs()"
print(f"setup.sh: vima_bench {vima_bench.__file__} imports ({len(vima_bench.ALL_TASKS)} tasks, {layout})")
PY
echo "$python"
