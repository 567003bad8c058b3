"""History-free simulation: an episode is the same whatever episodes came before it in the
process and environment (task objects reused across resets, the renderer's remembered depth
ties, `generate`'s per-process environment)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from vima_sim.tasks import EVALUATION_PARTITIONS, available

SEED_A, SEED_B = 3, 4
#: Oracle actions per episode: enough for the step path (actions, frames after a move, goal
#: bookkeeping) at a third of the cost of whole episodes.
ACTIONS = 1


def _cases() -> list[tuple[str, str, str]]:
    """Every task at every difficulty, the difficulties spread over the task's levels."""
    cases = []
    for task, where in available().items():
        levels = [p.name for p in EVALUATION_PARTITIONS if p.name in where["partitions"]]
        for i, difficulty in enumerate(where["difficulties"]):
            cases.append((task, levels[i % len(levels)], difficulty))
    return cases


BASE_CASES = _cases()
#: same_shape / same_texture with upstream's unscaled bases: seed A's base is a bowl (its own
#: placement tolerance), seed B's a square.
VARIANT_CASES = [
    ("same_shape", "placement_generalization", "easy", "upstream"),
    ("same_texture", "novel_task_generalization", "easy", "upstream"),
]
CASES: list[tuple[str, ...]] = [*BASE_CASES, *VARIANT_CASES]


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    """Digests of seed B alone and after seed A, for every case (`history_probe.py`)."""
    script = Path(__file__).with_name("history_probe.py")
    args = [json.dumps(CASES), str(SEED_A), str(SEED_B), str(ACTIONS)]
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_cases_cover_every_task_difficulty_and_level() -> None:
    assert len({task for task, _, _ in BASE_CASES}) == 17
    assert len(BASE_CASES) == 17 * 4
    assert {level for _, level, _ in BASE_CASES} == {p.name for p in EVALUATION_PARTITIONS}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids="/".join)
def test_seed_after_another_equals_seed_alone(case: tuple[str, ...], probe: dict[str, Any]) -> None:
    """Seed B after seed A in one environment of one process equals seed B made first in a
    fresh process, byte for byte: every raw episode file (observations, prompt images,
    actions, trajectory, frames) and every attribute of the task object."""
    result = probe["/".join(case)]
    assert "error" not in result, result.get("error")
    alone, after = result["alone"], result["after"]
    assert {"obs.pkl", "action.pkl", "trajectory.pkl"} <= alone.keys()
    assert {"rgb_front/1.jpg", "rgb_top/1.jpg"} <= alone.keys()  # a frame after an action
    differ = sorted(key for key in alone.keys() | after.keys() if alone.get(key) != after.get(key))
    assert differ == [], f"seed {SEED_B} after seed {SEED_A} differs from it alone in {differ}"
