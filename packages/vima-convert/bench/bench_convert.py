"""Benchmark of vima-convert: parse, build and end to end on a synthetic corpus.

The corpus re-indexes the sample episodes with the vima-schema writer (all sample tasks,
round-robin, every image shifted so no two copies share bytes). For each worker count it runs
the real commands as subprocesses and prints episodes/s (wall clock, and without the fixed
start-up cost of the interpreter and imports, measured on a one-episode input), input MB/s,
output bytes per episode and the peak RSS of the largest process. Because the copies still
resemble each other, it also reports the bytes per episode of the 11 distinct samples written
to one shard.

    uv run --all-packages python packages/vima-convert/bench/bench_convert.py --episodes 2000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from vima_schema.discover import find_episodes
from vima_schema.parquet_shard import writer_options
from vima_schema.reader import read_episode
from vima_schema.record import episode_to_record, hf_schema

# test and benchmark support (tests/support), not part of any package
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
from synthetic_corpus import write_corpus

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"
EXE = [sys.executable, "-m", "vima_convert"]


def run(command: list[str]) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in MB of its largest process, workers included)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed")
    return seconds, usage.ru_maxrss / 1024


def convert(raw: Path, work: Path, workers: int) -> tuple[float, float, float, Path, Path]:
    """parse + build of `raw`; return (parse s, build s, peak RSS MB, parsed dir, dataset dir)."""
    parsed, dataset = work / f"parsed-{workers}", work / f"dataset-{workers}"
    shutil.rmtree(parsed, ignore_errors=True)
    shutil.rmtree(dataset, ignore_errors=True)
    parse_s, parse_rss = run(
        [*EXE, "parse", str(raw), "--out", str(parsed), "--workers", str(workers)]
    )
    build_s, build_rss = run(
        [*EXE, "build", str(parsed), "--out", str(dataset), "--workers", str(workers),
         "--valid-size", "0.05"]
    )  # fmt: skip
    return parse_s, build_s, max(parse_rss, build_rss), parsed, dataset


def main() -> None:
    """Build the corpus, then time parse and build for each worker count."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="vima-convert-bench-"))
    samples = [read_episode(folder) for folder in find_episodes([SAMPLES])]
    raw, one = work / "raw", work / "one"
    start = time.perf_counter()
    if not raw.exists():
        write_corpus(samples, raw, args.episodes)
    if not one.exists():
        write_corpus(samples[:1], one, 1)
    bytes_in = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file())
    n = args.episodes
    print(
        f"corpus: {n} episodes, {bytes_in / 1e6:.1f} MB "
        f"({time.perf_counter() - start:.1f} s to write)"
    )
    for workers in args.workers:
        parse_0, build_0, _, _, _ = convert(one, work / "startup", workers)
        parse_s, build_s, rss, parsed, dataset = convert(raw, work, workers)
        out_bytes = sum(p.stat().st_size for p in dataset.rglob("*.parquet"))
        parsed_bytes = sum(p.stat().st_size for p in parsed.rglob("*.arrow"))
        total, steady = parse_s + build_s, parse_s + build_s - parse_0 - build_0
        print(
            f"workers={workers}: parse {n / parse_s:.0f} ep/s ({bytes_in / 1e6 / parse_s:.1f} MB/s"
            f" in), build {n / build_s:.0f} ep/s, end to end {n / total:.0f} ep/s "
            f"({n / total / workers:.0f} per worker); without start-up ({parse_0 + build_0:.1f} s):"
            f" parse {n / (parse_s - parse_0):.0f} ep/s, build {n / (build_s - build_0):.0f} ep/s,"
            f" end to end {n / steady:.0f} ep/s ({n / steady / workers:.0f} per worker); "
            f"parsed files {parsed_bytes / n / 1e3:.1f} KB/ep, dataset {out_bytes / n / 1e3:.1f} "
            f"KB/ep; peak RSS {rss:.0f} MB"
        )
    table = pa.Table.from_pylist([episode_to_record(e) for e in samples], schema=hf_schema())
    pq.write_table(table, work / "distinct.parquet", **writer_options(table.schema))
    size = (work / "distinct.parquet").stat().st_size
    print(
        f"distinct samples: {len(samples)} episodes in one shard, {size / len(samples) / 1e3:.1f}"
        " KB/ep (footer included)"
    )
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
