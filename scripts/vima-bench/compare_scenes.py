"""Compare the scenes vima-sim and VIMA-Bench draw for the same episode seeds.

    uv run --all-packages --all-extras python scripts/vima-bench/compare_scenes.py \
        --env-python PYTHON [--level 1] [--episodes 10] [--difficulty easy] [--out DIR]

For every task of the level and the first N episode seeds of `vima-eval online` (run seed 0, so
the scenes of `vima-eval oracle --episodes N` runs), both simulators reset and the scene is
recorded: object count, each object's shape, texture and position (the centroid of its pixels in
the top view, mapped to workspace x, y). Records go to DIR/scenes.jsonl (one line per backend,
task and episode; a rerun skips what is there), the per-task comparison to DIR/scenes.md (the
last stdout line is its path). Shapes or textures one simulator uses and the other never does
are flagged.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from vima_eval.online.episode import reset_seeded
from vima_eval.online.seeds import episode_seed
from vima_eval.online.vima_bench_env import VimaBenchEnv
from vima_schema.enums import Partition
from vima_sim.env import VimaEnv
from vima_sim.tasks import available

BACKENDS = ("builtin", "vima-bench")
LEVELS = {p.value: p for p in Partition if p.value}  # L1..L4
#: The top view spans x 0.25..0.75 over its 128 rows and y -0.5..0.5 over its 256 columns.
ROWS, COLUMNS = 128, 256


def positions(segm_top: np.ndarray, ids: list[int]) -> dict[int, tuple[float, float] | None]:
    """Workspace (x, y) of each object's pixel centroid in the top view (None if unseen)."""
    out: dict[int, tuple[float, float] | None] = {}
    for obj_id in ids:
        rows, cols = np.nonzero(segm_top == obj_id)
        if len(rows) == 0:
            out[obj_id] = None
            continue
        x = 0.25 + (float(rows.mean()) + 0.5) / ROWS * 0.5
        y = -0.5 + (float(cols.mean()) + 0.5) / COLUMNS
        out[obj_id] = (round(x, 4), round(y, 4))
    return out


def scene(env: Any, seed: int) -> dict[str, Any]:
    """Reset `env` with `seed` (vima-sim's fallback seeds) and describe the scene."""
    used, obs, info = reset_seeded(env, seed)
    objects = info["meta"]["obj_id_to_info"]
    where = positions(np.asarray(obs["segm"]["top"]), sorted(objects))
    return {
        "seed": used,
        "n_objects": len(objects),
        "objects": [
            {"shape": objects[i].obj_name, "texture": objects[i].texture_name, "xy": where[i]}
            for i in sorted(objects)
        ],
    }


def collect(args: argparse.Namespace, records: Path) -> None:
    """Append the scenes still missing from `records`."""
    done = set()
    if records.exists():
        for line in records.read_text().splitlines():
            row = json.loads(line)
            done.add((row["backend"], row["task"], row["episode"]))
    partition = LEVELS[args.level]
    tasks = args.tasks or [t for t, i in available().items() if partition.name in i["partitions"]]
    for backend in BACKENDS:
        for task in tasks:
            missing = [e for e in range(args.episodes) if (backend, task, e) not in done]
            if not missing:
                continue
            if backend == "builtin":
                env: Any = VimaEnv(task, partition.name, args.difficulty)
            else:
                env = VimaBenchEnv(args.env_python, task, partition.name, args.difficulty)
            try:
                for episode in missing:
                    seed = episode_seed(0, args.level, task, episode)
                    row = {"backend": backend, "task": task, "episode": episode,
                           **scene(env, seed)}  # fmt: skip
                    with records.open("a") as stream:
                        stream.write(json.dumps(row) + "\n")
                    print(f"{backend} {task} {episode}: {row['n_objects']} objects",
                          file=sys.stderr)  # fmt: skip
            finally:
                env.close()


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.fmean(values):.3f} [{min(values):.2f}, {max(values):.2f}]"


def summarise(records: Path) -> str:
    """The per-task comparison table (markdown)."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in records.read_text().splitlines():
        row = json.loads(line)
        by[(row["task"], row["backend"])].append(row)
    lines = [
        "| task | backend | episodes | objects (mean, range) | x mean [min, max] | "
        "y mean [min, max] | shapes | textures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    flags = []
    for task in sorted({t for t, _ in by}):
        used: dict[str, tuple[set[str], set[str]]] = {}
        for backend in BACKENDS:
            rows = by.get((task, backend), [])
            counts = [r["n_objects"] for r in rows]
            objects = [o for r in rows for o in r["objects"]]
            xs = [o["xy"][0] for o in objects if o["xy"]]
            ys = [o["xy"][1] for o in objects if o["xy"]]
            shapes, textures = {o["shape"] for o in objects}, {o["texture"] for o in objects}
            used[backend] = (shapes, textures)
            count = (
                f"{statistics.fmean(counts):.1f} ({min(counts)}-{max(counts)})" if counts else "-"
            )
            lines.append(f"| {task} | {backend} | {len(rows)} | {count} | {_spread(xs)} | "
                         f"{_spread(ys)} | {len(shapes)} | {len(textures)} |")  # fmt: skip
        for kind, index in (("shapes", 0), ("textures", 1)):
            only_a = used[BACKENDS[0]][index] - used[BACKENDS[1]][index]
            only_b = used[BACKENDS[1]][index] - used[BACKENDS[0]][index]
            for backend, only in ((BACKENDS[0], only_a), (BACKENDS[1], only_b)):
                if only:
                    flags.append(f"- {task}: {kind} only in {backend}: {', '.join(sorted(only))}")
    notes = flags or ["- no shape or texture is used by one only"]
    return "\n".join([*lines, "", *notes]) + "\n"


def main() -> int:
    """Collect (resumably) and summarise; print the summary's path last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-python", required=True, help="VIMA-Bench's interpreter")
    parser.add_argument("--level", type=int, choices=sorted(LEVELS), default=1)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--difficulty", default="easy")
    parser.add_argument("--tasks", nargs="*", help="default: every task of the level")
    parser.add_argument("--out", type=Path, default=Path("scenes"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    records = args.out / "scenes.jsonl"
    collect(args, records)
    summary = args.out / "scenes.md"
    summary.write_text(summarise(records))
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
