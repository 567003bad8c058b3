"""VIMA-Bench's own account of episodes, for `test_eval_vima_bench_real.py`; run with VIMA-Bench's
interpreter (it imports nothing of this project).

    PYTHON vima_bench_reference.py CASES.json OUT.json FRAMES.npz

Every case ({"task", "partition", "seed", "actions"}) gets a fresh env made as VIMA-Bench's
README makes benchmarking environments (`make(task, modalities, task_kwargs=PARTITION_TO_SPECS
["test"][partition][task], seed=seed)`), is reset, and steps `actions` as VIMA-Bench's oracle
scripts step oracle actions (`skip_oracle=False`). OUT.json holds per case the prompt, task
name, object count and names, difficulty, oracle_max_steps and each step's success, failure and
done; FRAMES.npz the top and front views after reset and after each step (`<case>/<i>/<view>`).
Works with upstream VIMA-Bench and CoGeLoT's copy (reset() returns nothing there; the first
observation comes from step(None), and step returns five values).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import vima_bench


def _specs() -> dict[str, Any]:
    if hasattr(vima_bench, "PARTITION_TO_SPECS"):
        return vima_bench.PARTITION_TO_SPECS
    from vima_bench.tasks import get_partition_to_specs

    return get_partition_to_specs()


def _step(env: Any, action: Any) -> tuple[Any, bool, dict[str, Any]]:
    result = env.step(action) if action is None else env.step(action, skip_oracle=False)
    obs, done, info = result[0], result[2], result[-1]
    return obs, bool(done), info


def run_case(case: dict[str, Any], frames: dict[str, np.ndarray], index: int) -> dict[str, Any]:
    """Reset a fresh env at the case's seed, step its actions; what VIMA-Bench says."""
    task, partition = case["task"], case["partition"]
    env = vima_bench.make(
        task,
        modalities=["rgb", "segm"],
        task_kwargs=_specs()["test"][partition][task] or {},
        seed=case["seed"],
    )
    try:
        obs = env.reset()
        if obs is None:
            obs, _, _ = _step(env, None)
        meta = env.meta_info
        names = [str(info["obj_name"]) for info in meta["obj_id_to_info"].values()]
        result: dict[str, Any] = {
            "prompt": env.prompt,
            "task_name": env.task.task_name,
            "n_objects": int(meta["n_objects"]),
            "objects": sorted(names),
            "difficulty": meta["difficulty"],
            "oracle_max_steps": int(env.task.oracle_max_steps),
            "steps": [],
        }
        for step, action in enumerate([None, *case["actions"]]):
            if action is not None:
                array = {key: np.asarray(value, np.float32) for key, value in action.items()}
                obs, done, info = _step(env, array)
                outcome = {"success": bool(info["success"]), "failure": bool(info["failure"])}
                result["steps"].append({**outcome, "done": done})
            for view in ("front", "top"):
                frames[f"{index}/{step}/{view}"] = np.asarray(obs["rgb"][view], np.uint8)
        return result
    finally:
        env.close()


def main() -> None:
    cases_path, out_path, frames_path = sys.argv[1:4]
    with open(cases_path) as stream:
        cases = json.load(stream)
    frames: dict[str, np.ndarray] = {}
    results = [run_case(case, frames, i) for i, case in enumerate(cases)]
    np.savez_compressed(frames_path, **frames)
    with open(out_path, "w") as stream:
        json.dump(results, stream)


if __name__ == "__main__":
    main()
