"""Partition data: names resolve, L2 swaps texture roles, L3 shapes are novel."""

from __future__ import annotations

import pytest
from vima_schema.enums import Partition, Task
from vima_sim.encyclopedia import (
    get_object,
    get_texture,
    partition_tasks,
    task_settings,
)

WITH_BASE = {
    Task.visual_manipulation,
    Task.scene_understanding,
    Task.novel_adj,
    Task.novel_noun,
    Task.same_shape,
    Task.manipulate_old_neighbor,
    Task.pick_in_order_then_restore,
}
L1, L2, L3 = (
    Partition.placement_generalization,
    Partition.combinatorial_generalization,
    Partition.novel_object_generalization,
)


@pytest.mark.parametrize("partition", list(Partition))
def test_every_name_resolves(partition: Partition) -> None:
    tasks = partition_tasks(partition)
    assert tasks, partition
    for task in tasks:
        s = task_settings(task, partition)
        objects, textures = (*s.dragged_obj, *s.base_obj), (*s.dragged_texture, *s.base_texture)
        assert s.dragged_obj and s.dragged_texture, (partition, task)
        # every name resolves to the encyclopedia entry of that name (ValueError otherwise)
        assert [get_object(name).name for name in objects] == list(objects)
        assert [get_texture(name).name for name in textures] == list(textures)


def test_training_equals_l1() -> None:
    for task in partition_tasks(Partition.training):
        assert task_settings(task, Partition.training) == task_settings(task, L1)


def test_l2_swaps_texture_roles() -> None:
    for task in partition_tasks(L2):
        one, two = task_settings(task, L1), task_settings(task, L2)
        if task is Task.novel_adj:  # B colours with dark variants, no L1 dragged texture
            assert not set(two.dragged_texture) & set(one.dragged_texture)
            continue
        assert one.dragged_obj == two.dragged_obj
        assert not set(two.dragged_texture) & set(one.dragged_texture)
        if task in WITH_BASE:
            assert set(two.dragged_texture) == set(one.base_texture)
            assert set(two.base_texture) == set(one.dragged_texture)


def test_l3_shapes_are_novel() -> None:
    novel = {"letter R", "diamond", "hexagon", "round", "star"}
    for task in partition_tasks(L3):
        three = task_settings(task, L3)
        assert set(three.dragged_obj) - {"shorter block"} <= novel
        if task in WITH_BASE:
            assert set(three.base_obj) <= {"pallet", "pan"}
        assert not (set(three.dragged_obj) - {"shorter block"}) & set(
            task_settings(task, L1).dragged_obj
        )


def test_l4_holds_only_the_held_out_tasks() -> None:
    held_out = {
        Task.novel_adj_and_noun,
        Task.follow_motion,
        Task.sweep_without_touching,
        Task.same_texture,
    }
    assert set(partition_tasks(Partition.novel_task_generalization)) <= held_out
    for level in (L1, L2, L3):
        assert not set(partition_tasks(level)) & held_out


def test_undefined_pair_is_an_error() -> None:
    with pytest.raises(ValueError, match="not defined in partition"):
        task_settings(Task.rotate, Partition.novel_task_generalization)
