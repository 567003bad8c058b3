"""Compares the actions of a `vima-eval online --env vima-bench --record K` run of an imported
VIMA checkpoint with those of VIMA's own evaluation loop on the same episode seeds.

    uv run --all-packages --all-extras python scripts/reference/compare_closed_loop.py \
        --run RUN --python VIMA_BENCH_PYTHON --checkout VIMA --vima-file FILE \
        --spec SPEC.json --tokenizer tokenizer.json [--out RUN/closed-loop.json]

RUN's recorded episodes (noop perturbation) give the episode seeds and the actions vima-eval
took; closed_loop_vima.py runs VIMA's example.py `main` on each seed with VIMA's own policy
code loaded from FILE (the file that was imported). Per episode: the prompt, the number of steps
of each, and the first step whose action differs (any axis by more than 1e-6). The last stdout
line is the JSON written.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).parent
KEYS = ("pose0_position", "pose0_rotation", "pose1_position", "pose1_rotation")


def first_difference(ours: list[dict], theirs: list[dict], tolerance: float = 1e-6) -> int | None:
    """Index of the first step whose actions differ (or where one episode is longer)."""
    for step, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        for key in KEYS:
            if len(a[key]) < len(b[key]) or any(
                abs(x - y) > tolerance for x, y in zip(a[key], b[key], strict=False)
            ):
                return step
    return None if len(ours) == len(theirs) else min(len(ours), len(theirs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("run", "python", "checkout", "vima-file", "spec", "tokenizer"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    table = pq.read_table(args.run / "episodes.parquet").to_pylist()
    by_task: dict[str, list[dict]] = defaultdict(list)
    for row in table:
        folder = args.run / "recordings" / row["perturbation"] / row["episode"].replace("/", "-")
        if row["perturbation"] == "noop" and (folder / "episode.json").is_file():
            recording = json.loads((folder / "episode.json").read_text())
            by_task[row["task"]].append({**row, "actions": recording["actions"]})
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, rows in sorted(by_task.items()):
            out = Path(tmp) / f"{task}.json"
            seeds = ",".join(str(r["episode_seed"]) for r in rows)
            command = [
                str(args.python), str(HERE / "closed_loop_vima.py"),
                "--checkout", str(args.checkout), "--ckpt", str(args.vima_file),
                "--spec", str(args.spec), "--tokenizer", str(args.tokenizer),
                "--task", task, "--seeds", seeds, "--out", str(out),
            ]  # fmt: skip
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            theirs = json.loads(out.read_text())["episodes"]
            for ours, reference in zip(rows, theirs, strict=True):
                differs = first_difference(ours["actions"], reference["actions"])
                results.append(
                    {
                        "task": task,
                        "episode": ours["episode"],
                        "seed": ours["episode_seed"],
                        "same_prompt": ours["prompt"] == reference.get("prompt"),
                        "steps": [len(ours["actions"]), len(reference["actions"])],
                        "success": [ours["success"], reference.get("success")],
                        "first_difference": differs,
                    }
                )
                print(json.dumps(results[-1]), file=sys.stderr)
    same = sum(r["first_difference"] is None and r["same_prompt"] for r in results)
    summary = {"episodes": len(results), "identical": same, "results": results}
    target = args.out or args.run / "closed-loop.json"
    target.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"compare_closed_loop.py: {same} of {len(results)} episodes identical", file=sys.stderr)
    print(target)


if __name__ == "__main__":
    main()
