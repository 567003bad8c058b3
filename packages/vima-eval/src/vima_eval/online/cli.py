"""The `online`, `oracle` and `merge` commands of `vima-eval`."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from vima_schema.command import (
    DifficultyOption,
    Result,
    Tool,
    completer,
    list_completer,
    perturbation_names,
    same_shape_bases_names,
    task_names,
)
from vima_schema.runner import EXIT_FAILURES, EXIT_OK

PROG = "vima-eval"


def _level_names() -> list[str]:
    from vima_eval.online.plan import LEVEL_PARTITIONS

    return [f"L{level}" for level in sorted(LEVEL_PARTITIONS)]


Perturbations = Annotated[
    list[str] | None,
    typer.Option(
        "--perturb",
        metavar="NAME",
        help="A prompt perturbation (repeatable; see `vima-eval perturbations`). [default: noop]",
        autocompletion=completer(perturbation_names),
    ),
]
Device = Annotated[str, typer.Option("--device", help="Torch device, e.g. cuda.")]
PatchMask = Annotated[
    Literal["mask", "ignore"],
    typer.Option(
        "--patch-image-mask",
        help="Patch models under mask_visual/mask_both: mask the prompt images, or leave them "
        "visible as CoGeLoT does (ignore).",
    ),
]
Levels = Annotated[
    str | None,
    typer.Option(
        "--levels",
        help="Comma-separated levels, e.g. L1,L2. [default: all four]",
        autocompletion=list_completer(_level_names),
    ),
]
Tasks = Annotated[
    str | None,
    typer.Option(
        "--tasks",
        help="Comma-separated task names. [default: every implemented task]",
        autocompletion=list_completer(task_names),
    ),
]
Episodes = Annotated[int, typer.Option("--episodes", help="Episodes per (level, task) pair.")]
Start = Annotated[int, typer.Option("--start", help="First episode number (shards of a run).")]
Seed = Annotated[int, typer.Option("--seed", help="Run seed (episode seeds derive from it).")]
Workers = Annotated[
    int, typer.Option("--workers", help="Worker processes, each with its own simulator.")
]
Out = Annotated[Path, typer.Option("--out", metavar="DIR", help="Result folder written.")]
Resume = Annotated[bool, typer.Option("--resume", help="Skip finished episodes in DIR.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an earlier run in DIR.")]
Env = Annotated[
    Literal["builtin", "vima-bench"],
    typer.Option("--env", help="Simulator: vima-sim (builtin) or a VIMA-Bench checkout."),
]
EnvPython = Annotated[
    str | None,
    typer.Option(
        "--env-python",
        metavar="PYTHON",
        help="Interpreter with vima_bench (for --env vima-bench). [default: none]",
    ),
]
SameShapeBases = Annotated[
    str | None,
    typer.Option(
        "--same-shape-bases",
        help="same_shape / same_texture bases of --env builtin: cogelot (bases but bowl, pan, "
        "pallet scaled by 2.5, as in CoGeLoT's VIMA-Bench) or upstream (unscaled, as in "
        "VIMA-Bench and VIMA-Data); with --env vima-bench its checkout decides. "
        "[default: cogelot]",
        autocompletion=completer(same_shape_bases_names),
    ),
]
TimeLimit = Annotated[
    str,
    typer.Option(
        "--time-limit",
        help="Actions per episode: vima (oracle max steps + 2), oracle, minimum, or a number.",
    ),
]
Record = Annotated[
    int,
    typer.Option(
        "--record",
        metavar="K",
        help="Keep the first K episodes of each level, task and perturbation: "
        "GIF videos and the frames, prompt images and actions `vima-eval view` shows.",
    ),
]
Wandb = Annotated[
    Literal["offline", "online", "disabled"],
    typer.Option("--wandb", help="Weights & Biases mode."),
]
PolicyServer = Annotated[
    bool,
    typer.Option(
        "--policy-server",
        help="Run the policy in one process that answers every worker's steps "
        "(one copy of the weights; same actions as per-worker policies).",
    ),
]
FlushEvery = Annotated[
    int, typer.Option("--flush-every", metavar="N", help="Episodes per parquet part.")
]


def register_online_commands(tool: Tool, report: Callable[[Path], Any]) -> None:
    """Register `online`, `oracle` and `merge` on the `vima-eval` tool; each ends with
    `report(folder)`, the report of the run folder (passed in: online code imports no report)."""

    @tool.command()
    def online(
        checkpoint: Annotated[
            Path, typer.Argument(metavar="CKPT", help="A vima-train checkpoint.")
        ],
        levels: Levels = None,
        tasks: Tasks = None,
        episodes: Episodes = 100,
        start: Start = 0,
        perturb: Perturbations = None,
        difficulty: DifficultyOption = "easy",
        seed: Seed = 0,
        workers: Workers = 1,
        out: Out = Path("online"),
        resume: Resume = False,
        overwrite: Overwrite = False,
        env: Env = "builtin",
        env_python: EnvPython = None,
        same_shape_bases: SameShapeBases = None,
        time_limit: TimeLimit = "vima",
        record: Record = 0,
        wandb: Wandb = "offline",
        flush_every: FlushEvery = 8,
        device: Device = "cpu",
        patch_image_mask: PatchMask = "mask",
        policy_server: PolicyServer = False,
    ) -> Result:
        """Closed-loop evaluation of a checkpoint in the simulator."""
        return _finish("online", _loop(locals()), report)

    @tool.command()
    def oracle(
        levels: Levels = None,
        tasks: Tasks = None,
        episodes: Episodes = 100,
        start: Start = 0,
        perturb: Perturbations = None,
        difficulty: DifficultyOption = "easy",
        seed: Seed = 0,
        workers: Workers = 1,
        out: Out = Path("online"),
        resume: Resume = False,
        overwrite: Overwrite = False,
        env: Env = "builtin",
        env_python: EnvPython = None,
        same_shape_bases: SameShapeBases = None,
        time_limit: TimeLimit = "vima",
        record: Record = 0,
        wandb: Wandb = "offline",
        flush_every: FlushEvery = 8,
    ) -> Result:
        """The online loop with the simulator's oracle acting (checks the loop and the tasks)."""
        return _finish("oracle", _loop(locals()), report)

    _register_merge(tool, report)


