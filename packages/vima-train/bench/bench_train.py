"""vima-train benchmark: data loader throughput, collation, CPU training steps.

    uv run --all-packages python packages/vima-train/bench/bench_train.py DATASET [--out DIR]

DATASET is a tokenized dataset (e.g. the quickstart's out/dataset). The loader corpus holds
`--episodes` (default 2,000) tokenized episodes: the dataset's tokenized rows replicated with
new indices into parquet shards written like vima-tokenize's, then read through the
memory-mapped Arrow cache as in training. Training steps run on a batch of real tokenized
sample episodes, fp32, `--threads` torch threads. Figures go to stdout.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader
from vima_schema.dataset_layout import PARQUET_OPTIONS, PREPROCESSED, list_shards
from vima_tokenize.pipeline import SETTINGS_KEY
from vima_tokenize.preprocessed import hf_schema
from vima_train.config import load_preset
from vima_train.data import collate, row_arrays
from vima_train.data.datamodule import Episodes
from vima_train.data.sampler import EpisodeBatchSampler
from vima_train.data.store import open_store
from vima_train.metrics import loss_of
from vima_train.model import Policy

ROWS_PER_SHARD = 250


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS of this process and of its largest finished child, MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of running processes (DataLoader workers)."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def source_rows(dataset: Path) -> tuple[list[dict[str, Any]], bytes]:
    """Every tokenized row of the original variant and the shards' settings metadata."""
    rows: list[dict[str, Any]] = []
    settings = b""
    for shard in list_shards(dataset, "original", PREPROCESSED):
        table = pq.read_table(shard.path)
        settings = (table.schema.metadata or {}).get(SETTINGS_KEY, settings)
        rows += table.to_pylist()
    if not rows:
        raise SystemExit(f"{dataset}: no original--preprocessed configs (run vima-tokenize)")
    return rows, settings


