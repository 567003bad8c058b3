"""Benchmark of vima-sim: where an episode's time goes, per-task episode times, whole-process
`generate` against VIMA-Bench's own oracle generation.

    uv run --all-packages python packages/vima-sim/bench/bench_sim.py breakdown
    uv run --all-packages python packages/vima-sim/bench/bench_sim.py per-task --seeds 2 \\
        [--vima-bench-python PY]
    uv run --all-packages python packages/vima-sim/bench/bench_sim.py generate --rounds 2 \\
        [--vima-bench-python PY --vima-bench-checkout DIR]

All figures are CPU seconds (user + system of the process, `resource.getrusage` of the children
for whole processes), which other load on a shared machine hardly changes; wall-clock times are
printed beside them. Child processes write and reuse bytecode under a private
`PYTHONPYCACHEPREFIX`, after one warm-up run, as an installed environment does (this sandbox sets
PYTHONDONTWRITEBYTECODE, which makes every process compile its imports from source). VIMA-Bench
(a checkout and an interpreter with it, e.g. from scripts/vima-bench/setup.sh) is only run,
never imported here; `generate` runs its scripts/data_generation/run.py, which also imports
hydra and tqdm (`uv pip install --python PY hydra-core tqdm`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAIR_TASKS = ("visual_manipulation", "follow_order")

#: Phases of an episode: (label, (module, attribute) pairs timed by a wrapper; none nested).
#: Attributes missing in the code under test are skipped, so earlier versions can be measured
#: too (PYTHONPATH=<old checkout>/packages/vima-sim/src): there World.render rendered observations.
PHASES = (
    ("inverse kinematics", (("vima_sim.robot", "Arm.solve_ik"),)),
    ("physics ticks", (("pybullet", "stepSimulation"),)),
    ("observation renders", (("vima_sim.prompt_assets", "AssetRenderer.observe"),
                             ("vima_sim.world", "World.render"))),
    ("prompt-asset renders", (("vima_sim.prompt_assets", "AssetRenderer.render"),)),
    ("oracle top-down maps", (("vima_sim.tasks.base", "capture"),)),
    ("scene loading (reset, objects)", (("vima_sim.world", "World.reset"),
                                        ("vima_sim.world", "World.add_object"))),
    ("JPEG encoding", (("vima_sim.recording", "encode_jpeg"),)),
    ("writing the episode", (("vima_sim.generate", "write_episode"),)),
)  # fmt: skip
#: Parts of the phases above, shown separately (not subtracted from them).
NESTED = (
    ("  within the above: texture decoding", (("pybullet", "loadTexture"),)),
    ("  within the above: URDF loading", (("pybullet", "loadURDF"),)),
    ("  within the above: getCameraImage", (("pybullet", "getCameraImage"),)),
    ("  within the above: changeVisualShape", (("pybullet", "changeVisualShape"),)),
)


#: Runs VIMA-Bench's own oracle generation (its scripts/data_generation/run.py) for one task.
VIMA_BENCH_GENERATE = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/scripts/data_generation"]
from run import _generate_data_for_one_task
from vima_bench import PARTITION_TO_SPECS
task, episodes, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
_generate_data_for_one_task(
    task, PARTITION_TO_SPECS["train"][task], ["rgb", "segm"], episodes, True, out, 6, seed=0
)
"""

#: Times VIMA-Bench's reset and oracle steps per task (CPU seconds per episode) in one process.
VIMA_BENCH_PER_TASK = """
import json, sys, time
import numpy as np
import vima_bench
from vima_bench import PARTITION_TO_SPECS
seeds = int(sys.argv[1])
for spec in json.loads(sys.argv[2]):
    task, partition = spec
    kwargs = PARTITION_TO_SPECS["test"][partition][task]
    env = vima_bench.make(task_name=task, task_kwargs=kwargs, modalities=["rgb", "segm"], seed=0)
    oracle = env.task.oracle(env)
    cpu, ok = [], 0
    for seed in range(seeds):
        start = time.process_time()
        for attempt in range(10):  # VIMA-Bench raises ValueError for an unsampleable scene
            env.seed(10000 + seed + 100000 * attempt)
            try:
                obs = env.reset()
                break
            except ValueError:
                continue
        info = {"success": False}
        for _ in range(env.task.oracle_max_steps):
            action = oracle.act(obs)
            if action is None:
                break
            action = {k: np.clip(v, env.action_space[k].low, env.action_space[k].high)
                      for k, v in action.items()}
            obs, _, done, info = env.step(action=action, skip_oracle=False)
            if done:
                break
        cpu.append(time.process_time() - start)
        ok += bool(info["success"])
    env.close()
    print(json.dumps({"task": task, "cpu": sum(cpu) / len(cpu), "ok": ok}), flush=True)
"""


