"""Benchmark of vima-tokenize on a converted synthetic corpus.

The corpus re-indexes the sample episodes with the vima-schema writer (all sample tasks,
round-robin, every copy shifted sideways), converts it with vima-convert (parse, then build
with 5% validation), then times `python -m vima_tokenize DATASET --overwrite` for each worker
count. Prints episodes/s, episodes/s per worker, preprocessed bytes per episode and the peak
RSS of one process of the run (the tokenize process or one of its workers, whichever is larger:
`os.wait4`'s rusage, i.e. RUSAGE_CHILDREN for that one child).

The corpus repeats shifted copies of the same few episodes, which compress better than real
data, so the size is also measured without cross-episode redundancy: every distinct sample
episode is preprocessed once (`preprocess_row`) and all of them are written to a single zstd
parquet file. Usage:

    uv run --all-packages python packages/vima-tokenize/bench/bench_tokenize.py --episodes 1000
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
from vima_schema.dataset_layout import PARSED, list_shards, shard_rows
from vima_schema.discover import find_episodes
from vima_schema.parquet_shard import writer_options
from vima_schema.reader import read_episode
from vima_schema.record import episode_to_record
from vima_tokenize.preprocess import preprocess_row
from vima_tokenize.preprocessed import ARRAYS, hf_schema, load_arrays
from vima_tokenize.text import load_tokenizer

# test and benchmark support (tests/support), not part of any package
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
from synthetic_corpus import write_corpus

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"


def run(command: list[str]) -> tuple[float, float, float]:
    """Run a command; return (seconds, peak RSS in MB of its largest process, CPU seconds),
    workers included (their usage counts once the command has waited for them)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.stderr.buffer.write(errors)
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def distinct_sample_bytes(work: Path) -> tuple[int, int, int]:
    """Preprocess each sample episode once into one zstd parquet file.

    Returns (episodes, file bytes, bytes of the decoded arrays).
    """
    tokenizer = load_tokenizer()
    rows = [
        preprocess_row(episode_to_record(read_episode(folder)), tokenizer)
        for folder in find_episodes([SAMPLES])
    ]
    path = work / "distinct-samples.parquet"
    table = pa.Table.from_pylist(rows, schema=hf_schema())
    pq.write_table(table, path, **writer_options(table.schema))
    raw = sum(load_arrays(row)[name].nbytes for row in rows for name in ARRAYS)
    return len(rows), path.stat().st_size, raw


def main() -> None:
    """Build and convert the corpus, then time tokenize for each worker count."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the work folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="vima-tokenize-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    raw, parsed, dataset = work / "raw", work / "parsed", work / "dataset"
    convert = [sys.executable, "-m", "vima_convert"]
    start = time.perf_counter()
    if not raw.exists():
        samples = [read_episode(folder) for folder in find_episodes([SAMPLES])]
        write_corpus(samples, raw, args.episodes)
    if not list_shards(dataset, "original", PARSED):
        workers = str(max(args.workers))
        run([*convert, "parse", str(raw), "--out", str(parsed), "--workers", workers])
        build = ["build", str(parsed), "--out", str(dataset), "--valid-size", "0.05"]
        run([*convert, *build, "--workers", workers])
    sources = list_shards(dataset, "original", PARSED)
    episodes = sum(shard_rows(shard.path) for shard in sources)
    parsed_bytes = sum(shard.path.stat().st_size for shard in sources)
    print(
        f"corpus: {episodes} episodes in {len(sources)} parsed shards, "
        f"{parsed_bytes / episodes / 1e3:.1f} KB/episode parsed "
        f"({time.perf_counter() - start:.1f} s to write and convert)"
    )
    if episodes != args.episodes:
        print(f"note: reused {work} holds {episodes} episodes, not {args.episodes}")
    tokenize = [sys.executable, "-m", "vima_tokenize", str(dataset), "--overwrite"]
    for workers in args.workers:
        seconds, rss, cpu = run([*tokenize, "--workers", str(workers)])
        outputs = (dataset / "original" / "preprocessed").rglob("*.parquet")
        out_bytes = sum(path.stat().st_size for path in outputs)
        rate = episodes / seconds
        print(
            f"workers={workers}: {episodes} episodes in {seconds:.1f} s, {rate:.1f} ep/s "
            f"({rate / workers:.1f} ep/s per worker); preprocessed "
            f"{out_bytes / episodes / 1e3:.1f} KB/episode ({out_bytes / 1e6:.1f} MB); "
            f"peak RSS per process {rss:.0f} MB"
        )
        print(f"workers={workers} CPU: {cpu:.1f} s, {cpu / episodes * 1e3:.2f} ms per episode")
    count, size, uncompressed = distinct_sample_bytes(work)
    print(
        f"distinct samples: {count} episodes preprocessed once into one zstd parquet: "
        f"{size / count / 1e3:.1f} KB/episode ({uncompressed / count / 1e3:.1f} KB/episode "
        "of arrays before compression)"
    )
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
