"""Published success rates used as built-in comparison rows."""

from __future__ import annotations

from vima_eval.results import LEVELS

#: VIMA-200M success rate (%) per task and level, as published with VIMA and recorded by
#: CoGeLoT (`scripts/add_their_results.py`, run "VIMA Paper"); missing pairs are not evaluated.
VIMA_200M: dict[str, dict[int, float]] = {
    "visual_manipulation": {1: 100.0, 2: 100.0, 3: 99.0},
    "scene_understanding": {1: 100.0, 2: 100.0, 3: 100.0},
    "rotate": {1: 99.5, 2: 99.5, 3: 100.0},
    "rearrange": {1: 100.0, 2: 100.0, 3: 97.0},
    "rearrange_then_restore": {1: 56.5, 2: 54.5, 3: 54.5},
    "novel_adj": {1: 100.0, 2: 100.0, 3: 100.0},
    "novel_noun": {1: 100.0, 2: 100.0, 3: 99.0},
    "novel_adj_and_noun": {4: 100.0},
    "twist": {1: 18.0, 2: 17.5, 3: 17.5},
    "follow_motion": {4: 0.0},
    "follow_order": {1: 77.0, 2: 77.0, 3: 77.0},
    "sweep_without_exceeding": {1: 93.0, 2: 93.0},
    "sweep_without_touching": {4: 0.0},
    "same_texture": {4: 94.5},
    "same_shape": {1: 97.0, 2: 98.5, 3: 97.5},
    "manipulate_old_neighbor": {1: 76.5, 2: 75.0, 3: 46.0},
    "pick_in_order_then_restore": {1: 43.0, 2: 45.0, 3: 43.5},
}
VIMA_200M_NAME = "VIMA-200M (published, VIMA-Bench)"
#: Where the published numbers were measured, and why a comparison with vima-sim is indicative.
PUBLISHED_CAVEAT = (
    "Published rows were measured in VIMA-Bench (the VIMA paper's numbers, as CoGeLoT "
    "records them). vima-sim is not VIMA-Bench: its own simulator, scenes, oracles and time "
    "limits differ, so a comparison of a vima-sim run with a published row is indicative only, "
    "and so are its tests."
)


def reference_rates(table: dict[str, dict[int, float]]) -> dict[tuple[str, int], float]:
    """(task, level) -> success rate in [0, 1]."""
    return {
        (task, level): value / 100
        for task, levels in table.items()
        for level, value in levels.items()
        if level in LEVELS
    }