def _child_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


# -- breakdown ------------------------------------------------------------------------------------
def _timers() -> dict[str, float]:
    """Wrap every PHASES function to add its CPU time to the returned dict (by label)."""
    spent = dict.fromkeys((label for label, _ in PHASES + NESTED), 0.0)

    def wrap(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start

        return timed

    for label, targets in PHASES + NESTED:
        for module, attribute in targets:
            owner: Any = importlib.import_module(module)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            if owner is not None and hasattr(owner, name):
                setattr(owner, name, wrap(label, getattr(owner, name)))
    return spent


def breakdown_child(task: str, episodes: int) -> None:
    """Time the phases of `vima-sim generate` of one task in this process; print JSON."""
    startup = time.process_time()  # interpreter start-up so far
    from vima_sim.generate import pending_jobs, run_job

    imports = time.process_time() - startup
    spent = _timers()
    with tempfile.TemporaryDirectory() as out:
        jobs = pending_jobs([task], "placement_generalization", "easy", episodes, 0, Path(out))
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        cpu = time.process_time()
        for job in jobs:
            run_job(job)
        cpu = time.process_time() - cpu
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(json.dumps({"task": task, "episodes": episodes, "startup": startup, "imports": imports,
                      "total": cpu, "faults": faults, "phases": spent}))  # fmt: skip


def breakdown(tasks: list[str], episodes: int) -> None:
    """Where a `generate` episode's CPU time goes, per task."""
    with tempfile.TemporaryDirectory() as cache:
        env = _child_env(Path(cache))
        for task in tasks:
            cmd = [sys.executable, __file__, "_breakdown", task, str(episodes)]
            subprocess.run(cmd, check=True, capture_output=True, env=env)  # warm-up (bytecode)
            row = json.loads(subprocess.run(cmd, check=True, capture_output=True, env=env,
                                            text=True).stdout.splitlines()[-1])  # fmt: skip
            n = row["episodes"]
            print(f"\n{task}: {n} episodes, CPU s per episode")
            for label, key in (("process start-up (interpreter)", "startup"),
                               ("imports (vima_sim.generate)", "imports")):  # fmt: skip
                print(f"  {label:38s} {row[key] / n:7.3f}  ({row[key]:.3f} per process)")
            rest = row["total"]
            nested = {label for label, _ in NESTED}
            for label, seconds in row["phases"].items():
                rest -= 0.0 if label in nested else seconds
                share = 100 * seconds / row["total"]
                print(f"  {label:38s} {seconds / n:7.3f}  {share:5.1f} %")
            print(f"  {'other (settling checks, oracle, glue)':38s} {rest / n:7.3f}  "
                  f"{100 * rest / row['total']:5.1f} %")  # fmt: skip
            print(f"  {'total (without start-up)':38s} {row['total'] / n:7.3f}")
            print(f"  {'minor page faults':38s} {row['faults'] / n:7.0f}")


# -- per task -------------------------------------------------------------------------------------
def _pairs() -> list[tuple[str, str]]:
    """Each task once, at the first level that has it."""
    from vima_sim.encyclopedia import partition_tasks
    from vima_sim.tasks import EVALUATION_PARTITIONS

    seen: dict[str, str] = {}
    for partition in EVALUATION_PARTITIONS:
        for task in partition_tasks(partition):
            seen.setdefault(task.name, partition.name)
    return list(seen.items())


def per_task(seeds: int, vima_bench_python: str | None) -> None:
    """CPU seconds per oracle episode (reset + steps) per task, beside VIMA-Bench's."""
    from vima_sim import VimaEnv

    pairs = _pairs()
    theirs: dict[str, dict[str, float]] = {}
    if vima_bench_python:
        names = json.dumps(pairs)  # the level names are VIMA-Bench's
        run = subprocess.run([vima_bench_python, "-c", VIMA_BENCH_PER_TASK, str(seeds), names],
                             check=True, capture_output=True, text=True)  # fmt: skip
        for line in run.stdout.splitlines():
            if '{"task"' in line:  # pybullet's C code prints without newlines before it
                row = json.loads(line[line.index('{"task"') :])
                theirs[row["task"]] = row
    print(f"{'task':28s} {'level':26s} vima-sim CPU s/ep  VIMA-Bench CPU s/ep  ratio")
    for task, partition in pairs:
        env = VimaEnv(task, partition)
        cpu: list[float] = []
        for seed in range(seeds):
            start = time.process_time()
            _, info = env.reset(seed=10000 + seed)
            for _ in range(info["max_steps"]):
                action = env.oracle_action()
                if action is None:
                    break
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    break
            cpu.append(time.process_time() - start)
        env.close()
        mine = sum(cpu) / len(cpu)
        other = theirs.get(task, {}).get("cpu")
        ratio = f"{other / mine:5.1f}x" if other else "-"
        other_s = f"{other:8.3f}" if other else "       -"
        print(f"{task:28s} {partition:26s} {mine:12.3f}      {other_s}        {ratio}", flush=True)


# -- whole processes ------------------------------------------------------------------------------
def generate(
    tasks: list[str], episodes: int, rounds: int, vima_bench_python: str | None,
    vima_bench_checkout: str | None,
) -> None:  # fmt: skip
    """Whole `generate` processes, one per task, alternating with VIMA-Bench's own generation."""
    vima_sim = str(Path(sys.executable).with_name("vima-sim"))
    mine: dict[str, list[tuple[float, float]]] = {t: [] for t in tasks}
    theirs: dict[str, list[tuple[float, float]]] = {t: [] for t in tasks}
    with tempfile.TemporaryDirectory() as tmp:
        env = _child_env(Path(tmp) / "pycache")
        for r in range(rounds + 1):  # round 0 warms the bytecode caches and is not counted
            for task in tasks:
                out = Path(tmp) / f"mine-{r}-{task}"
                cmd = [vima_sim, "generate", task, "--episodes", str(episodes), "--out", str(out)]
                timing = _timed(cmd, env)
                if r:
                    mine[task].append(timing)
                if vima_bench_python and vima_bench_checkout:
                    out = Path(tmp) / f"theirs-{r}-{task}"
                    cmd = [vima_bench_python, "-c", VIMA_BENCH_GENERATE, vima_bench_checkout,
                           task, str(episodes), str(out)]  # fmt: skip
                    timing = _timed(cmd, env)
                    if r:
                        theirs[task].append(timing)
    print(f"whole processes, {episodes} episodes each, mean of {rounds} alternating rounds")
    print(f"{'task':22s} vima-sim CPU s (wall)   VIMA-Bench CPU s (wall)   CPU ratio")
    total_mine = total_theirs = 0.0
    for task in tasks:
        m_wall = sum(w for w, _ in mine[task]) / rounds
        m_cpu = sum(c for _, c in mine[task]) / rounds
        total_mine += m_cpu
        line = f"{task:22s} {m_cpu:7.2f} ({m_wall:6.2f})"
        if theirs[task]:
            t_wall = sum(w for w, _ in theirs[task]) / rounds
            t_cpu = sum(c for _, c in theirs[task]) / rounds
            total_theirs += t_cpu
            line += f"        {t_cpu:7.2f} ({t_wall:6.2f})        {t_cpu / m_cpu:5.2f}x"
        print(line)
    n = episodes * len(tasks)
    summary = f"all: vima-sim {total_mine / n:.3f} CPU s per episode"
    if total_theirs:
        summary += f", VIMA-Bench {total_theirs / n:.3f}: {total_theirs / total_mine:.2f}x"
    print(summary)


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("breakdown")
    b.add_argument("tasks", nargs="*", default=list(PAIR_TASKS))
    b.add_argument("--episodes", type=int, default=4)
    c = sub.add_parser("_breakdown")
    c.add_argument("task")
    c.add_argument("episodes", type=int)
    p = sub.add_parser("per-task")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--vima-bench-python")
    g = sub.add_parser("generate")
    g.add_argument("tasks", nargs="*", default=list(PAIR_TASKS))
    g.add_argument("--episodes", type=int, default=4)
    g.add_argument("--rounds", type=int, default=2)
    g.add_argument("--vima-bench-python")
    g.add_argument("--vima-bench-checkout")
    args = parser.parse_args()
    if args.what == "breakdown":
        breakdown(args.tasks, args.episodes)
    elif args.what == "_breakdown":
        breakdown_child(args.task, args.episodes)
    elif args.what == "per-task":
        per_task(args.seeds, args.vima_bench_python)
    else:
        generate(args.tasks, args.episodes, args.rounds, args.vima_bench_python,
                 args.vima_bench_checkout)  # fmt: skip


if __name__ == "__main__":
    main()
