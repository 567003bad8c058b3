"""Dataset and preprocessed sizes of distinct real episodes, one task per shard.

Parses and builds the given raw roots with vima-convert (every episode in `train`, one shard per
task, as `build` writes them), tokenizes the result, and prints the bytes of the parsed dataset
and of the preprocessed configs, per episode and against the reference's figures, plus the
compressed bytes per column of the preprocessed shards. Usage:

    uv run --all-packages python packages/vima-tokenize/bench/bench_size.py RAW [RAW ...]

With no argument the sample episodes under data/samples/vima-raw are used.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from vima_schema.dataset_layout import PARSED, PREPROCESSED, list_shards, shard_rows

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
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
