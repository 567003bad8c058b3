"""What an instruction perturbation sees and returns: the prompt, its assets, the scene."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from vima_schema.layout import placeholders
from vima_schema.models import Episode, ObjectInfo, PromptAsset


class PromptMask(StrEnum):
    """Which prompt tokens the model may attend to (applied at model input)."""

    none = "none"
    text = "text"
    visual = "visual"
    both = "both"


@dataclass(frozen=True)
class AssetInfo:
    """A prompt image as a perturbation sees it: its type and the objects it shows.

    `objects` are `(shape, colour)` pairs as the image renders them (`obj_name`, `obj_color`).
    """

    placeholder_type: str
    objects: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Instruction:
    """The instruction of one episode and the model-input switches of a perturbation.

    `episode` identifies the episode (e.g. `"rotate/17"`): with the seed it determines every
    random choice, so the same episode and seed give the same result in any batch or worker.
    `scene` lists the `(shape, texture)` of the episode's objects.
    """

    task: str
    episode: str
    prompt: str
    assets: Mapping[str, AssetInfo] = field(default_factory=dict)
    scene: tuple[tuple[str, str], ...] = ()
    prompt_mask: PromptMask = PromptMask.none
    shuffle_objects: bool = False

    def with_prompt(self, prompt: str) -> Instruction:
        """A copy with `prompt`, keeping only the assets it still refers to."""
        used = set(placeholders(prompt))
        assets = {name: info for name, info in self.assets.items() if name in used}
        return replace(self, prompt=prompt, assets=assets)

    @property
    def textures(self) -> tuple[str, ...]:
        """Texture names of the scene objects (distinct, in order)."""
        return tuple(dict.fromkeys(texture for _, texture in self.scene))


def episode_key(task: str, index: int) -> str:
    """The identity of a dataset episode used to seed perturbations."""
    return f"{task}/{index}"


def perturbation_rng(name: str, seed: int, episode: str) -> random.Random:
    """Random generator of perturbation `name` for one episode and seed (process independent)."""
    return random.Random(f"{name}|{seed}|{episode}")


def instruction_from_row(row: Mapping[str, Any], task: str) -> Instruction:
    """The `Instruction` of a parsed-dataset row (columns `index`, `prompt`, `prompt_assets`,
    `objects`; `task` is the row's task name)."""
    assets = {
        asset["name"]: AssetInfo(
            placeholder_type=asset["placeholder_type"],
            objects=tuple((o["obj_name"], o["obj_color"]) for o in asset["obj_info"]),
        )
        for asset in row["prompt_assets"]
    }
    scene = tuple((o["obj_name"], o["texture_name"]) for o in row["objects"])
    return Instruction(
        task=task,
        episode=episode_key(task, int(row["index"])),
        prompt=row["prompt"],
        assets=assets,
        scene=scene,
    )


def instruction_of(
    task: str,
    episode: str,
    prompt: str,
    prompt_assets: Mapping[str, PromptAsset],
    objects: Iterable[ObjectInfo],
) -> Instruction:
    """The `Instruction` of a prompt with its assets and scene objects (as a raw episode or a
    simulator reset gives them)."""
    assets = {
        name: AssetInfo(
            placeholder_type=asset.placeholder_type.value,
            objects=tuple((o.obj_name, o.obj_color) for o in asset.obj_info),
        )
        for name, asset in prompt_assets.items()
    }
    scene = tuple((o.obj_name, o.texture_name) for o in objects)
    return Instruction(task=task, episode=episode, prompt=prompt, assets=assets, scene=scene)


def instruction_from_episode(episode: Episode) -> Instruction:
    """The `Instruction` of an episode read with `vima_schema.reader`."""
    return instruction_of(
        episode.task.name,
        episode_key(episode.task.name, episode.index),
        episode.prompt,
        episode.prompt_assets,
        episode.objects.values(),
    )


def keep_assets(assets: Sequence[Mapping[str, Any]], prompt: str) -> list[Mapping[str, Any]]:
    """The parsed `prompt_assets` entries that `prompt` still refers to, in their order."""
    used = set(placeholders(prompt))
    return [asset for asset in assets if asset["name"] in used]
