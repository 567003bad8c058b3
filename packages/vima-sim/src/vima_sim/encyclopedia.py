"""The object and texture encyclopedia, partition settings and task rules, read from data files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from vima_schema.enums import Partition, Task
from vima_schema.models import FunctionRef, ObjectInfo, SizeRange

ASSETS_ROOT = Path(str(files("vima_sim") / "assets"))
_DATA = files("vima_sim") / "data"

SQUARE_LIKE, CIRCLE_LIKE, UNDETERMINED = 0, 1, -1


@dataclass(frozen=True)
class ObjectEntry:
    """One encyclopedia object (shape)."""

    name: str
    assets: str
    size_low: tuple[float, float, float]
    size_high: tuple[float, float, float]
    from_template: bool
    replace_fn: dict[str, Any] | None
    mesh: str | None
    mesh_scale: tuple[float, float, float] | None
    symmetry: float | None
    profile: int
    alias: list[str] | None
    novel_name: list[str] | None

    @property
    def fixed_size(self) -> bool:
        """Whether the size range is a single size."""
        return self.size_low == self.size_high


@dataclass(frozen=True)
class TextureEntry:
    """One encyclopedia texture: a colour (RGB in [0, 1]) or an image under the assets."""

    name: str
    color: tuple[float, float, float] | None
    asset: str | None


NEUTRAL_GRAY = TextureEntry("gray", (186.0 / 255.0, 176.0 / 255.0, 172.0 / 255.0), None)


def _read(name: str) -> Any:
    return json.loads((_DATA / name).read_text(encoding="utf-8"))


@cache
def objects() -> dict[str, ObjectEntry]:
    """All objects by name, in encyclopedia order."""
    out: dict[str, ObjectEntry] = {}
    for raw in _read("objects.json")["objects"]:
        out[raw["name"]] = ObjectEntry(
            name=raw["name"],
            assets=raw["assets"],
            size_low=tuple(raw["size_low"]),
            size_high=tuple(raw["size_high"]),
            from_template=raw["from_template"],
            replace_fn=raw["replace_fn"],
            mesh=raw["mesh"],
            mesh_scale=None if raw["mesh_scale"] is None else tuple(raw["mesh_scale"]),
            symmetry=raw["symmetry"],
            profile=raw["profile"],
            alias=raw["alias"],
            novel_name=raw["novel_name"],
        )
    return out


@cache
def textures() -> dict[str, TextureEntry]:
    """All 82 textures by name, in encyclopedia order."""
    return {
        raw["name"]: TextureEntry(
            raw["name"], None if raw["color"] is None else tuple(raw["color"]), raw["asset"]
        )
        for raw in _read("textures.json")["textures"]
    }


def get_object(name: str) -> ObjectEntry:
    """The object called `name`; ValueError if unknown."""
    try:
        return objects()[name]
    except KeyError:
        raise ValueError(f"unknown object {name!r}") from None


def get_texture(name: str) -> TextureEntry:
    """The texture called `name` (or the neutral gray); ValueError if unknown."""
    if name == NEUTRAL_GRAY.name:
        return NEUTRAL_GRAY
    try:
        return textures()[name]
    except KeyError:
        raise ValueError(f"unknown texture {name!r}") from None


def light_textures() -> list[str]:
    """The 49 non-dark textures in encyclopedia order."""
    return [name for name in textures() if not name.startswith("dark ")]


def opposite_shade(name: str) -> str:
    """The dark variant of a light texture, or the light variant of a dark one."""
    return name[5:] if name.startswith("dark ") else f"dark {name}"


@cache
def task_rules() -> dict[str, Any]:
    """Per-task constants and difficulty rules (tasks.json)."""
    return _read("tasks.json")["tasks"]


@cache
def _partitions() -> dict[str, dict[str, dict[str, list[str]]]]:
    return _read("partitions.json")["partitions"]


@dataclass(frozen=True)
class TaskSettings:
    """Shapes and textures a task draws from in one partition."""

    dragged_obj: tuple[str, ...]
    base_obj: tuple[str, ...]
    dragged_texture: tuple[str, ...]
    base_texture: tuple[str, ...]


def partition_tasks(partition: Partition) -> list[Task]:
    """Implemented tasks defined in `partition`, in data order."""
    return [Task.from_name(name) for name in _partitions()[partition.name]]


def task_settings(task: Task, partition: Partition) -> TaskSettings:
    """Settings of `task` in `partition`; ValueError if the task is not defined there."""
    table = _partitions()[partition.name]
    if task.name not in table:
        defined = ", ".join(table) or "none of the implemented tasks"
        raise ValueError(
            f"task {task.name!r} is not defined in partition {partition.name!r} "
            f"(defined: {defined})"
        )
    raw = table[task.name]
    light = light_textures()
    all_dragged = [n for n, o in objects().items() if o.assets.startswith(("kitting", "stacking"))]
    all_base = ["bowl", "pan", "pallet", "frame", "container", "square"]
    return TaskSettings(
        dragged_obj=tuple(raw.get("dragged_obj", all_dragged)),
        base_obj=tuple(raw.get("base_obj", all_base)),
        dragged_texture=tuple(raw.get("dragged_texture", light[:24])),
        base_texture=tuple(raw.get("base_texture", light[24:])),
    )


def object_info(obj: ObjectEntry, texture: TextureEntry) -> ObjectInfo:
    """The `obj_id_to_info` entry of an object with a texture, as VIMA-Bench stores it."""
    fn = obj.replace_fn
    return ObjectInfo(
        obj_name=obj.name,
        obj_assets=obj.assets,
        obj_size_range=SizeRange(low=obj.size_low, high=obj.size_high),
        obj_from_template=obj.from_template,
        obj_replace_fn=None
        if fn is None
        else FunctionRef(name=fn["name"], partial=fn["partial"], keywords=fn["keywords"]),
        obj_pose_transform_fn=None,
        obj_alias=obj.alias,
        obj_novel_name=obj.novel_name,
        obj_template_file=None,
        obj_symmetry=obj.symmetry,
        obj_profile=obj.profile,
        texture_name=texture.name,
        texture_color_value=texture.color,
        texture_texture_asset=texture.asset,
        texture_alias=None,
        texture_novel_name=None,
    )
