#!/usr/bin/env bash
# scripts/reference/setup.sh vima|cogelot CHECKOUT [VENV]
#
# Makes the separate interpreter that runs a published policy's own code (VIMA's `vima` package,
# or CoGeLoT's `cogelot`) for the reference fixtures (scripts/reference/make_fixture.py). Their
# code imports names that transformers moved after 4.44 (`modeling_t5.checkpoint`,
# `assert_device_map`), so it cannot run in the project's environment (transformers 5): it gets its
# own venv, made with uv: Python 3.11, the project's torch version (so uv reuses its cached
# wheel), transformers 4.44.2 and the modules the package imports. The checkout is put on the
# venv's path with a .pth file. Rerunning it is cheap. Progress goes to stderr; the last stdout
# line is the interpreter. Exit 2 on bad arguments or a checkout without the package.
set -euo pipefail
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 vima|cogelot CHECKOUT [VENV]" >&2
  exit 2
fi
family=$1
checkout=$(cd "$2" 2>/dev/null && pwd) || { echo "setup.sh: $2: no such folder" >&2; exit 2; }
case $family in
  vima) root=$checkout; package=vima ;;
  cogelot) root=$checkout/src; package=cogelot ;;
  *) echo "setup.sh: unknown family $family (vima or cogelot)" >&2; exit 2 ;;
esac
if [[ ! -f "$root/$package/__init__.py" ]]; then
  echo "setup.sh: $checkout: no $package package in $root" >&2
  exit 2
fi
venv=${3:-$checkout/.venv-reference}
torch_version=$(cd "$(dirname "$0")/../.." && uv run --no-sync python -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || echo 2.15.0)

echo "setup.sh: $package from $root, venv $venv (torch $torch_version, transformers 4.44.2)" >&2
uv venv --quiet --allow-existing --python 3.11 "$venv" >&2
python=$venv/bin/python
uv pip install --quiet --python "$python" \
  "torch==$torch_version" "transformers==4.44.2" "numpy>=1.24,<2" tokenizers einops kornia \
  dm-tree sentencepiece opencv-python-headless omegaconf >&2
if [[ $family == cogelot ]]; then
  # what `cogelot.models` imports (its Hydra config, Lightning module, structures and the
  # vendored VIMA-Bench), at versions that still work with numpy < 2 and transformers 4.44
  uv pip install --quiet --python "$python" hydra-core pytorch-lightning torchmetrics \
    "datasets<4" "huggingface-hub<1" "pyarrow<16" "polars<1" pydantic pandas loguru rich \
    matplotlib more-itertools "gym==0.26.2" pybullet transforms3d wandb >&2
fi
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n' "$root" >"$site/reference_checkout.pth"
"$python" -c "import transformers; print('setup.sh: transformers', transformers.__version__)" >&2
echo "$python"
