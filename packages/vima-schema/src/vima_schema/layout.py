"""Names of the files and keys of a raw VIMA episode folder."""

from __future__ import annotations

import re

from vima_schema.enums import VIEWS, View

OBS_FILE = "obs.pkl"
ACTION_FILE = "action.pkl"
TRAJECTORY_FILE = "trajectory.pkl"
PICKLE_FILES = (OBS_FILE, ACTION_FILE, TRAJECTORY_FILE)
FRAME_DIRS: dict[View, str] = {view: f"rgb_{view.value}" for view in VIEWS}

TRAJECTORY_KEYS = (
    "end_effector_type",
    "n_objects",
    "difficulty",
    "views",
    "modalities",
    "seed",
    "action_bounds",
    "robot_components",
    "obj_id_to_info",
    "prompt",
    "prompt_assets",
    "steps",
    "success",
    "failure",
)
ACTION_KEYS = ("pose0_position", "pose0_rotation", "pose1_position", "pose1_rotation")
OBS_KEYS = ("segm", "ee")
ASSET_KEYS = ("rgb", "segm", "placeholder_type")
OBJ_INFO_KEY = "obj_info"

PLACEHOLDER_NAME_REGEX = r"[A-Za-z0-9_]+"
"""A placeholder name: ASCII letters, digits and underscores (`{foo-bar}` is ordinary text)."""
PLACEHOLDER_REGEX = r"\{" + PLACEHOLDER_NAME_REGEX + r"\}"
"""Regular expression (no group) of one `{name}` placeholder, for use inside larger patterns."""
PLACEHOLDER_PATTERN = re.compile(r"\{(" + PLACEHOLDER_NAME_REGEX + r")\}")
"""The one placeholder syntax of the workspace; group 1 is the name without braces."""


def frame_name(index: int) -> str:
    """File name of frame `index` (not zero-padded)."""
    return f"{index}.jpg"


def episode_folder_name(index: int) -> str:
    """Folder name of an episode index (6 digits, zero-padded)."""
    return f"{index:06d}"


def placeholders(prompt: str) -> list[str]:
    """Placeholder names of a prompt in order of appearance (duplicates kept)."""
    return PLACEHOLDER_PATTERN.findall(prompt)