def _register_merge(tool: Tool, report: Callable[[Path], Any]) -> None:
    """Register `merge` (the SLURM array's last step) on the `vima-eval` tool."""

    @tool.command()
    def merge(
        shards: Annotated[
            list[Path], typer.Argument(metavar="SHARD", help="Result folders of array jobs.")
        ],
        out: Annotated[
            Path, typer.Option("--out", metavar="DIR", help="Merged result folder written.")
        ],
    ) -> Result:
        """Merge online shard folders (SLURM array jobs) into one result folder."""
        from vima_eval.online.closed_loop import merge_runs

        return _finish("merge", merge_runs(shards, out), report)


def _loop(options: dict[str, Any]) -> Any:
    """Run `online` or `oracle` with the options of its command line; the run's result."""
    from vima_eval.online.closed_loop import OnlineSettings, run_online
    from vima_eval.online.plan import parse_levels

    tasks = options["tasks"]
    settings = OnlineSettings(
        checkpoint=options.get("checkpoint"),
        levels=parse_levels(options["levels"]),
        tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else None,
        episodes=options["episodes"],
        start=options["start"],
        perturbations=list(dict.fromkeys(options["perturb"] or ["noop"])),
        difficulty=options["difficulty"],
        seed=options["seed"],
        workers=options["workers"],
        device=options.get("device", "cpu"),
        env=options["env"],
        env_python=options["env_python"],
        same_shape_bases=options["same_shape_bases"],
        time_limit=options["time_limit"],
        record=options["record"],
        wandb=options["wandb"],
        flush_every=options["flush_every"],
        patch_image_mask=options.get("patch_image_mask", "mask"),
        policy_server=options.get("policy_server", False),
    )
    out = options["out"]
    return run_online(settings, out, resume=options["resume"], overwrite=options["overwrite"])


def _finish(command: str, result: Any, report: Callable[[Path], Any]) -> Result:
    """Write the run's report, count ran/skipped/failed episodes on stderr; the result folder
    is the product."""
    report(result.out)
    print(
        f"{PROG} {command}: {result.ran} episodes, {result.skipped} already done, "
        f"{len(result.errors)} failed",
        file=sys.stderr,
    )
    for error in result.errors:
        print(f"  {error['episode']} ({error['perturbation']}): "
              f"{error['problem'].splitlines()[0]}", file=sys.stderr)  # fmt: skip
    return (EXIT_FAILURES if result.errors else EXIT_OK), result.out
