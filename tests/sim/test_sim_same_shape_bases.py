"""same_shape / same_texture in both VIMA-Bench copies (`--same-shape-bases`): CoGeLoT's scales
the bases by 2.5 (the default), upstream VIMA-Bench and VIMA-Data do not; nothing else differs,
the oracle solves both, and the choice is recorded with what vima-sim makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vima_schema.discover import find_episodes
from vima_schema.reader import read_episode
from vima_sim.cli import main
from vima_sim.env import VimaEnv
from vima_sim.rollout import oracle_rollout
from vima_sim.tasks import same_shape

L1 = "placement_generalization"
SEEDS = range(4)


def _scene(env: VimaEnv, seed: int) -> dict[str, Any]:
    """What a reset shows: both views' pixels and masks, objects, prompt, prompt images."""
    obs, info = env.reset(seed=seed)
    meta = {k: v for k, v in info["meta"].items() if k not in ("same_shape_bases", "action_bounds")}
    return {
        "obs": {kind: {v: np.asarray(a).tolist() for v, a in obs[kind].items()}
                for kind in ("rgb", "segm")},
        "meta": repr(meta),
        "prompt": info["prompt"],
        "assets": repr(info["prompt_assets"]),
        "bases": [(s.obj.name, s.size) for s in env.task.spawned[:1]],
    }  # fmt: skip


@pytest.mark.parametrize("task", ["same_shape", "same_texture"])
def test_the_variants_differ_exactly_in_the_base_scaling(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """upstream = cogelot with a base scaling of 1, scene for scene; cogelot's L1 base is always
    a bowl, upstream's also a frame, container or square (unscaled, so they fit)."""
    level = L1 if task == "same_shape" else "novel_task_generalization"
    upstream = VimaEnv(task, level, same_shape_bases="upstream")
    cogelot = VimaEnv(task, level)
    try:
        assert cogelot.task.same_shape_bases == "cogelot"  # the default
        scaled = [_scene(cogelot, seed)["bases"][0][0] for seed in SEEDS]
        unscaled = [_scene(upstream, seed) for seed in SEEDS]
        monkeypatch.setattr(same_shape, "BASE_SCALING", 1.0)
        assert [_scene(cogelot, seed) for seed in SEEDS] == unscaled
    finally:
        upstream.close()
        cogelot.close()
    if task == "same_shape":
        assert set(scaled) == {"bowl"}
        assert {scene["bases"][0][0] for scene in unscaled} > {"bowl"}


@pytest.mark.parametrize("bases", ["cogelot", "upstream"])
def test_the_oracle_solves_both(bases: str) -> None:
    env = VimaEnv("same_shape", L1, same_shape_bases=bases)
    try:
        results = [oracle_rollout(env, 100 + k) for k in range(3)]
    finally:
        env.close()
    assert [(r.success, r.steps) for r in results] == [(True, 2)] * 3


def test_the_choice_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generator.json and every episode (its generation config) name the bases; a rerun into
    the folder with the other choice is refused; `check` rows and env meta carry it too."""
    out = tmp_path / "raw"
    args = ["generate", "same_shape", "--episodes", "1", "--out", str(out), "--seed", "5"]
    assert main([*args, "--same-shape-bases", "upstream"]) == 0
    assert json.loads((out / "generator.json").read_text())["same_shape"]["same_shape_bases"] == (
        "upstream"
    )
    (folder,) = find_episodes([out])
    config = read_episode(folder).generation_config
    assert config is not None
    assert config.values == {
        "simulator": "vima-sim",
        "modalities": ["rgb", "segm"],
        "same_shape_bases": "upstream",
    }
    capsys.readouterr()
    assert main(args) == 2  # the default, cogelot, into upstream's folder
    assert "same_shape_bases 'upstream' -> 'cogelot'" in capsys.readouterr().err
    assert main([*args, "--same-shape-bases", "scaled"]) == 2
    assert "valid: cogelot, upstream" in capsys.readouterr().err
    check = ["check", "same_shape", "--seeds", "1", "--same-shape-bases", "upstream"]
    assert main(check) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (row["same_shape_bases"], row["success"]) == ("upstream", 1.0)
