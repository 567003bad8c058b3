"""The reader handles every training task, including the four without a sample episode.

Episodes of manipulate_old_neighbor, novel_adj, scene_understanding and rearrange_then_restore
are assembled from real sample parts with the prompts and prompt-asset layouts that VIMA-Data
episodes of those tasks have (instance 000000 of each task: placeholder names, object or scene
assets, views), written with the writer and read back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vima_schema.enums import TRAINING_TASKS, PlaceholderType, Task
from vima_schema.layout import placeholders
from vima_schema.models import Episode
from vima_schema.reader import EpisodeError, read_episode
from vima_schema.writer import write_episode

from .conftest import SAMPLES_ROOT


def _sample(task: str) -> Episode:
    return read_episode(SAMPLES_ROOT / "vima-raw" / task / "000000")


def _with_assets(base: Episode, task: Task, prompt: str, names: list[str], source: str) -> Episode:
    asset = base.prompt_assets[source]
    return base.model_copy(
        update={"task": task, "prompt": prompt, "prompt_assets": dict.fromkeys(names, asset)}
    )


def _synthesized() -> dict[Task, Episode]:
    objects = _sample("visual_manipulation")
    scene = _sample("rearrange")
    adj_names = [
        *(f"demo_blicker_obj_{i}" for i in (1, 2, 3)),
        *(f"demo_less_blicker_obj_{i}" for i in (1, 2, 3)),
        "dragged_obj",
        "base_obj",
    ]
    return {
        Task.manipulate_old_neighbor: _with_assets(
            objects,
            Task.manipulate_old_neighbor,
            "First put {dragged_obj} into {base_obj} then put the object that was previously at "
            "its west into the same {base_obj}.",
            ["dragged_obj", "base_obj"],
            "base_obj",
        ),
        Task.novel_adj: _with_assets(
            objects,
            Task.novel_adj,
            "{demo_blicker_obj_1} is kobar than {demo_less_blicker_obj_1}. {demo_blicker_obj_2} is "
            "kobar than {demo_less_blicker_obj_2}. {demo_blicker_obj_3} is kobar than "
            "{demo_less_blicker_obj_3}. Put the kobar {dragged_obj} into the {base_obj}.",
            adj_names,
            "dragged_obj_1",
        ),
        Task.scene_understanding: _with_assets(
            scene,
            Task.scene_understanding,
            "Put the yellow and blue polka dot object in {scene} into the purple swirl object.",
            ["scene"],
            "scene",
        ),
        Task.rearrange_then_restore: _with_assets(
            scene,
            Task.rearrange_then_restore,
            "Rearrange objects to this setup {scene} and then restore.",
            ["scene"],
            "scene",
        ),
    }


SYNTHESIZED = _synthesized()


def test_every_training_task_is_covered() -> None:
    sampled = {Task.from_name(p.name) for p in (SAMPLES_ROOT / "vima-raw").iterdir()}
    assert sampled | set(SYNTHESIZED) == set(TRAINING_TASKS)


@pytest.mark.parametrize("task", list(SYNTHESIZED), ids=lambda t: t.name)
def test_task_without_sample_reads_back(task: Task, tmp_path: Path) -> None:
    episode = SYNTHESIZED[task]
    folder = write_episode(episode, tmp_path)
    assert folder == tmp_path / task.name / "000000"
    back = read_episode(folder)
    assert back == episode
    assert back.task is task
    assert set(back.prompt_assets) == set(placeholders(back.prompt))


def test_placeholder_used_twice_needs_one_asset(tmp_path: Path) -> None:
    episode = SYNTHESIZED[Task.manipulate_old_neighbor]
    assert episode.prompt.count("{base_obj}") == 2
    assert read_episode(write_episode(episode, tmp_path)).prompt_assets.keys() == {
        "dragged_obj",
        "base_obj",
    }


def test_eight_object_assets_of_novel_adj(tmp_path: Path) -> None:
    back = read_episode(write_episode(SYNTHESIZED[Task.novel_adj], tmp_path))
    assert len(back.prompt_assets) == 8
    assert {a.placeholder_type for a in back.prompt_assets.values()} == {PlaceholderType.object}


def test_alias_folder_names_resolve(tmp_path: Path) -> None:
    episode = _sample("visual_manipulation")
    folder = write_episode(episode, tmp_path)
    alias = tmp_path / "simple_manipulation" / "000000"
    alias.parent.mkdir()
    folder.rename(alias)
    assert read_episode(alias).task is Task.visual_manipulation


def test_missing_asset_of_synthesized_task_is_reported(tmp_path: Path) -> None:
    episode = SYNTHESIZED[Task.novel_adj]
    assets = dict(episode.prompt_assets)
    del assets["demo_less_blicker_obj_2"]
    folder = write_episode(episode.model_copy(update={"prompt_assets": assets}), tmp_path)
    with pytest.raises(EpisodeError, match=r"\{demo_less_blicker_obj_2\} has no prompt asset"):
        read_episode(folder)
