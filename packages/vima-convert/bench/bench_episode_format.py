"""Why the per-episode file of step 1 is Arrow IPC with lz4: bytes, write and read time per
episode of the candidate formats on the same records.

Makes `--episodes` distinct records (copies of the sample episodes, every image shifted so no
two share bytes, as tests/support/synthetic_corpus.py makes them), then per format serialises
each record to bytes and reads it back to an Arrow table, in memory (no disk: the figures are
the codec's). Prints one line per format: mean bytes, median write and read milliseconds.

    uv run --all-packages python packages/vima-convert/bench/bench_episode_format.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from vima_schema.discover import find_episodes
from vima_schema.reader import read_episode
from vima_schema.record import SCHEMA, episode_to_record

# test and benchmark support (tests/support), not part of any package
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
from synthetic_corpus import varied_copy

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"


def ipc_codec(compression: str | None, level: int | None = None) -> tuple[Callable, Callable]:
    """(write, read) of a one-record Arrow IPC file with `compression`."""
    codec = None if compression is None else pa.Codec(compression, compression_level=level)
    options = ipc.IpcWriteOptions(compression=codec)

    def write(table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        with ipc.new_file(sink, SCHEMA, options=options) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    def read(data: bytes) -> pa.Table:
        return ipc.open_file(pa.py_buffer(data)).read_all()

    return write, read


def parquet_codec() -> tuple[Callable, Callable]:
    """(write, read) of a one-row zstd parquet file."""

    def write(table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue().to_pybytes()

    def read(data: bytes) -> pa.Table:
        return pq.read_table(pa.BufferReader(data))

    return write, read


FORMATS = {
    "Arrow IPC, uncompressed": ipc_codec(None),
    "Arrow IPC, lz4": ipc_codec("lz4"),
    "Arrow IPC, zstd level 1": ipc_codec("zstd", 1),
    "Arrow IPC, zstd level 3": ipc_codec("zstd", 3),
    "parquet, zstd (one row per file)": parquet_codec(),
}


def main() -> None:
    """Time every format on the same records and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    samples = [read_episode(folder) for folder in find_episodes([SAMPLES])]
    tables = [
        pa.Table.from_pylist(
            [
                episode_to_record(
                    varied_copy(samples[n % len(samples)], n, n // len(samples) % 97 + 1)
                )
            ],
            schema=SCHEMA,
        )
        for n in range(args.episodes)
    ]
    print(f"records: {len(tables)} distinct episodes, pyarrow {pa.__version__}")
    for name, (write, read) in FORMATS.items():
        sizes, writes, reads = [], [], []
        for table in tables:
            start = time.perf_counter()
            data = write(table)
            middle = time.perf_counter()
            back = read(data)
            reads.append(time.perf_counter() - middle)
            writes.append(middle - start)
            sizes.append(len(data))
            if not back.equals(table):
                raise RuntimeError(f"{name}: the record read back differs")
        print(
            f"format: {name} | bytes {statistics.mean(sizes):.0f} | write "
            f"{statistics.median(writes) * 1e3:.2f} ms | read "
            f"{statistics.median(reads) * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()