def write_corpus(rows: list[dict[str, Any]], settings: bytes, root: Path, count: int) -> Path:
    """`count` episodes replicated from `rows` into `root/original/preprocessed/<task>/`."""
    schema = hf_schema().with_metadata({**(hf_schema().metadata or {}), SETTINGS_KEY: settings})
    by_task: dict[int, list[dict[str, Any]]] = {}
    for number in range(count):
        row = dict(rows[number % len(rows)])
        row["index"] = number
        by_task.setdefault(row["task"], []).append(row)
    from vima_schema.enums import TASK_NAMES

    for task, task_rows in by_task.items():
        folder = root / "original" / PREPROCESSED / TASK_NAMES[task]
        folder.mkdir(parents=True, exist_ok=True)
        shards = max(1, -(-len(task_rows) // ROWS_PER_SHARD))
        for i in range(shards):
            part = task_rows[i * ROWS_PER_SHARD : (i + 1) * ROWS_PER_SHARD]
            pq.write_table(
                pa.Table.from_pylist(part, schema=schema),
                folder / f"train-{i:05d}-of-{shards:05d}.parquet",
                row_group_size=64,
                **PARQUET_OPTIONS,
            )
    return root


def bench_loader(root: Path, cache: Path, batch: int, workers_list: list[int]) -> dict[str, Any]:
    """Cache build time, then samples/s of read + arrays + collate per worker count."""
    shards = list_shards(root, "original", PREPROCESSED)
    start = time.perf_counter()
    store = open_store(shards, ["original"], cache)
    build_s = time.perf_counter() - start
    cache_bytes = sum(p.stat().st_size for p in cache.glob("*.arrow"))
    parquet_bytes = sum(s.path.stat().st_size for s in shards)
    for path in cache.glob("*.arrow"):  # page cache warm: the figures below exclude disk reads
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass
    out: dict[str, Any] = {
        "episodes": len(store),
        "cache_build_s": round(build_s, 1),
        "parquet_MB": round(parquet_bytes / 1e6, 1),
        "arrow_cache_MB": round(cache_bytes / 1e6, 1),
    }
    for workers in workers_list:
        sampler = EpisodeBatchSampler(len(store), batch, seed=0)
        loader = DataLoader(
            Episodes(store),
            batch_sampler=sampler,
            collate_fn=functools.partial(collate, frames=False),
            num_workers=workers,
            prefetch_factor=4 if workers else None,
            persistent_workers=workers > 0,  # as the data module
        )
        for epoch, label in ((0, "first_epoch"), (1, "steady")):
            sampler.set_epoch(epoch)
            it = iter(loader)
            pids = [w.pid for w in getattr(it, "_workers", [])]
            start, seen = time.perf_counter(), 0
            cpu_start = time.process_time() + _cpu_of(pids)
            for got in it:
                seen += got.size
            seconds = time.perf_counter() - start
            cpu = time.process_time() + _cpu_of(pids) - cpu_start
            key = f"loader_{workers}_workers_{label}"
            out[f"{key}_samples_per_s"] = round(seen / seconds)
            # CPU seconds of the main process and the workers together: the rate with one
            # dedicated core per process, free of the shared machine's load
            out[f"{key}_samples_per_cpu_s"] = round(seen / cpu)
        del it, loader
        gc.collect()
    return out


def loader_rss(work: Path, workers: int, batch: int) -> dict[str, Any]:
    """Peak RSS (VmHWM) of a fresh process iterating one epoch of the cached corpus, and of
    its largest worker; run in a subprocess so nothing else inflates it."""
    code = f"""
import functools, json, sys, torch
from pathlib import Path
from torch.utils.data import DataLoader
from vima_schema.dataset_layout import list_shards
from vima_train.data import collate
from vima_train.data.datamodule import Episodes
from vima_train.data.sampler import EpisodeBatchSampler
from vima_train.data.store import open_store
torch.set_num_threads(1)
def status(pid, key):
    for line in Path(f"/proc/{{pid}}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) // 1024
def hwm(pid):
    return [status(pid, key) for key in ("VmHWM", "RssAnon", "RssFile")]
store = open_store(list_shards(Path({str(work / "corpus")!r}), "original", "preprocessed"),
                   ["original"], Path({str(work / "cache")!r}))
loader = DataLoader(Episodes(store), batch_sampler=EpisodeBatchSampler(len(store), {batch}),
                    collate_fn=functools.partial(collate, frames=False), num_workers={workers},
                    persistent_workers={workers} > 0)
it = iter(loader)
for _ in it:
    pass
workers = [hwm(w.pid) for w in getattr(it, "_workers", [])]
print(json.dumps({{"main": hwm("self"), "worker": max(workers, default=[0, 0, 0])}}))
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peaks = json.loads(done.stdout.strip().splitlines()[-1])
    # [peak RSS, anonymous RSS at the end, file-backed RSS (mapped cache pages) at the end]
    return {
        f"loader_{workers}_workers_rss_MB_main_peak_anon_file": peaks["main"],
        f"loader_{workers}_workers_rss_MB_worker_peak_anon_file": peaks["worker"],
    }


def bench_parquet_direct(root: Path, limit: int = 400) -> float:
    """Samples/s reading the zstd parquet directly (no cache): decode + arrays, no collate."""
    shards = list_shards(root, "original", PREPROCESSED)
    start, seen = time.perf_counter(), 0
    for shard in shards:
        for batch in pq.ParquetFile(shard.path).iter_batches(batch_size=64):
            for row in batch.to_pylist():
                row_arrays(row)
                seen += 1
            if seen >= limit:
                return seen / (time.perf_counter() - start)
    return seen / (time.perf_counter() - start)


def bench_collate(rows: list[dict[str, Any]], batch: int, repeats: int = 200) -> float:
    """Milliseconds per sample for collate alone (crops, as the object-centric model)."""
    arrays = [row_arrays(r) for r in rows]
    groups = [[arrays[(i + j) % len(arrays)] for j in range(batch)] for i in range(repeats)]
    start = time.perf_counter()
    for group in groups:
        collate(group, frames=False)
    return (time.perf_counter() - start) * 1000 / (repeats * batch)


def train_step(
    policy: torch.nn.Module, optimizer: torch.optim.Optimizer, data: Any
) -> torch.Tensor:
    """One fp32 training step of vima-train's policy: forward, loss (`loss_of`), backward,
    clipping by norm 1, the optimiser step; the loss, detached."""
    loss = loss_of(policy(data), policy.targets(data))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()
    return loss.detach()


def timed_steps(step: Any, steps: int) -> dict[str, list[float]]:
    """`steps` calls of `step()` (returns the loss): losses, wall and CPU seconds per step."""
    losses, wall, cpu = [], [], []
    for _ in range(steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = step()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        losses.append(float(loss))
    return {"losses": losses, "wall_s": wall, "cpu_s": cpu}


def bench_step(
    preset: str, rows: list[dict[str, Any]], batch: int, steps: int, vocab: int
) -> dict[str, Any]:
    """fp32 training step (forward, backward, clip, AdamW) on a batch of real episodes."""
    config = load_preset(preset).model
    torch.manual_seed(0)
    policy = Policy(config, vocab).train()
    parameters = sum(p.numel() for p in policy.parameters())
    visual = config.visual.kind
    data = collate(
        [row_arrays(rows[i % len(rows)]) for i in range(batch)],
        crops=visual == "objects",
        frames=visual == "patches",
    )
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    # the first step (allocations, lazy init) is not timed
    timed = timed_steps(lambda: train_step(policy, optimizer, data), steps + 1)
    times, cpu = timed["wall_s"][1:], timed["cpu_s"][1:]
    ms = statistics.median(times) * 1000
    return {
        "preset": preset,
        "parameters_M": round(parameters / 1e6, 2),
        "ms_per_step": round(ms, 1),
        "samples_per_s": round(batch * 1000 / ms, 2),
        "cpu_s_per_step": round(statistics.median(cpu), 2),
        "timed_steps": len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--presets", nargs="*", default=["tiny:20", "scratch-vima-20m:5",
                        "reference-37m:5", "scratch-vima-200m:1"])  # fmt: skip
    parser.add_argument("--out", type=Path, help="keep the corpus and cache here")
    parser.add_argument("--skip-loader", action="store_true", help="training steps only")
    args = parser.parse_args()
    rows, settings = source_rows(args.dataset)
    from vima_tokenize.text import load_tokenizer

    vocab = load_tokenizer(None).get_vocab_size()
    work = args.out or Path(tempfile.mkdtemp(prefix="vima-train-bench-"))
    report: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]}
    corpus = work / "corpus"
    if not args.skip_loader:
        if not corpus.exists():
            write_corpus(rows, settings, corpus, args.episodes)
        torch.set_num_threads(1)  # the loader figures: one thread per process
        report["loader"] = bench_loader(corpus, work / "cache", args.batch, args.workers)
        for workers in args.workers:
            report["loader"].update(loader_rss(work, workers, args.batch))
        report["parquet_direct_samples_per_s"] = round(bench_parquet_direct(corpus), 0)
        report["collate_ms_per_sample"] = round(bench_collate(rows, args.batch), 3)
        print(json.dumps(report, indent=2), flush=True)
    torch.set_num_threads(args.threads)
    for spec in args.presets:
        name, _, steps = spec.partition(":")
        result = bench_step(name, rows, args.batch, int(steps or 3), vocab)
        result["threads"] = args.threads
        result["load_avg_1min"] = os.getloadavg()[0]
        print(json.dumps(result), flush=True)
    own, _ = peak_rss_mb()
    print(json.dumps({"peak_rss_MB_after_steps": round(own), "corpus": str(work)}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
