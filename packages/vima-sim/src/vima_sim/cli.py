"""Command line of vima-sim: generate, show, check, tasks."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from vima_schema.atomic import remove_stale_temporaries
from vima_schema.command import (
    DifficultyOption,
    Result,
    SameShapeBasesOption,
    Tool,
    WorkersOption,
    completer,
    task_names,
)
from vima_schema.enums import Partition
from vima_schema.runner import (
    EXIT_FAILURES,
    EXIT_OK,
    append_failure,
    mark_work_started,
    run_items,
    tidy_failures,
)

tool = Tool("vima-sim", "VIMA-Bench-compatible simulator.")
main = tool.main


def _partition_names() -> list[str]:
    return list(Partition.__members__)


PartitionOption = Annotated[
    str,
    typer.Option(
        "--partition",
        help=f"Partition (level) of the scenes: {', '.join(Partition.__members__)}.",
        autocompletion=completer(_partition_names),
    ),
]
TaskNames = typer.Argument(
    metavar="TASK", help="Task names (see `vima-sim tasks`).", autocompletion=completer(task_names)
)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _check_tasks(
    tasks: list[str], partition: str, difficulty: str, same_shape_bases: str = "cogelot"
) -> None:
    from vima_sim.tasks import make_task, parse_same_shape_bases

    parse_same_shape_bases(same_shape_bases)  # raises ValueError with the valid names
    for task in tasks:
        make_task(task, partition, difficulty)  # raises ValueError with the reason


@tool.command()
def generate(
    tasks: Annotated[list[str], TaskNames],
    episodes: Annotated[
        int, typer.Option("--episodes", min=1, metavar="N", help="Episodes per task.")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="RAW", help="Raw episode root written.")],
    seed: Annotated[int, typer.Option("--seed", help="First episode seed.")] = 0,
    workers: WorkersOption = 1,
    partition: PartitionOption = "placement_generalization",
    difficulty: DifficultyOption = "easy",
    same_shape_bases: SameShapeBasesOption = "cogelot",
) -> Result:
    """Roll out the oracle and write successful episodes as raw VIMA episode folders
    (resumable; failures in failures.jsonl)."""
    from vima_sim.generate import pending_jobs, run_job
    from vima_sim.generator_record import check_and_record, task_record

    _check_tasks(tasks, partition, difficulty, same_shape_bases)
    record = task_record(partition, difficulty, seed, same_shape_bases)
    for task in check_and_record(out, tasks, record):
        _log(f"{out / task}: episodes without a generator record, kept as they are")
    remove_stale_temporaries(out, subfolders=True)  # episode folders a killed run began
    jobs = pending_jobs(tasks, partition, difficulty, episodes, seed, out, same_shape_bases)
    _log(f"vima-sim generate: {len(jobs)} episodes to write under {out}")
    failures = 0
    done: set[str] = set()
    for outcome in run_items(
        run_job, jobs, workers=workers, desc="generate", total=len(jobs), chunksize=1, output=out
    ):
        name = f"{outcome.item.task}/{outcome.item.index:06d}"
        if outcome.error is None:
            done.add(name)
            continue
        failures += 1
        append_failure(out / "failures.jsonl", name, outcome.error)
        _log(f"failed: {outcome.error}")
    tidy_failures(out / "failures.jsonl", done)
    return (EXIT_FAILURES if failures else EXIT_OK), out


@tool.command()
def show(
    task: Annotated[str, TaskNames],
    seed: Annotated[int, typer.Option("--seed", help="Scene seed.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="PNG", help="Picture written. [default: TASK-SEED.png]"),
    ] = None,
    partition: PartitionOption = "placement_generalization",
    difficulty: DifficultyOption = "easy",
    same_shape_bases: SameShapeBasesOption = "cogelot",
) -> Result:
    """Save a picture of the prompt and both views at reset."""
    _check_tasks([task], partition, difficulty, same_shape_bases)
    mark_work_started()
    from vima_sim.env import VimaEnv
    from vima_sim.show import reset_picture

    env = VimaEnv(task, partition, difficulty, same_shape_bases=same_shape_bases)
    try:
        obs, info = env.reset(seed=seed)
    finally:
        env.close()
    path = out or Path(f"{task}-{seed}.png")
    reset_picture(obs, info).save(path)
    _log(info["prompt"])
    return EXIT_OK, path


def _check_pairs(every: bool, tasks: list[str], partition: str) -> list[tuple[str, str]]:
    """(partition, task) pairs to check: every defined pair with --all, else the given tasks."""
    from vima_sim.tasks import available

    if every:
        from vima_sim.encyclopedia import partition_tasks
        from vima_sim.tasks import EVALUATION_PARTITIONS

        return [(p.name, t.name) for p in EVALUATION_PARTITIONS for t in partition_tasks(p)]
    tasks = tasks or [t for t, where in available().items() if partition in where["partitions"]]
    return [(partition, task) for task in tasks]


@tool.command()
def check(
    tasks: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TASK",
            help="Tasks to check. [default: every implemented task of --partition]",
            autocompletion=completer(task_names),
        ),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every (level, task) pair of L1-L4.")
    ] = False,
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, help="Scenes (seeds) per (level, task) pair.")
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="First seed.")] = 10000,
    partition: PartitionOption = "placement_generalization",
    difficulty: DifficultyOption = "easy",
    same_shape_bases: SameShapeBasesOption = "cogelot",
) -> int:
    """Oracle success rate, mean steps and timings (in seconds) over seeds per (level, task);
    one JSON row per pair on stdout."""
    import numpy as np

    _check_tasks(tasks or [], partition, difficulty, same_shape_bases)
    mark_work_started()
    from vima_sim.env import VimaEnv
    from vima_sim.rollout import oracle_rollout

    failed = False
    _log(f"{'level':28s} {'task':28s} success  steps  reset s  step s")
    for level, task in _check_pairs(every, tasks or [], partition):
        env = VimaEnv(task, level, difficulty, same_shape_bases=same_shape_bases)
        results = [oracle_rollout(env, seed + k) for k in range(seeds)]
        env.close()
        steps = [s for r in results for s in r.step_s]
        row = {
            "task": task,
            "partition": level,
            "difficulty": difficulty,
            "same_shape_bases": same_shape_bases,
            "seeds": seeds,
            "success": float(np.mean([r.success for r in results])),
            "mean_steps": float(np.mean([r.steps for r in results])),
            "reset_s": float(np.mean([r.reset_s for r in results])),
            "step_s": float(np.mean(steps)) if steps else 0.0,
        }
        failed |= row["success"] < 1.0
        _log(
            f"{level:28s} {task:28s} {row['success']:6.1%}  {row['mean_steps']:5.2f}  "
            f"{row['reset_s']:7.3f}  {row['step_s']:6.3f}"
        )
        print(json.dumps(row), flush=True)
    return EXIT_FAILURES if failed else EXIT_OK


@tool.command()
def tasks() -> int:
    """List implemented tasks with the partitions and difficulties where each exists (JSON)."""
    mark_work_started()
    from vima_sim.tasks import available

    print(json.dumps(available(), indent=1))
    return EXIT_OK
