"""Pydantic models of a raw VIMA episode that keep everything the raw files hold."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator

from vima_schema.enums import (
    Difficulty,
    EndEffector,
    PickleNamespace,
    PlaceholderType,
    Task,
    View,
)
from vima_schema.equality import exactly_equal

FRAME_HEIGHT = 128
FRAME_WIDTH = 256


def _checked(dtype: str, shape: tuple[int | None, ...]) -> PlainValidator:
    """Validator of a numpy array's dtype and shape (None = any length)."""

    def validate(value: Any) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise ValueError(f"expected a numpy array, got {type(value).__name__}")
        if value.dtype != np.dtype(dtype):
            raise ValueError(f"expected dtype {dtype}, got {value.dtype}")
        if value.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(value.shape, shape, strict=True)
        ):
            wanted = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"expected shape {wanted}, got {value.shape}")
        return value

    return PlainValidator(validate)


_AS_LIST = PlainSerializer(lambda array: array.tolist())
RgbImage = Annotated[np.ndarray, _checked("uint8", (3, FRAME_HEIGHT, FRAME_WIDTH)), _AS_LIST]
SegmImage = Annotated[np.ndarray, _checked("uint8", (FRAME_HEIGHT, FRAME_WIDTH)), _AS_LIST]
SegmFrames = Annotated[np.ndarray, _checked("uint8", (None, FRAME_HEIGHT, FRAME_WIDTH)), _AS_LIST]
EndEffectorFrames = Annotated[np.ndarray, _checked("int64", (None,)), _AS_LIST]
Positions = Annotated[np.ndarray, _checked("float32", (None, None)), _AS_LIST]
Rotations = Annotated[np.ndarray, _checked("float32", (None, 4)), _AS_LIST]
Bounds = Annotated[np.ndarray, _checked("float32", (None,)), _AS_LIST]


class VimaModel(BaseModel):
    """Base model: no extra fields, numpy arrays allowed, exact equality."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    def __eq__(self, other: object) -> bool:
        return exactly_equal(self, other)

    __hash__ = None  # type: ignore[assignment]


class SizeRange(VimaModel):
    """Object size range in metres (`low`, `high`), each a 3-tuple; ints kept as ints."""

    low: tuple[float | int, ...]
    high: tuple[float | int, ...]


class FunctionRef(VimaModel):
    """Reference to an encyclopedia function, optionally wrapped in `functools.partial`."""

    name: str
    partial: bool = False
    args: tuple[Any, ...] = ()
    keywords: dict[str, Any] = {}


class ObjectInfo(VimaModel):
    """One entry of `obj_id_to_info`: the 16 encyclopedia fields of a scene object."""

    obj_name: str
    obj_assets: str
    obj_size_range: SizeRange | None
    obj_from_template: bool | None
    obj_replace_fn: FunctionRef | None
    obj_pose_transform_fn: FunctionRef | None
    obj_alias: list[str] | None
    obj_novel_name: list[str] | None
    obj_template_file: str | None
    obj_symmetry: int | float | None
    obj_profile: int | None
    texture_name: str
    texture_color_value: tuple[float | int, ...] | None
    texture_texture_asset: str | None
    texture_alias: list[str] | None
    texture_novel_name: list[str] | None


class AssetObject(VimaModel):
    """An object shown in a prompt asset (`segm['obj_info']`)."""

    obj_id: int
    obj_name: str
    obj_color: str


class PromptAsset(VimaModel):
    """A prompt image: both views of rgb and segmentation, in the stored view order."""

    placeholder_type: PlaceholderType
    rgb: dict[View, RgbImage]
    segm: dict[View, SegmImage]
    obj_info: list[AssetObject]


class ActionBounds(VimaModel):
    """Action-space position bounds (3-D in VIMA-Data, 2-D in current VIMA-Bench)."""

    low: Bounds
    high: Bounds


class Actions(VimaModel):
    """Oracle actions exactly as stored: positions (T, 3) or (T, 2), quaternions (T, 4) xyzw."""

    pose0_position: Positions
    pose0_rotation: Rotations
    pose1_position: Positions
    pose1_rotation: Rotations

    @property
    def steps(self) -> int:
        """Number of actions T."""
        return int(self.pose0_position.shape[0])


class ResolverValue(VimaModel):
    """A cached OmegaConf resolver result, e.g. Hydra's `now` with its format argument."""

    resolver: str
    args: tuple[Any, ...]
    value: Any


class GenerationConfig(VimaModel):
    """The generator's Hydra config carried by `modalities` in VIMA-Data, as plain data."""

    values: dict[str, Any]
    flags: dict[str, Any] = {}
    resolver_cache: list[ResolverValue] = []


class Episode(VimaModel):
    """One raw VIMA episode with every value of its files; arrays are numpy."""

    task: Task
    index: int
    pickle_namespace: PickleNamespace = PickleNamespace.vimasim
    # trajectory.pkl, in file order
    end_effector_type: EndEffector
    n_objects: int
    difficulty: Difficulty
    views: list[View]
    modalities: list[str]
    generation_config: GenerationConfig | None = None
    seed: int
    action_bounds: ActionBounds
    robot_components: list[int]
    objects: dict[int, ObjectInfo]
    prompt: str
    prompt_assets: dict[str, PromptAsset]
    steps: int
    success: bool
    failure: bool
    # obs.pkl and frames
    frames: dict[View, list[bytes]]
    segm: dict[View, SegmFrames]
    ee: EndEffectorFrames
    # action.pkl
    actions: Actions

    @property
    def num_frames(self) -> int:
        """Number of observations (T + 1)."""
        return self.steps + 1
