#!/usr/bin/env bash
# Issue 30 item 3: the one prepared command for a lent GPU machine (the `device` tool's `run`;
# 15 minutes of device time in all, so it runs once). The device image has torch, lightning,
# transformers, pyarrow and tokenizers but not pydantic; nothing can be fetched there, so the
# wheels and a tokenized dataset travel with the working tree. Here, before the call:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
#   ./scripts/quickstart.sh out/measure      # makes out/measure/dataset (tokenized samples)
#
# then run(command="bash scripts/gpu/measure_gpu.sh", carry=[".whl", "out/measure/dataset"],
# timeout_s=540). What it printed comes back as $OUT/bench-gpu.txt: copy it to
# docs/measurements/bench-gpu.txt (the `$ command` / `# date` header lines are in it).
set -uo pipefail
cd "$(dirname "$0")/../.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH="/tmp/site:$(ls -d "$PWD"/packages/*/src | paste -sd:)" PYTHONUNBUFFERED=1
record="${OUT:-/tmp}/bench-gpu.txt"
command=(python3 packages/vima-train/bench/bench_gpu.py out/measure/dataset --device cuda
         --presets vima-200m cogelot-xattn-obj-original --dtypes fp32 bf16 --batches 16 32
         --steps 10 --loader-workers 8)
{
  echo "\$ ${command[*]}"
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/# /'
} >"$record"
timeout 480 "${command[@]}" >>"$record" 2>"${OUT:-/tmp}/bench-gpu.err"
status=$?
cat "$record"
exit $status
