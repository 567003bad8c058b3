"""`vima-tokenize`: parsed dataset configs -> tokenized configs ready for training."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from vima_schema.runner import (
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_USAGE,
    one_native_thread_per_worker,
)

from vima_tokenize import __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 all done, 1 done except listed failures, 2 usage or configuration error."""
    parser = argparse.ArgumentParser(
        prog="vima-tokenize",
        description="Tokenize the <variant>--parsed--<task> configs of DATASET into "
        "<variant>--preprocessed--<task> configs (text tokens, object crops, frames, actions).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("dataset", type=Path, metavar="DATASET")
    parser.add_argument("--variant", default="original")
    parser.add_argument(
        "--tokenizer",
        metavar="NAME_OR_PATH",
        help="tokenizer.json file, folder, or hub name (default: the shipped VIMA tokenizer)",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true", help="redo complete shards")
    parser.add_argument(
        "--keep-final-observation",
        action="store_true",
        help="keep the observation after the last action (T+1 observations, as stored)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code else EXIT_OK
    if args.workers < 1:
        print("vima-tokenize: error: --workers must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    one_native_thread_per_worker(args.workers)
    from vima_tokenize.pipeline import tokenize_dataset

    start = time.perf_counter()
    try:
        result = tokenize_dataset(
            args.dataset,
            variant=args.variant,
            tokenizer=args.tokenizer,
            workers=args.workers,
            overwrite=args.overwrite,
            keep_final_observation=args.keep_final_observation,
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"vima-tokenize: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per = result.bytes_out / max(result.episodes, 1)
    print(
        f"vima-tokenize: {result.episodes} episodes in {result.shards_written} shards "
        f"({result.shards_skipped} already done), {per / 1e3:.1f} KB/episode, "
        f"{len(result.failures)} failed; {seconds:.1f} s, peak RSS {peak:.0f} MB",
        file=sys.stderr,
    )
    print(args.dataset)
    return EXIT_FAILURES if result.failures else EXIT_OK
