"""Dataset and preprocessed sizes of distinct real episodes, one task per shard.

Parses and builds the given raw roots with vima-convert (every episode in `train`, one shard per
task, as `build` writes them), tokenizes the result, and prints the bytes of the parsed dataset
and of the preprocessed configs, per episode and against the reference's figures, the
compressed bytes per column of the preprocessed shards, and the CPU time per episode of
coding (`preprocess_row` on the parsed rows) and decoding (`load_arrays` on the preprocessed
rows: what building the training cache costs per episode), best of 5. Usage:

    uv run --all-packages python packages/vima-tokenize/bench/bench_size.py RAW [RAW ...]

With no argument the sample episodes under data/samples/vima-raw are used.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from vima_schema.dataset_layout import PARSED, PREPROCESSED, list_shards, shard_rows
from vima_tokenize.preprocess import preprocess_row
from vima_tokenize.preprocessed import load_arrays
from vima_tokenize.text import load_tokenizer

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "vima-raw"
#: The reference's parsed dataset (decoded pixels) per episode: 1.2 MB (docs/PERFORMANCE.md).
REFERENCE_DATASET = 1.19e6
#: The reference's tokenized records per episode, on the same episodes: 148 KB.
REFERENCE_PREPROCESSED = 148e3


def _run(*command: str) -> None:
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        sys.stderr.buffer.write(done.stderr)
        raise SystemExit(f"{' '.join(command)} exited with {done.returncode}")


def _cpu_per_item(work: Callable[[Any], object], items: list[Any], rounds: int = 5) -> float:
    """Least CPU seconds per item of `work` over all `items`, of `rounds` rounds."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            work(item)
        best = min(best, (time.process_time() - start) / len(items))
    return best


def codec_costs(dataset: Path) -> tuple[float, float]:
    """CPU ms per episode of `preprocess_row` (parsed rows) and `load_arrays` (its rows)."""
    tokenizer = load_tokenizer()
    parsed = [
        row
        for shard in list_shards(dataset, "original", PARSED)
        for row in pq.read_table(shard.path).to_pylist()
    ]
    rows = [
        row
        for shard in list_shards(dataset, "original", PREPROCESSED)
        for row in pq.read_table(shard.path).to_pylist()
    ]
    encode = _cpu_per_item(lambda row: preprocess_row(row, tokenizer), parsed)
    return encode * 1e3, _cpu_per_item(load_arrays, rows) * 1e3


def main() -> None:
    """Convert, tokenize and report sizes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", nargs="*", type=Path, default=[SAMPLES])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vima-size-bench-"))
    try:
        parsed, dataset = work / "parsed", work / "dataset"
        python = sys.executable
        _run(python, "-m", "vima_convert", "parse", *map(str, args.raw), "--out", str(parsed))
        _run(
            python,
            "-m",
            "vima_convert",
            "build",
            str(parsed),
            "--out",
            str(dataset),
            "--valid-size",
            "0",
        )
        _run(python, "-m", "vima_tokenize", str(dataset))
        for stage, reference in (
            (PARSED, REFERENCE_DATASET),
            (PREPROCESSED, REFERENCE_PREPROCESSED),
        ):
            shards = list_shards(dataset, "original", stage)
            episodes = sum(shard_rows(s.path) for s in shards)
            size = sum(s.path.stat().st_size for s in shards)
            footers = sum(pq.read_metadata(s.path).serialized_size for s in shards)
            per = size / episodes
            print(
                f"{stage}: {episodes} episodes in {len(shards)} shards, {size / 1e3:.1f} KB "
                f"({per / 1e3:.1f} KB/episode, footers {footers / len(shards) / 1e3:.1f} KB/shard)"
                f"; reference {reference / 1e3:.0f} KB/episode: {reference / per:.1f}x smaller"
            )
        columns: Counter[str] = Counter()
        for shard in list_shards(dataset, "original", PREPROCESSED):
            metadata = pq.read_metadata(shard.path)
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                for i in range(row_group.num_columns):
                    chunk = row_group.column(i)
                    columns[chunk.path_in_schema.split(".")[0]] += chunk.total_compressed_size
        total = sum(columns.values())
        print(
            "preprocessed column bytes: "
            + ", ".join(
                f"{name} {size / 1e3:.0f} KB ({size / total:.0%})"
                for name, size in columns.most_common(8)
            )
        )
        encode, decode = codec_costs(dataset)
        print(
            f"codec: preprocess_row {encode:.2f} ms/episode, load_arrays {decode:.2f} ms/episode "
            "(CPU, best of 5)"
        )
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
