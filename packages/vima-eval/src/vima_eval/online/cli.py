"""The `online`, `oracle` and `merge` subcommands of `vima-eval`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vima_schema.runner import EXIT_FAILURES, EXIT_OK

PROG = "vima-eval"


def _loop_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--levels", help="comma-separated, e.g. L1,L2 (default: all four)")
    parser.add_argument("--tasks", help="comma-separated task names (default: all implemented)")
    parser.add_argument("--episodes", type=int, default=100, help="per (level, task) pair")
    parser.add_argument("--start", type=int, default=0, help="first episode number (shards)")
    parser.add_argument(
        "--perturb", action="append", metavar="NAME", help="repeatable; default noop"
    )
    parser.add_argument("--difficulty", default="easy")
    parser.add_argument("--seed", type=int, default=0, help="run seed (episode seeds derive)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("online"), metavar="DIR")
    parser.add_argument("--resume", action="store_true", help="skip finished episodes")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in DIR")
    parser.add_argument("--env", choices=("builtin", "vima-bench"), default="builtin")
    parser.add_argument("--env-python", metavar="PYTHON", help="interpreter with vima_bench")
    parser.add_argument(
        "--time-limit",
        default="vima",
        help="vima (oracle max steps + 2), oracle, minimum, or a number of actions",
    )
    parser.add_argument("--record", type=int, default=0, metavar="K", help="GIFs of the first K")
    parser.add_argument("--wandb", choices=("offline", "online", "disabled"), default="offline")
    parser.add_argument(
        "--flush-every", type=int, default=8, metavar="N", help="episodes per parquet part"
    )


def add_patch_image_mask(parser: argparse.ArgumentParser) -> None:
    """`--patch-image-mask`: what mask_visual / mask_both do to a patch model's prompt images."""
    parser.add_argument(
        "--patch-image-mask",
        choices=("mask", "ignore"),
        default="mask",
        help="patch models under mask_visual/mask_both: mask the prompt images (default) or "
        "leave them visible as CoGeLoT does (ignore)",
    )


def add_online_commands(sub: Any) -> None:
    """Register `online`, `oracle` and `merge` on the `vima-eval` subparsers."""
    online = sub.add_parser(
        "online", help="closed-loop evaluation of a checkpoint in the simulator"
    )
    online.add_argument("checkpoint", type=Path, metavar="CKPT")
    _loop_options(online)
    online.add_argument("--device", default="cpu")
    add_patch_image_mask(online)
    oracle = sub.add_parser("oracle", help="the online loop with the simulator's oracle acting")
    _loop_options(oracle)
    merge = sub.add_parser("merge", help="merge online shard folders (SLURM array jobs)")
    merge.add_argument("shards", type=Path, nargs="+", metavar="SHARD")
    merge.add_argument("--out", type=Path, required=True, metavar="DIR")


def run_online_command(args: argparse.Namespace, report: Callable[[Path], Any]) -> int:
    """Run `online`, `oracle` or `merge`, then `report(folder)` (the report of the run folder);
    print the output folder last on stdout."""
    from vima_eval.online.closed_loop import OnlineSettings, merge_runs, run_online
    from vima_eval.online.plan import parse_levels

    if args.command == "merge":
        result = merge_runs(args.shards, args.out)
    else:
        settings = OnlineSettings(
            checkpoint=getattr(args, "checkpoint", None),
            levels=parse_levels(args.levels),
            tasks=[t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None,
            episodes=args.episodes,
            start=args.start,
            perturbations=list(dict.fromkeys(args.perturb or ["noop"])),
            difficulty=args.difficulty,
            seed=args.seed,
            workers=args.workers,
            device=getattr(args, "device", "cpu"),
            env=args.env,
            env_python=args.env_python,
            time_limit=args.time_limit,
            record=args.record,
            wandb=args.wandb,
            flush_every=args.flush_every,
            patch_image_mask=getattr(args, "patch_image_mask", "mask"),
        )
        result = run_online(settings, args.out, resume=args.resume, overwrite=args.overwrite)
    report(result.out)
    print(
        f"{PROG} {args.command}: {result.ran} episodes, {result.skipped} already done, "
        f"{len(result.errors)} failed",
        file=sys.stderr,
    )
    for error in result.errors:
        print(f"  {error['episode']} ({error['perturbation']}): "
              f"{error['problem'].splitlines()[0]}", file=sys.stderr)  # fmt: skip
    print(result.out)
    return EXIT_FAILURES if result.errors else EXIT_OK
