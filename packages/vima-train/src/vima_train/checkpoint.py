"""Reading vima-train checkpoints (Lightning checkpoints with a `vima_train` metadata entry).

The metadata records everything needed to rebuild the policy and reproduce its inputs: the
resolved run config, the tokenizer (JSON and SHA-256), the tokenize settings of the training
data (`keep_final_observation`), the action axes and bin counts, the step and the metrics.
Checkpoints are read with `torch.load(weights_only=True)`: no arbitrary pickle is executed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from tokenizers import Tokenizer
from torch import nn
from vima_tokenize.text import load_tokenizer

from vima_train.checkpoint_format import CHECKPOINT_FORMAT, META_KEY
from vima_train.config import RunConfig
from vima_train.importing import ImportFailure, file_family, import_reference, load_torch_file
from vima_train.policies import AnyPolicy, build_policy
from vima_train.policy_folder import is_policy_folder, read_folder

POLICY_PREFIX = "policy."


class CheckpointError(ValueError):
    """A file that is not a usable vima-train checkpoint (message names file and problem)."""


#: Tokenizer given to a released checkpoint read directly (not imported): t5-base, which VIMA's
#: and CoGeLoT's evaluations tokenize with, unless this environment variable names another.
VIMA_TOKENIZER_ENV = "VIMA_TOKENIZER"


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The whole checkpoint dict, loaded safely (torch's restricted unpickler), from a vima-train
    checkpoint, a policy folder (`vima-train export`) or a released VIMA or CoGeLoT file
    (imported in memory with the tokenizer of `$VIMA_TOKENIZER`, default t5-base);
    CheckpointError if it is none of these."""
    path = Path(path)
    if is_policy_folder(path):
        try:
            return read_folder(path, META_KEY)
        except (OSError, ValueError, KeyError) as error:
            raise CheckpointError(f"{path}: not a readable policy folder ({error})") from None
    try:
        checkpoint = load_torch_file(path, map_location)
    except ImportFailure as error:
        raise CheckpointError(str(error)) from None
    if file_family(checkpoint) is not None:
        return _imported(path, checkpoint)
    if not isinstance(checkpoint, dict) or META_KEY not in checkpoint:
        raise CheckpointError(f"{path}: not a vima-train checkpoint (no '{META_KEY}' entry)")
    meta = checkpoint[META_KEY]
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT}"
        )
    return checkpoint


def _imported(path: Path, loaded: Any) -> dict[str, Any]:
    tokenizer_name = os.environ.get(VIMA_TOKENIZER_ENV, "t5-base")
    try:
        tokenizer = load_tokenizer(tokenizer_name)
        return import_reference(path, loaded, tokenizer.to_str(), tokenizer.get_vocab_size())
    except (ImportFailure, ValueError) as error:
        raise CheckpointError(f"{path}: released checkpoint cannot be used ({error})") from None


def read_meta(path: str | Path) -> dict[str, Any]:
    """The `vima_train` metadata of a checkpoint (config, tokenizer, axes, step, metrics)."""
    return dict(read_checkpoint(path)[META_KEY])


def checkpoint_config(meta: dict[str, Any], path: str | Path = "checkpoint") -> RunConfig:
    """The validated run config stored in checkpoint metadata."""
    try:
        return RunConfig.model_validate(meta["config"])
    except (KeyError, ValidationError) as error:
        raise CheckpointError(f"{path}: stored config is not valid ({error})") from None


def tokenizer_of(meta: dict[str, Any]) -> Tokenizer:
    """The tokenizer the policy's training data was tokenized with."""
    return Tokenizer.from_str(meta["tokenizer_json"])


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Modules built inside keep their parameters on the meta device (no memory, and their
    initialisation computes nothing); buffers stay real, so the non-persistent ones, which no
    checkpoint holds, keep their values."""
    register = nn.Module.register_parameter

    def on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    # normal_ has no C++ meta kernel: on a meta tensor it imports torch's Python
    # decompositions (some 900 modules, seconds and ~150 MB per process) to compute nothing
    normal = torch.Tensor.normal_

    def skip_on_meta(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return tensor if tensor.is_meta else normal(tensor, *args, **kwargs)

    nn.Module.register_parameter = on_meta  # type: ignore[method-assign, assignment]
    torch.Tensor.normal_ = skip_on_meta  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        nn.Module.register_parameter = register  # type: ignore[method-assign, assignment]
        torch.Tensor.normal_ = normal  # type: ignore[method-assign, assignment]


def policy_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The policy's weights in a checkpoint dict (`policy.` prefix removed)."""
    return {
        key[len(POLICY_PREFIX) :]: value
        for key, value in checkpoint.get("state_dict", {}).items()
        if key.startswith(POLICY_PREFIX)
    }


def load_policy(path: str | Path, map_location: str | torch.device = "cpu") -> AnyPolicy:
    """Rebuild the policy of a checkpoint in eval mode; `policy.checkpoint_meta` holds the
    metadata. CheckpointError when the file is not a vima-train checkpoint or its weights do
    not fit the stored config.

    Only the weights and the metadata are read: the file is memory-mapped, so the optimiser
    state is never read, and the parameters are the mapped tensors themselves (built on the
    meta device, then assigned), so processes loading one file share its pages in the page
    cache instead of each holding a private copy. A tensor stored in another dtype than the
    network's is converted (a private copy)."""
    checkpoint = read_checkpoint(path, map_location)
    meta = checkpoint[META_KEY]
    config = checkpoint_config(meta, path)
    state = policy_state(checkpoint)
    del checkpoint  # the optimiser state and the rest: mapped, never read
    with parameters_on_meta():
        policy = build_policy(config.model, int(meta["vocab_size"]))
    expected = policy.state_dict(keep_vars=True)
    for key, value in state.items():
        if key in expected and value.dtype != expected[key].dtype:
            state[key] = value.to(expected[key].dtype)
    try:
        policy.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise CheckpointError(
            f"{path}: weights do not fit the stored model ({first[0].strip()})"
        ) from None
    policy.checkpoint_meta = dict(meta)
    return policy.to(map_location).eval()
