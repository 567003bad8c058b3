"""`vima-eval`: perturbations, perturbed dataset variants, offline evaluation and reports."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from vima_schema.command import report_unexpected
from vima_schema.runner import EXIT_FAILURES, EXIT_OK, EXIT_USAGE

from vima_eval import __version__

PROG = "vima-eval"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Evaluate VIMA-style policies: instruction perturbations, perturbed dataset "
        "variants, teacher-forced (offline) evaluation and paper-style reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("perturbations", help="list the perturbations, one line each")

    p = sub.add_parser("perturb", help="write a perturbed dataset variant (parsed + tokenized)")
    p.add_argument("dataset", type=Path, metavar="DATASET")
    p.add_argument("--perturb", required=True, metavar="NAME", help="a prompt perturbation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--from", dest="source", default="original", help="source variant")
    p.add_argument("--to", dest="target", help="target variant (default: the perturbation name)")
    p.add_argument("--tokenizer", metavar="NAME_OR_PATH", help="as for vima-tokenize")
    p.add_argument("--workers", type=int, default=1)

    r = sub.add_parser("report", help="paper-style tables and figures from result tables")
    r.add_argument("results", type=Path, nargs="+", metavar="RESULT")
    r.add_argument(
        "--baseline",
        metavar="RESULT",
        help="a result table (or offline output folder) or 'vima-200m' (published numbers)",
    )
    r.add_argument(
        "--baseline-perturbation",
        metavar="NAME",
        help="the run of --baseline with this perturbation (when it holds several)",
    )
    r.add_argument("--out", type=Path, default=Path("report"), metavar="DIR")
    r.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    r.add_argument(
        "--include-unchanged",
        action="store_true",
        help="average over every episode, also those the perturbation left unchanged",
    )

    o = sub.add_parser("offline", help="teacher-forced evaluation of a checkpoint")
    o.add_argument("checkpoint", type=Path, metavar="CKPT")
    o.add_argument("dataset", type=Path, metavar="DATASET")
    o.add_argument("--config", default="original", help="dataset variant (default: original)")
    o.add_argument("--split", default="valid")
    o.add_argument("--perturb", action="append", metavar="NAME", help="repeatable; default noop")
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--out", type=Path, default=Path("offline"), metavar="DIR")
    o.add_argument("--batch-size", type=int, default=8)
    o.add_argument("--device", default="cpu")
    o.add_argument("--task", action="append", metavar="NAME", help="repeatable; default all")
    o.add_argument("--limit", type=int, help="evaluate only the first N episodes per task")
    o.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")

    from vima_eval.online.cli import add_online_commands, add_patch_image_mask

    add_patch_image_mask(o)

    add_online_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 all done, 1 done except listed failures, 2 usage or configuration error."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code else EXIT_OK
    try:
        if args.command == "perturbations":
            return _perturbations()
        if args.command == "perturb":
            return _perturb(args)
        if args.command == "report":
            return _report(args)
        if args.command in ("online", "oracle", "merge"):
            from vima_eval.online.cli import run_online_command
            from vima_eval.report import write_run_report

            return run_online_command(args, write_run_report)
        return _offline(args)
    except (ValueError, FileNotFoundError) as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        print(f"{PROG}: error: {lines[0]}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:
        return report_unexpected(PROG, error)


def _perturbations() -> int:
    from vima_schema.perturbations import PERTURBATIONS

    width = max(len(name) for name in PERTURBATIONS)
    for name, perturbation in PERTURBATIONS.items():
        print(f"{name:<{width}}  {perturbation.summary}")
    return EXIT_OK


def _perturb(args: argparse.Namespace) -> int:
    from vima_eval.perturb import perturb_dataset

    if args.workers < 1:
        raise ValueError("--workers must be >= 1")
    start = time.perf_counter()
    summary = perturb_dataset(
        args.dataset,
        args.perturb,
        seed=args.seed,
        source=args.source,
        target=args.target,
        tokenizer=args.tokenizer,
        workers=args.workers,
    )
    tokenized = summary.tokenized
    print(
        f"{PROG} perturb: {summary.variant}: {summary.parsed_shards_written} parsed shards "
        f"written ({summary.parsed_shards_skipped} up to date), {tokenized.episodes} episodes "
        f"tokenized, {len(tokenized.failures)} failed; {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    print(args.dataset)
    return EXIT_FAILURES if tokenized.failures else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from vima_eval.report import build_report, write_report
    from vima_eval.runs import BUILTIN_BASELINES, builtin_run, load_runs

    runs = load_runs(args.results)
    baseline = None
    if args.baseline is not None:
        if args.baseline in BUILTIN_BASELINES:
            baseline = builtin_run(args.baseline)
        else:
            loaded = load_runs([Path(args.baseline)])
            if args.baseline_perturbation is not None:
                loaded = [r for r in loaded if r.perturbation == args.baseline_perturbation]
            if len(loaded) != 1:
                raise ValueError(
                    f"--baseline {args.baseline}: holds {len(loaded)} matching runs, expected "
                    "one (choose with --baseline-perturbation)"
                )
            baseline = loaded[0]
            runs = [run for run in runs if run.label != baseline.label] + [baseline]
    report = build_report(
        runs, baseline, resamples=args.resamples, include_unchanged=args.include_unchanged
    )
    out = write_report(report, args.out)
    print(f"{PROG} report: {len(runs)} run(s) -> {out}", file=sys.stderr)
    print(out)
    return EXIT_OK


def _offline(args: argparse.Namespace) -> int:
    from vima_eval.model_input import PatchImageMask
    from vima_eval.offline import run_offline

    out = run_offline(
        args.checkpoint,
        args.dataset,
        variant=args.config,
        split=args.split,
        perturbations=args.perturb or ["noop"],
        seed=args.seed,
        out=args.out,
        batch_size=args.batch_size,
        device=args.device,
        tasks=args.task,
        limit=args.limit,
        resamples=args.resamples,
        patch_image_mask=PatchImageMask(args.patch_image_mask),
    )
    print(out)
    return EXIT_OK
