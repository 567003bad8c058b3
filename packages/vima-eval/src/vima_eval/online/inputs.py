"""From live simulator observations to the policy's inputs, and from its bins back to poses.

The bridge reuses the training data path end to end: the episode so far is recorded with
vima-sim's `EpisodeRecorder` (frames JPEG-coded exactly as in generated data, or lossless for
checkpoints trained on the simulator's own pixels), turned into a
parsed row with `vima_schema.record.episode_to_record`, and tokenized with
`vima_tokenize.preprocess.preprocess_row` using the tokenizer recorded in the checkpoint. Each
step tokenizes only the newest observation (a row holding the last frame, the actions so far and,
at the first step, the prompt); tokenized observations are independent of each other, so the
concatenation equals tokenizing the whole history. Perturbations are applied to these arrays
by `vima_eval.model_input.perturbed_arrays`, the code offline evaluation uses too, so online
and offline evaluation feed the model identically; the perturbation's episode identity is the
run's `L<level>/<task>/<n>`, so levels get their own draws. Predicted bins are decoded by the
policy's own `bins_to_actions` and made an env action by `env_action`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from tokenizers import Tokenizer
from vima_schema.enums import Task
from vima_schema.layout import ACTION_KEYS
from vima_schema.models import Episode
from vima_schema.perturbations import (
    Instruction,
    Perturbation,
    Vocabulary,
    instruction_from_row,
)
from vima_schema.record import episode_to_record
from vima_sim import WORKSPACE_HIGH, WORKSPACE_LOW
from vima_tokenize.actions import KEY_AXES
from vima_tokenize.preprocess import preprocess_row
from vima_tokenize.preprocessed import VIEW_NAMES
from vima_train.data.batch import row_arrays

from vima_eval.model_input import EpisodeArrays, perturbed_arrays, view_arrays

#: Arrays with one entry per observation (concatenated over the steps of an episode).
OBSERVATION_ARRAYS = view_arrays("obs", ("crops", "bbox", "mask", "frames"))


def last_observation_row(episode: Episode, with_prompt: bool) -> dict[str, Any]:
    """The parsed row of `episode` reduced to its last observation (and, unless `with_prompt`,
    an empty prompt): what `preprocess_row(..., keep_final_observation=True)` tokenizes into
    that observation, the actions so far and (with the prompt) the prompt arrays."""
    row = episode_to_record(episode)
    frames = len(row["frames_front"])
    for view in VIEW_NAMES:
        row[f"frames_{view}"] = row[f"frames_{view}"][-1:]
        size = len(row[f"segm_{view}"]) // frames
        row[f"segm_{view}"] = row[f"segm_{view}"][-size:]
    if not with_prompt:
        row["prompt"], row["prompt_assets"] = "", []
    return row


@dataclass
class EpisodeInputs:
    """The model-input arrays of one episode, grown by one observation per step."""

    arrays: dict[str, Any]
    instruction: Instruction
    difficulty: str
    seed: int

    def perturbed(
        self,
        perturbation: Perturbation,
        seed: int,
        tokenizer: Tokenizer,
        vocabulary: Vocabulary = Vocabulary.english,
    ) -> tuple[dict[str, Any], Instruction]:
        """The arrays as the policy sees them under `perturbation` (and the instruction)."""
        episode = EpisodeArrays(self.arrays, self.instruction, self.difficulty, self.seed)
        return perturbed_arrays(episode, perturbation, seed, tokenizer, vocabulary)


def start_inputs(
    episode: Episode, tokenizer: Tokenizer, key: str, crop_resampling: str = "area"
) -> EpisodeInputs:
    """Tokenize the prompt and first observation of a freshly reset episode; `key` is the
    episode's identity for the perturbation's draws (`L<level>/<task>/<n>`); crops are resized
    as the checkpoint's training data was (`crop_resampling`)."""
    row = last_observation_row(episode, with_prompt=True)
    arrays = row_arrays(
        preprocess_row(row, tokenizer, keep_final_observation=True, crop_resampling=crop_resampling)
    )
    instruction = replace(instruction_from_row(row, Task(row["task"]).name), episode=key)
    return EpisodeInputs(arrays, instruction, row["difficulty"], int(row["seed"]))


def add_observation(
    inputs: EpisodeInputs, episode: Episode, tokenizer: Tokenizer, crop_resampling: str = "area"
) -> None:
    """Tokenize the newest observation of `episode` and append it (with the actions so far)."""
    row = last_observation_row(episode, with_prompt=False)
    new = row_arrays(
        preprocess_row(row, tokenizer, keep_final_observation=True, crop_resampling=crop_resampling)
    )
    arrays = inputs.arrays
    for name in OBSERVATION_ARRAYS:
        arrays[name] = np.concatenate([arrays[name], new[name]])
    for name in ("actions", "action_bins", "steps"):
        arrays[name] = new[name]


def env_action(poses: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Continuous poses of every action key -> an env action: 2-D positions clipped to the
    workspace, rotations to [-1, 1], float32."""
    action = {}
    for key in ACTION_KEYS:
        value = np.asarray(poses[key], dtype=np.float32)
        if key.endswith("position"):
            value = np.clip(value[:2], WORKSPACE_LOW, WORKSPACE_HIGH)
        else:
            value = np.clip(value, -1.0, 1.0)
        action[key] = value.astype(np.float32)
    return action


def split_action(values: np.ndarray) -> dict[str, np.ndarray]:
    """A 14-axis action vector -> poses per action key (positions 3-D, rotations 4-D)."""
    poses, start = {}, 0
    for key in ACTION_KEYS:
        width = KEY_AXES[key][0].size
        poses[key] = values[start : start + width]
        start += width
    return poses
