"""VimaEnv API, id conventions, metadata and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
from vima_schema.enums import Partition, PlaceholderType, View
from vima_sim import VimaEnv
from vima_sim.encyclopedia import task_settings
from vima_sim.tasks import available


def test_reset_observation_and_info(vm_env: VimaEnv) -> None:
    obs, info = vm_env.reset(seed=3)
    for view in ("front", "top"):
        assert obs["rgb"][view].shape == (3, 128, 256) and obs["rgb"][view].dtype == np.uint8
        assert obs["segm"][view].shape == (128, 256) and obs["segm"][view].dtype == np.uint8
        ids = set(np.unique(obs["segm"][view]).tolist())
        assert {0, 1} <= ids and not ids & {2, 3, 4, 255}
        assert ids - {0, 1} <= set(info["meta"]["obj_id_to_info"])
    assert obs["ee"] == 0
    meta = info["meta"]
    assert sorted(meta["obj_id_to_info"]) == list(range(5, 5 + meta["n_objects"]))
    assert meta["n_objects"] == 3 and meta["seed"] == 3 and meta["end_effector_type"] == "suction"
    assert meta["action_bounds"].low.tolist() == [0.25, -0.5]
    assert info["max_steps"] == 3 + 2
    assert not info["success"] and not info["failure"]
    assert info["prompt"] == "Put the {dragged_obj_1} into the {base_obj}."
    for name, asset in info["prompt_assets"].items():
        assert f"{{{name}}}" in info["prompt"]
        assert asset.placeholder_type is PlaceholderType.object
        assert [o.obj_id for o in asset.obj_info] == [0]
        for view in (View.front, View.top):
            assert set(np.unique(asset.segm[view]).tolist()) == {0, 255}
    settings = task_settings(vm_env.task_name, Partition.placement_generalization)
    infos = list(meta["obj_id_to_info"].values())
    assert infos[0].obj_name in settings.base_obj
    assert infos[0].texture_name in settings.base_texture
    assert infos[1].obj_name in settings.dragged_obj
    assert infos[1].texture_name in settings.dragged_texture


def test_same_seed_same_scene(vm_env: VimaEnv) -> None:
    obs_a, info_a = vm_env.reset(seed=11)
    obs_b, info_b = vm_env.reset(seed=11)
    assert info_a["prompt"] == info_b["prompt"]
    assert info_a["meta"]["obj_id_to_info"] == info_b["meta"]["obj_id_to_info"]
    assert np.array_equal(obs_a["rgb"]["top"], obs_b["rgb"]["top"])
    obs_c, _ = vm_env.reset(seed=12)
    assert not np.array_equal(obs_c["rgb"]["top"], obs_a["rgb"]["top"])


def _action(**override: list[float]) -> dict[str, np.ndarray]:
    action = {
        "pose0_position": [0.5, 0.0],
        "pose0_rotation": [0.0, 0.0, 0.0, 1.0],
        "pose1_position": [0.5, 0.1],
        "pose1_rotation": [0.0, 0.0, 0.0, 1.0],
    }
    action.update(override)
    return {k: np.asarray(v, dtype=np.float32) for k, v in action.items()}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"pose0_position": [0.8, 0.0]}, "outside"),
        ({"pose1_position": [0.5, float("nan")]}, "not finite"),
        ({"pose0_rotation": [0.0, 0.0, 1.0]}, "shape"),
        ({"pose1_rotation": [0.0, 0.0, 2.0, 1.0]}, "outside"),
    ],
)
def test_bad_actions_raise(vm_env: VimaEnv, override: dict, message: str) -> None:
    vm_env.reset(seed=1)
    with pytest.raises(ValueError, match=message):
        vm_env.step(_action(**override))


def test_missing_action_key(vm_env: VimaEnv) -> None:
    vm_env.reset(seed=1)
    action = _action()
    del action["pose1_rotation"]
    with pytest.raises(ValueError, match="missing pose1_rotation"):
        vm_env.step(action)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no_such_task",), "unknown task name"),
        (("rotate", "no_such_partition"), "unknown partition"),
        (("rotate", "novel_task_generalization"), "not defined in partition"),
        (("rotate", "placement_generalization", "hard"), "unknown difficulty"),
    ],
)
def test_bad_construction(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VimaEnv(*args)


def test_step_before_reset() -> None:
    env = VimaEnv("rotate")
    try:
        with pytest.raises(RuntimeError, match="reset"):
            env.step(_action())
    finally:
        env.close()


def test_failed_reset_leaves_a_usable_env(vm_env: VimaEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("broken scene")

    monkeypatch.setattr(vm_env.task, "reset_scene", broken)
    with pytest.raises(RuntimeError, match="broken scene"):
        vm_env.reset(seed=2)
    with pytest.raises(RuntimeError, match="reset"):
        vm_env.step(_action())
    monkeypatch.undo()
    obs, info = vm_env.reset(seed=2)
    assert info["meta"]["n_objects"] == 3
    assert len(np.unique(obs["segm"]["top"])) == 5


def test_wasted_pick_of_empty_space(vm_env: VimaEnv) -> None:
    """Suction on bare workspace grasps nothing; nothing moves; the episode goes on."""
    obs, _info = vm_env.reset(seed=4)
    top = obs["segm"]["top"]
    rows, cols = np.nonzero(top == 1)
    # a workspace pixel far from any object: pick there
    objects = np.argwhere(top >= 5)
    far = max(
        zip(rows, cols, strict=True),
        key=lambda rc: np.min(np.abs(objects - np.array(rc)).sum(axis=1)),
    )
    x = 0.25 + (far[0] + 0.5) / 128 * 0.5
    y = -0.5 + (far[1] + 0.5) / 256 * 1.0
    before = {b: vm_env.world.pose(b) for b in vm_env.objects}
    _obs2, _, terminated, truncated, info2 = vm_env.step(_action(pose0_position=[x, y]))
    assert not info2["success"] and not terminated and not truncated
    for body, pose in before.items():
        assert np.allclose(vm_env.world.pose(body)[0][:2], pose[0][:2], atol=2e-3)


PROMPTS = {
    "visual_manipulation": r"Put the \{dragged_obj_1\} into the \{base_obj\}\.",
    "rotate": r"Rotate the \{dragged_obj\} (30|60|90|120|150) degrees\.",
    "novel_noun": r"This is a (\w+) \{(base_obj|dragged_obj_1)\}\. This is a (\w+) "
    r"\{(base_obj|dragged_obj_1)\}\. Put a \w+ into a \w+\.",
    "follow_order": r"Stack objects in this order \{frame_0\} \{frame_1\} \{frame_2\}\.",
    "same_shape": r"Put all objects with the same profile as \{base_obj\} into it\.",
    "manipulate_old_neighbor": r"First put \{dragged_obj\} into \{base_obj\} then put the object "
    r"that was previously at its (north|south|west|east) into the same \{base_obj\}\.",
    "pick_in_order_then_restore": r"Put \{dragged_obj\} into \{base_obj_1\} then \{base_obj_2\}\. "
    r"Finally restore it into its original container\.",
    "same_texture": r"Put all objects with the same texture as \{base_obj\} into it\.",
    "scene_understanding": r"Put the [a-z ]+ object in \{scene\} into the [a-z ]+ object\.",
    "rearrange": r"Rearrange to this \{scene\}\.",
    "rearrange_then_restore": r"Rearrange objects to this setup \{scene\} and then restore\.",
    "twist": r'"Twist" is defined as rotating object a specific angle\. For examples: '
    r"From \{before_twist_1\} to \{after_twist_1\}\. "
    r"From \{before_twist_2\} to \{after_twist_2\}\. "
    r"From \{before_twist_3\} to \{after_twist_3\}\. Now twist all [a-z ]+ objects\.",
    "sweep_without_exceeding": r"Sweep (any|one|two|three|all) \{swept_obj\} into \{bounds\} "
    r"without exceeding \{constraint\}\.",
    "sweep_without_touching": r"Sweep (any|one|two|three|all) \{swept_obj\} into \{bounds\} "
    r"without touching \{constraint\}\.",
    "follow_motion": r"Follow this motion for \{dragged_obj\}: "
    r"\{frame_0\} \{frame_1\} \{frame_2\}\.",
}
_DEMOS = " ".join(
    rf"\{{demo_blicker_obj_{i}\}} is (\w+) than \{{demo_less_blicker_obj_{i}\}}\."
    for i in (1, 2, 3)
)
PROMPTS["novel_adj"] = _DEMOS + r" Put the (less )?\w+ \{dragged_obj\} into the \{base_obj\}\."
PROMPTS["novel_adj_and_noun"] = (
    r"This is a \w+ \{(dragged|base)_obj\}\. This is a \w+ \{(dragged|base)_obj\}\. "
    + _DEMOS
    + r" Put the (less )?\w+ \w+ into the \w+\."
)
#: Held-out tasks exist only in L4.
L4_TASKS = {"same_texture", "follow_motion", "novel_adj_and_noun", "sweep_without_touching"}


def test_available_lists_the_implemented_tasks() -> None:
    tasks = available()
    assert set(tasks) == set(PROMPTS)
    assert tasks["same_texture"]["partitions"] == ["novel_task_generalization"]
    assert "novel_task_generalization" not in tasks["rotate"]["partitions"]
    assert "placement_generalization" in tasks["rotate"]["partitions"]


@pytest.mark.parametrize("task", sorted(PROMPTS))
def test_prompt_templates_and_asset_ids(task: str) -> None:
    env = VimaEnv(
        task, "novel_task_generalization" if task in L4_TASKS else "placement_generalization"
    )
    try:
        for seed in (3,):  # one scene per task keeps the suite short
            _obs, info = env.reset(seed=seed)
            assert re.fullmatch(PROMPTS[task], info["prompt"]), info["prompt"]
            names = set(re.findall(r"\{(\w+)\}", info["prompt"]))
            assert names == set(info["prompt_assets"])
            for asset in info["prompt_assets"].values():
                ids = {o.obj_id for o in asset.obj_info}
                if asset.placeholder_type is PlaceholderType.object:
                    assert ids == {0}
                else:
                    assert min(ids) == 2 and ids <= set(range(2, 2 + len(ids)))
                    assert set(np.unique(asset.segm[View.top]).tolist()) <= {0, 1, *ids}
            meta = info["meta"]
            assert meta["n_objects"] == len(meta["obj_id_to_info"])
            first = 4 if meta["end_effector_type"] == "spatula" else 5
            assert sorted(meta["obj_id_to_info"]) == list(range(first, first + meta["n_objects"]))
            _from_partition_lists(env, meta["obj_id_to_info"].values())
    finally:
        env.close()


#: Fixed shapes of the sweep tasks, which draw nothing from the partition's shape lists.
SWEEP_SHAPES = {"three-sided rectangle", "line", "small block"}


def _from_partition_lists(env: VimaEnv, infos: object) -> None:
    """Shapes and textures of the scene come from the task's lists in its partition."""
    s = env.task.settings
    shapes = set(s.dragged_obj) | set(s.base_obj) | SWEEP_SHAPES
    textures = set(s.dragged_texture) | set(s.base_texture)
    if env.task_name.name.startswith("novel_adj"):  # the light / dark shade of a listed texture
        textures |= {f"dark {t}" for t in textures} | {t[5:] for t in textures if t[:5] == "dark "}
    for info in infos:  # type: ignore[attr-defined]
        assert info.obj_name in shapes, info.obj_name
        assert info.texture_name in textures, info.texture_name


def test_missing_asset_is_named() -> None:
    from dataclasses import replace

    from vima_sim.encyclopedia import get_object, get_texture
    from vima_sim.world import World

    world = World()
    try:
        world.reset(with_robot=False)
        broken = replace(get_object("letter A"), mesh="kitting/no_such_mesh.obj")
        with pytest.raises(FileNotFoundError, match=r"no_such_mesh\.obj"):
            world.add_object(
                broken,
                get_texture("red"),
                broken.size_low,
                ((0.5, 0, 0.02), (0, 0, 0, 1)),
                fixed=False,
            )
        missing_texture = replace(get_texture("granite"), asset="textures/missing.png")
        with pytest.raises(FileNotFoundError, match=r"missing\.png"):
            world.add_object(
                get_object("block"),
                missing_texture,
                (0.07, 0.07, 0.07),
                ((0.5, 0, 0.035), (0, 0, 0, 1)),
                fixed=False,
            )
    finally:
        world.close()
