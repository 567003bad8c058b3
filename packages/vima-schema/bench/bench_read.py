"""Benchmark: read and validate a corpus of raw episodes with `read_episode`.

The corpus is built by re-indexing the 11 sample episodes (all sample tasks, round-robin)
with `write_episode`, in a temporary folder or in `--corpus DIR` (kept and reused: an existing
corpus with at least `--episodes` episodes is not rebuilt).

    uv run --all-packages python packages/vima-schema/bench/bench_read.py --episodes 1000

Prints episodes, seconds, episodes/s, MB/s of input, peak RSS and the number of PIL image
opens during reading (0 on the fast path: frames are kept as stored JPEG bytes). Asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from vima_schema.discover import find_episodes
from vima_schema.models import Episode
from vima_schema.reader import EpisodeError, read_episode
from vima_schema.writer import write_episode

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLES = REPO_ROOT / "data" / "samples"


def sample_episodes() -> list[Episode]:
    """The sample episodes of both format variants, in sorted folder order."""
    return [read_episode(path) for path in sorted(SAMPLES.glob("*/*/000000"))]


def build_corpus(root: Path, count: int) -> float:
    """Write `count` re-indexed sample episodes below `root`; return the seconds taken."""
    samples = sample_episodes()
    start = time.perf_counter()
    for index in range(count):
        episode = samples[index % len(samples)]
        write_episode(episode.model_copy(update={"index": index}), root, overwrite=True)
    return time.perf_counter() - start


def folder_bytes(folder: Path) -> int:
    """Total size of the files of one episode folder."""
    return sum(entry.stat().st_size for entry in folder.rglob("*") if entry.is_file())


def drop_page_cache(folders: list[Path]) -> None:
    """Ask the kernel to evict the corpus files from the page cache (best effort, Linux)."""
    os.sync()
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


class CountingOpen:
    """Wraps `PIL.Image.open` and counts calls (every JPEG decode goes through it)."""

    def __init__(self, original: Callable[..., Any]) -> None:
        self.original = original
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.original(*args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the corpus, time reading it, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000, help="corpus size (default 1000)")
    parser.add_argument("--corpus", type=Path, help="corpus folder to build or reuse (kept)")
    parser.add_argument("--deep", action="store_true", help="decode every JPEG while reading")
    parser.add_argument(
        "--cold", action="store_true", help="evict corpus files from the page cache first"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vima-bench-") as scratch:
        root = args.corpus if args.corpus is not None else Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        folders = list(find_episodes([root]))
        if len(folders) >= args.episodes:
            print(f"corpus:       reusing {len(folders)} episodes in {root}")
        else:
            seconds = build_corpus(root, args.episodes)
            folders = list(find_episodes([root]))
            print(
                f"corpus:       built {args.episodes} episodes in {root} in {seconds:.2f} s "
                f"({args.episodes / seconds:.0f} episodes/s)"
            )
        folders = folders[: args.episodes]
        total_bytes = sum(folder_bytes(folder) for folder in folders)
        if args.cold:
            drop_page_cache(folders)

        counter = CountingOpen(Image.open)
        Image.open = counter  # type: ignore[assignment]
        invalid = 0
        start = time.perf_counter()
        try:
            for folder in folders:
                try:
                    read_episode(folder, deep=args.deep)
                except EpisodeError as error:
                    invalid += 1
                    print(f"invalid: {error}", file=sys.stderr)
        finally:
            Image.open = counter.original  # type: ignore[assignment]
        seconds = time.perf_counter() - start

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mode = "deep" if args.deep else "fast"
    cache = "cold" if args.cold else "warm"
    print(f"mode:         {mode} validation, {cache} page cache")
    print(f"episodes:     {len(folders)} ({invalid} invalid)")
    print(f"input:        {total_bytes / 1e6:.1f} MB ({total_bytes / len(folders):,.0f} B/episode)")
    print(f"seconds:      {seconds:.3f}")
    print(f"episodes/s:   {len(folders) / seconds:,.0f}")
    print(f"MB/s:         {total_bytes / 1e6 / seconds:,.1f}")
    print(f"peak RSS:     {peak_kib / 1024:.1f} MiB")
    print(f"PIL opens:    {counter.calls}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
