"""Command line of vima-sim: generate, show, check, tasks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from vima_schema.command import report_unexpected
from vima_schema.enums import Difficulty, Partition
from vima_schema.runner import EXIT_FAILURES, EXIT_OK, EXIT_USAGE, append_failure, run_items

from vima_sim import __version__
from vima_sim.tasks import available, make_task


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _add_scene_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--partition", default="placement_generalization", choices=[p.name for p in Partition]
    )
    parser.add_argument("--difficulty", default="easy", choices=[d.value for d in Difficulty])


def _check_tasks(tasks: list[str], partition: str, difficulty: str) -> None:
    for task in tasks:
        make_task(task, partition, difficulty)  # raises ValueError with the reason


def cmd_generate(args: argparse.Namespace) -> int:
    """Roll out the oracle and write successful episodes (resumable)."""
    from vima_sim.generate import pending_jobs, run_job

    out = Path(args.out)
    jobs = pending_jobs(args.tasks, args.partition, args.difficulty, args.episodes, args.seed, out)
    _log(f"vima-sim generate: {len(jobs)} episodes to write under {out}")
    failures = 0
    for outcome in run_items(
        run_job, jobs, workers=args.workers, desc="generate", total=len(jobs), chunksize=1
    ):
        if outcome.error is not None:
            failures += 1
            job = outcome.item
            append_failure(out / "failures.jsonl", f"{job.task}/{job.index:06d}", outcome.error)
            _log(f"failed: {outcome.error}")
    print(out)
    return EXIT_FAILURES if failures else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """Save a picture of the prompt and both views at reset."""
    from vima_sim.env import VimaEnv
    from vima_sim.show import reset_picture

    env = VimaEnv(args.task, args.partition, args.difficulty)
    try:
        obs, info = env.reset(seed=args.seed)
    finally:
        env.close()
    out = Path(args.out or f"{args.task}-{args.seed}.png")
    reset_picture(obs, info).save(out)
    _log(info["prompt"])
    print(out)
    return EXIT_OK


def _check_pairs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(partition, task) pairs to check: every defined pair with --all, else the given tasks."""
    if args.all:
        from vima_sim.encyclopedia import partition_tasks
        from vima_sim.tasks import EVALUATION_PARTITIONS

        return [(p.name, t.name) for p in EVALUATION_PARTITIONS for t in partition_tasks(p)]
    tasks = args.tasks or [
        t for t, where in available().items() if args.partition in where["partitions"]
    ]
    return [(args.partition, task) for task in tasks]


def cmd_check(args: argparse.Namespace) -> int:
    """Oracle success rate, mean steps and timings over N seeds per (level, task)."""
    from vima_sim.env import VimaEnv
    from vima_sim.rollout import oracle_rollout

    failed = False
    _log(f"{'level':28s} {'task':28s} success  steps  reset s  step s")
    for partition, task in _check_pairs(args):
        env = VimaEnv(task, partition, args.difficulty)
        results = [oracle_rollout(env, args.seed + k) for k in range(args.seeds)]
        env.close()
        steps = [s for r in results for s in r.step_s]
        row = {
            "task": task,
            "partition": partition,
            "difficulty": args.difficulty,
            "seeds": args.seeds,
            "success": float(np.mean([r.success for r in results])),
            "mean_steps": float(np.mean([r.steps for r in results])),
            "reset_s": float(np.mean([r.reset_s for r in results])),
            "step_s": float(np.mean(steps)) if steps else 0.0,
        }
        failed |= row["success"] < 1.0
        _log(
            f"{partition:28s} {task:28s} {row['success']:6.1%}  {row['mean_steps']:5.2f}  "
            f"{row['reset_s']:7.3f}  {row['step_s']:6.3f}"
        )
        print(json.dumps(row), flush=True)
    return EXIT_FAILURES if failed else EXIT_OK


def cmd_tasks(args: argparse.Namespace) -> int:
    """List implemented tasks with the partitions where each exists."""
    print(json.dumps(available(), indent=1))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="vima-sim", description="VIMA-Bench-compatible simulator."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write oracle episodes as raw VIMA episode folders")
    gen.add_argument("tasks", nargs="+")
    gen.add_argument("--episodes", type=int, required=True)
    gen.add_argument("--out", required=True)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=1)
    _add_scene_options(gen)
    gen.set_defaults(func=cmd_generate)
    show = sub.add_parser("show", help="picture of the prompt and both views at reset")
    show.add_argument("task")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--out")
    _add_scene_options(show)
    show.set_defaults(func=cmd_show)
    check = sub.add_parser("check", help="oracle success and timings over seeds")
    check.add_argument("tasks", nargs="*", help="default: every implemented task of --partition")
    check.add_argument("--all", action="store_true", help="every (level, task) pair of L1-L4")
    check.add_argument("--seeds", type=int, default=20)
    check.add_argument("--seed", type=int, default=10000)
    _add_scene_options(check)
    check.set_defaults(func=cmd_check)
    tasks = sub.add_parser("tasks", help="implemented tasks and their partitions")
    tasks.set_defaults(func=cmd_tasks)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 0 all done, 1 done with listed failures, 2 usage error."""
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("generate", "check"):
            _check_tasks(args.tasks or [], args.partition, args.difficulty)
            if args.command == "generate" and (args.episodes < 1 or args.workers < 1):
                raise ValueError("--episodes and --workers must be at least 1")
        elif args.command == "show":
            _check_tasks([args.task], args.partition, args.difficulty)
    except ValueError as error:
        print(f"vima-sim: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ValueError as error:
        print(f"vima-sim: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:
        return report_unexpected("vima-sim", error)


if __name__ == "__main__":
    sys.exit(main())
