"""`vima-tokenize`: parsed dataset configs -> tokenized configs ready for training."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vima_schema.command import run_command, verbose_option
from vima_schema.runner import EXIT_FAILURES, EXIT_OK

from vima_tokenize import __version__

log = logging.getLogger("vima_tokenize")


def _workers(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("--workers must be >= 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vima-tokenize",
        parents=[verbose_option()],
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
    parser.add_argument("--workers", type=_workers, default=1)
    parser.add_argument("--overwrite", action="store_true", help="redo complete shards")
    parser.add_argument(
        "--keep-final-observation",
        action="store_true",
        help="keep the observation after the last action (T+1 observations, as stored)",
    )
    return parser


def _run(args: argparse.Namespace) -> tuple[int, str | None]:
    from vima_tokenize.pipeline import tokenize_dataset

    result = tokenize_dataset(
        args.dataset,
        variant=args.variant,
        tokenizer=args.tokenizer,
        workers=args.workers,
        overwrite=args.overwrite,
        keep_final_observation=args.keep_final_observation,
    )
    per = result.bytes_out / max(result.episodes, 1)
    log.info(
        f"vima-tokenize: {result.episodes} episodes in {result.shards_written} shards "
        f"({result.shards_skipped} already done), {per / 1e3:.1f} KB/episode, "
        f"{len(result.failures)} failed"
    )
    return (EXIT_FAILURES if result.failures else EXIT_OK), str(args.dataset)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 all done, 1 done except listed failures, 2 usage or configuration error,
    3 unexpected error (see `vima_schema.command`)."""
    return run_command("vima-tokenize", _parser(), _run, argv)
