"""Benchmark of vima-convert: parse, build and end to end on a synthetic corpus.

The corpus re-indexes the sample episodes with the vima-schema writer (all sample tasks,
round-robin). Prints episodes/s, input MB/s, output bytes per episode and peak RSS for each
worker count. Usage:

    uv run --all-packages python packages/vima-convert/bench/bench_convert.py --episodes 2000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vima_schema.discover import find_episodes
from vima_schema.reader import read_episode
from vima_schema.synthetic import write_corpus

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"


def run(command: list[str]) -> tuple[float, float]:
    """Run a CLI command; return (seconds, peak RSS of the largest child process in MB)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    """Build the corpus, then time parse and build for each worker count."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="vima-convert-bench-"))
    raw = work / "raw"
    start = time.perf_counter()
    if not raw.exists():
        samples = [read_episode(folder) for folder in find_episodes([SAMPLES])]
        write_corpus(samples, raw, args.episodes)
    bytes_in = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file())
    print(
        f"corpus: {args.episodes} episodes, {bytes_in / 1e6:.1f} MB "
        f"({time.perf_counter() - start:.1f} s to write)"
    )
    exe = [sys.executable, "-m", "vima_convert"]
    for workers in args.workers:
        parsed, dataset = work / f"parsed-{workers}", work / f"dataset-{workers}"
        shutil.rmtree(parsed, ignore_errors=True)
        shutil.rmtree(dataset, ignore_errors=True)
        parse_s, parse_rss = run(
            [*exe, "parse", str(raw), "--out", str(parsed), "--workers", str(workers)]
        )
        build_s, build_rss = run(
            [
                *exe,
                "build",
                str(parsed),
                "--out",
                str(dataset),
                "--workers",
                str(workers),
                "--valid-size",
                "0.05",
            ]
        )
        out_bytes = sum(p.stat().st_size for p in dataset.rglob("*.parquet"))
        parsed_bytes = sum(p.stat().st_size for p in parsed.rglob("*.arrow"))
        n = args.episodes
        total = parse_s + build_s
        rss = max(parse_rss, build_rss)
        print(
            f"workers={workers}: parse {n / parse_s:.0f} ep/s "
            f"({bytes_in / 1e6 / parse_s:.1f} MB/s in), build {n / build_s:.0f} ep/s, "
            f"end to end {n / total:.0f} ep/s ({n / total / workers:.0f} ep/s per worker); "
            f"parsed files {parsed_bytes / n / 1e3:.1f} KB/ep, dataset {out_bytes / n / 1e3:.1f} "
            f"KB/ep; peak RSS per process {rss:.0f} MB"
        )
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
