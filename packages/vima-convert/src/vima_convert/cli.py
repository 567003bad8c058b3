"""`vima-convert`: raw VIMA episodes -> per-episode files -> Hugging Face dataset."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from vima_schema.command import run_command, verbose_option
from vima_schema.runner import EXIT_FAILURES, EXIT_OK, EXIT_USAGE

from vima_convert import __version__

log = logging.getLogger("vima_convert")


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r} is not I/N") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {text!r} needs 0 <= I < N")
    return index, count


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vima-convert",
        description="Convert raw VIMA episodes into a Hugging Face dataset, in two resumable "
        "steps: parse (raw -> one file per episode) and build (files -> parquet dataset).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = [verbose_option()]
    p = sub.add_parser("parse", parents=common, help="raw episodes -> one parsed file per episode")
    p.add_argument("raw", nargs="+", metavar="RAW", help="raw root, episode folder, or '-'")
    p.add_argument("--out", required=True, type=Path, metavar="PARSED")
    p.add_argument("--workers", type=_positive, default=1)
    p.add_argument("--shard", type=_shard, metavar="I/N", help="take a deterministic 1/N")
    p.add_argument("--overwrite", action="store_true", help="redo episodes already parsed")
    b = sub.add_parser(
        "build", parents=common, help="parsed files -> parquet dataset with train/valid splits"
    )
    b.add_argument("parsed", type=Path, metavar="PARSED")
    b.add_argument("--out", required=True, type=Path, metavar="DATASET")
    b.add_argument("--variant", default="original")
    b.add_argument("--valid-size", default="50000", help="count over all tasks, or fraction")
    b.add_argument("--seed", type=int, default=1000)
    b.add_argument("--max-shard-mb", type=float, default=500.0)
    b.add_argument("--workers", type=_positive, default=1)
    r = sub.add_parser("reword", parents=common, help="write the paraphrased-instruction variant")
    r.add_argument("dataset", type=Path, metavar="DATASET")
    r.add_argument("--from", dest="source", default="original")
    r.add_argument("--to", dest="target", default="reworded")
    r.add_argument("--seed", type=int, default=0)
    s = sub.add_parser(
        "stats", parents=common, help="episodes, steps, objects, textures, prompt lengths"
    )
    s.add_argument("dataset", type=Path, metavar="DATASET")
    s.add_argument("--config", default="original--parsed", help="default: original--parsed")
    s.add_argument("--json", action="store_true")
    s.add_argument("--plot", type=Path, metavar="FILE.png")
    e = sub.add_parser(
        "export-raw", parents=common, help="dataset -> raw episode folders (lossless)"
    )
    e.add_argument("dataset", type=Path, metavar="DATASET")
    e.add_argument("--out", required=True, type=Path, metavar="RAW")
    e.add_argument("--config", default="original--parsed")
    e.add_argument("--split")
    e.add_argument("--overwrite", action="store_true")
    u = sub.add_parser(
        "push", parents=common, help="upload the dataset folder to the Hugging Face Hub"
    )
    u.add_argument("dataset", type=Path, metavar="DATASET")
    u.add_argument("--repo-id", required=True)
    u.add_argument("--private", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 all done, 1 done except listed failures, 2 usage or configuration error,
    3 unexpected error (see `vima_schema.command`)."""
    return run_command("vima-convert", _parser(), _run, argv)


def _run(args: argparse.Namespace) -> tuple[int, str | None]:
    if args.command == "parse":
        from vima_convert.parse import parse

        parsed = parse(
            args.raw, args.out, workers=args.workers, shard=args.shard, overwrite=args.overwrite
        )
        log.info(
            f"vima-convert parse: {parsed.written} written, {parsed.skipped} already done, "
            f"{parsed.failed} failed (listed in {args.out / 'failures.jsonl'}); "
            f"{parsed.bytes_in / 1e6:.1f} MB in, {parsed.bytes_out / 1e6:.1f} MB out"
        )
        return (EXIT_FAILURES if parsed.failed else EXIT_OK), str(args.out)
    if args.command == "build":
        from vima_convert.build import build
        from vima_convert.split import parse_valid_size

        built = build(
            args.parsed,
            args.out,
            variant=args.variant,
            valid_size=parse_valid_size(args.valid_size),
            seed=args.seed,
            max_shard_mb=args.max_shard_mb,
            workers=args.workers,
        )
        per = built.bytes_out / max(built.episodes, 1)
        log.info(
            f"vima-convert build: {built.episodes} episodes in {built.shards} shards, "
            f"{built.bytes_out / 1e6:.1f} MB ({per / 1e3:.1f} KB/episode), "
            f"{len(built.failures)} failed"
        )
        return (EXIT_FAILURES if built.failures else EXIT_OK), str(args.out)
    if args.command == "reword":
        from vima_convert.reword_dataset import reword_dataset

        reworded = reword_dataset(
            args.dataset, source=args.source, target=args.target, seed=args.seed
        )
        log.info(
            f"vima-convert reword: {reworded.reworded}/{reworded.episodes} prompts paraphrased, "
            f"{len(reworded.kept)} kept unchanged"
        )
        return (EXIT_FAILURES if reworded.kept else EXIT_OK), str(args.dataset)
    if args.command == "stats":
        from vima_convert.stats import format_table, load_metadata, plot, summarize

        data = load_metadata(args.dataset, args.config)
        stats = summarize(data)
        print(json.dumps(stats) if args.json else format_table(stats))
        if args.plot:
            return EXIT_OK, str(plot(data, args.plot))
        return EXIT_OK, None
    if args.command == "export-raw":
        from vima_convert.export import export_raw

        count = export_raw(
            args.dataset, args.out, config=args.config, split=args.split, overwrite=args.overwrite
        )
        log.info(f"vima-convert export-raw: {count} episodes written")
        return EXIT_OK, str(args.out)
    from vima_convert.push import PushError, push

    try:
        return EXIT_OK, push(args.dataset, args.repo_id, private=args.private)
    except PushError as error:
        log.error(f"vima-convert push: error: {error}")
        return EXIT_USAGE, None
