"""vima-train on an accelerator (issue 30 item 3): training-step time, samples/s and peak device
memory per preset, precision and batch size, and the loader's samples/s with N workers.

    python packages/vima-train/bench/bench_gpu.py DATASET [--device cuda] \\
        [--presets vima-200m cogelot-xattn-obj-original] [--dtypes fp32 bf16] \\
        [--batches 16 32] [--steps 10] [--loader-workers 8]

DATASET is a tokenized dataset (the quick start's). A preset's pretrained T5 is built from its
known architecture with random weights (`offline_architecture`: the same network and compute, no
download; the device machine reaches no hub). A step is the training's: forward, `loss_of`,
backward, clipping by norm 1, AdamW (`module.adamw`: fused in fp32; bf16 runs the forward and the
loss under `torch.autocast(bfloat16)`, as Lightning's bf16-mixed does). Steps are timed after
two untimed ones, with the device synchronised; peak memory is `torch.cuda.max_memory_allocated`
from a reset after the model is built. One JSON line per measurement goes to stdout. With
`--device cpu` it runs anywhere (a smoke test of the script, not a GPU figure).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_train beside this file
from bench_train import bench_loader, source_rows, write_corpus
from vima_train.config import load_preset
from vima_train.data import collate, row_arrays
from vima_train.metrics import loss_of
from vima_train.model.prompt import offline_architecture
from vima_train.module import adamw
from vima_train.policies import build_policy


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_figures(
    preset: str, rows: list[dict[str, Any]], vocab: int, device: torch.device, dtype: str,
    batch: int, steps: int,
) -> dict[str, Any]:  # fmt: skip
    """Timed training steps of `preset` at `dtype` and `batch` on `device`."""
    config = load_preset(preset).model
    config = config.model_copy(
        update={"prompt_encoder": offline_architecture(config.prompt_encoder)}
    )
    torch.manual_seed(0)
    policy = build_policy(config, vocab).to(device).train()
    visual = config.visual.kind
    data = collate([row_arrays(rows[i % len(rows)]) for i in range(batch)],
                   crops=visual == "objects", frames=visual == "patches").to(device)  # fmt: skip
    precision = "32-true" if dtype == "fp32" else "bf16-mixed"
    optimizer = adamw([p for p in policy.parameters() if p.requires_grad], 1e-4, 0.0, precision)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> float:
        with torch.autocast(device.type, torch.bfloat16, enabled=dtype == "bf16"):
            loss = loss_of(policy(data), policy.targets(data))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        return float(loss.detach())

    losses, times = [], []
    for number in range(steps + 2):  # two untimed steps: allocations, kernels chosen
        synchronize(device)
        start = time.perf_counter()
        losses.append(step())
        synchronize(device)
        if number >= 2:
            times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1000
    return {
        "preset": preset, "dtype": dtype, "batch": batch, "device": str(device),
        "parameters_M": round(sum(p.numel() for p in policy.parameters()) / 1e6, 2),
        "ms_per_step": round(ms, 1), "samples_per_s": round(batch * 1000 / ms, 1),
        "peak_memory_GiB": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        if device.type == "cuda" else None,
        "losses": [round(x, 4) for x in losses], "timed_steps": len(times),
    }  # fmt: skip


def main() -> None:
    """Every (preset, dtype, batch), then the loader; JSON lines on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--presets", nargs="+", default=["vima-200m", "cogelot-xattn-obj-original"])
    parser.add_argument("--dtypes", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--loader-workers", type=int, default=8)
    parser.add_argument("--loader-episodes", type=int, default=2000)
    args = parser.parse_args()
    device = torch.device(args.device)
    rows, settings = source_rows(args.dataset)
    from vima_tokenize.text import load_tokenizer

    vocab = load_tokenizer(None).get_vocab_size()
    header = {"torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        header["name"] = torch.cuda.get_device_name(device)
    print(json.dumps(header), flush=True)
    for preset in args.presets:
        for dtype in args.dtypes:
            for batch in args.batches:
                try:
                    line = step_figures(preset, rows, vocab, device, dtype, batch, args.steps)
                except torch.OutOfMemoryError as error:
                    line = {"preset": preset, "dtype": dtype, "batch": batch, "oom": str(error)}
                print(json.dumps(line), flush=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    with tempfile.TemporaryDirectory() as folder:
        corpus = write_corpus(rows, settings, Path(folder) / "corpus", args.loader_episodes)
        torch.set_num_threads(1)
        loader = bench_loader(corpus, Path(folder) / "cache", 8, [args.loader_workers])
        print(json.dumps({"loader": loader}), flush=True)


if __name__ == "__main__":
    main()
