"""Who acts in an online episode: a trained policy or the simulator's oracle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from vima_schema.perturbations import Perturbation
from vima_sim import EpisodeRecorder
from vima_train.checkpoint import load_policy, tokenizer_of
from vima_train.data.batch import collate_observations, collate_prompts
from vima_train.policies import AnyPolicy

from vima_eval.model_input import PatchImageMask, gobbledygook_vocabulary, masked_prompt
from vima_eval.online.inputs import (
    EpisodeInputs,
    add_observation,
    env_action,
    split_action,
    start_inputs,
)
from vima_eval.online.model import LocalModel, Model
from vima_eval.online.plan import Job


class Env(Protocol):
    """What an agent may ask of the environment (`VimaEnv` or the VIMA-Bench proxy)."""

    def oracle_action(self) -> dict[str, np.ndarray] | None: ...


class Agent(Protocol):
    """Acts in one episode at a time: `begin` after reset, then `act` / `observe` alternately."""

    name: str
    timing: dict[str, float]
    applies: bool  # the perturbation changed the model's input in the current episode

    def begin(self, env: Env, obs: dict[str, Any], info: dict[str, Any], job: Job) -> None: ...

    def act(self) -> dict[str, np.ndarray] | None: ...

    def observe(
        self, action: dict[str, np.ndarray], obs: dict[str, Any], info: dict[str, Any]
    ) -> None: ...


class OracleAgent:
    """The simulator's scripted oracle (an upper bound and a check of the harness)."""

    name = "oracle"
    applies = True

    def __init__(self) -> None:
        self.timing: dict[str, float] = {"tokenize_s": 0.0, "model_s": 0.0}
        self._env: Env | None = None

    def begin(self, env: Env, obs: dict[str, Any], info: dict[str, Any], job: Job) -> None:
        """Remember the environment whose oracle acts."""
        self._env = env

    def act(self) -> dict[str, np.ndarray] | None:
        """The oracle's next action (None when it has none)."""
        assert self._env is not None, "begin() first"
        return self._env.oracle_action()

    def observe(
        self, action: dict[str, np.ndarray], obs: dict[str, Any], info: dict[str, Any]
    ) -> None:
        """Nothing to remember."""


class PolicyAgent:
    """A vima-train checkpoint acting greedily through its step API (prompt encoded once).

    Inputs are tokenized with the checkpoint's tokenizer by `vima_eval.online.inputs` and
    perturbed with `perturbation` (seeded by `seed` and the episode's `L<level>/<task>/<n>`);
    the training-time object shuffle is off; `patch_image_mask` says what the visual masks do
    to a patch model. The network runs in this process (`policy`, else loaded from
    `checkpoint`) or wherever `model` runs it (the policy server). `timing` accumulates the
    seconds spent tokenizing and in the model.
    """

    def __init__(
        self,
        checkpoint: Path,
        perturbation: Perturbation,
        seed: int,
        device: str = "cpu",
        policy: AnyPolicy | None = None,
        patch_image_mask: PatchImageMask = PatchImageMask.mask,
        model: Model | None = None,
    ) -> None:
        if model is None:
            policy = policy if policy is not None else load_policy(checkpoint, device)
            policy.shuffle_objects = False  # evaluation: only the seeded `shuffle_objects`
            model = LocalModel(policy, device)
        self.model = model
        #: The network when it runs in this process (None behind the policy server).
        self.policy = model.policy if isinstance(model, LocalModel) else None
        meta = model.meta
        self.tokenizer = tokenizer_of(meta)
        #: Crops resized as the checkpoint's training data (cv2 for imported VIMA checkpoints).
        self.crop_resampling = meta.get("tokenize_settings", {}).get("crop_resampling", "area")
        self.name = str(checkpoint)
        self.perturbation = perturbation
        self.seed = seed
        kind = model.config.visual.kind
        self.crops, self.frames = kind == "objects", kind == "patches"
        self.vocabulary = gobbledygook_vocabulary(model.config)
        self.patch_image_mask = patch_image_mask
        self.applies = True
        self.timing = {"tokenize_s": 0.0, "model_s": 0.0}
        self.prompt: str = ""
        self.prompt_mask = "none"  # which prompt tokens the model could not attend to
        # frames as the policy's training data had them: VIMA-Data's JPEGs, or the simulator's
        # own pixels for imported VIMA checkpoints (what VIMA's evaluation feeds its policy)
        codec = meta.get("tokenize_settings", {}).get("observation_codec", "jpeg")
        self.recorder = EpisodeRecorder(lossless=codec == "none")
        self.inputs: EpisodeInputs | None = None
        self._started = False  # the model has this episode's prompt
        self._index = 0

    def begin(self, env: Env, obs: dict[str, Any], info: dict[str, Any], job: Job) -> None:
        """Record the first observation and tokenize prompt and observation."""
        began = time.perf_counter()
        self._index = job.episode
        self.recorder.start(obs, info)
        self.inputs = start_inputs(
            self.recorder.episode(job.episode), self.tokenizer, job.key, self.crop_resampling
        )
        self._started = False
        self.timing["tokenize_s"] += time.perf_counter() - began

    def observe(
        self, action: dict[str, np.ndarray], obs: dict[str, Any], info: dict[str, Any]
    ) -> None:
        """Record the executed action and the new observation; tokenize the observation."""
        assert self.inputs is not None, "begin() first"
        began = time.perf_counter()
        self.recorder.add(action, obs, info)
        add_observation(
            self.inputs, self.recorder.episode(self._index), self.tokenizer, self.crop_resampling
        )
        self.timing["tokenize_s"] += time.perf_counter() - began

    def act(self) -> dict[str, np.ndarray]:
        """The greedy next action, decoded to continuous poses."""
        assert self.inputs is not None, "begin() first"
        began = time.perf_counter()
        arrays, after = self.inputs.perturbed(
            self.perturbation, self.seed, self.tokenizer, self.vocabulary
        )
        self.prompt, self.prompt_mask = after.prompt, after.prompt_mask.value
        self.applies = self.perturbation.changed(self.inputs.instruction, after)
        observations = collate_observations([arrays], crops=self.crops, frames=self.frames)
        actions = torch.from_numpy(np.array(arrays["actions"], np.float32))[None]
        prompt, mask = None, "none"
        if not self._started:
            prompt = collate_prompts([arrays], crops=self.crops, frames=self.frames)
            mask = masked_prompt(after.prompt_mask, self.model.config.visual.kind,
                                 self.patch_image_mask)  # fmt: skip
        middle = time.perf_counter()
        self.timing["tokenize_s"] += middle - began
        values = self.model.step(prompt, mask, observations, actions)
        self._started = True
        self.timing["model_s"] += time.perf_counter() - middle
        return env_action(split_action(values))
