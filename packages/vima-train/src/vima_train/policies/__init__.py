"""Policy families: vima-train's own network (`vima_train.model`) and the published reference
networks, each in its own folder with its own modelling code (`vima`: VIMA's `VIMAPolicy`;
`cogelot`: CoGeLoT's copy of it)."""

from __future__ import annotations

import torch

from vima_train.config import ModelConfig
from vima_train.model.policy import Policy
from vima_train.model.prompt import offline_architecture
from vima_train.policies.cogelot.policy import CogeLoTPolicy
from vima_train.policies.vima.policy import VimaPolicy

#: Any policy a checkpoint can hold; all share vima-train's policy interface.
AnyPolicy = Policy | VimaPolicy
#: The reference families' policy classes.
REFERENCE_POLICIES: dict[str, type[VimaPolicy]] = {"vima": VimaPolicy, "cogelot": CogeLoTPolicy}


def build_policy(config: ModelConfig, vocab_size: int) -> AnyPolicy:
    """The policy network of `config.family` (randomly initialised; T5 as configured)."""
    if config.family in REFERENCE_POLICIES:
        return REFERENCE_POLICIES[config.family](config, vocab_size)
    return Policy(config, vocab_size)


def parameter_count(config: ModelConfig, vocab_size: int) -> int:
    """Parameters of a policy of this config, counted on the meta device without downloading
    pretrained weights (a known T5 is built from its architecture)."""
    offline = config.model_copy(
        update={"prompt_encoder": offline_architecture(config.prompt_encoder)}
    )
    with torch.device("meta"):
        return sum(p.numel() for p in build_policy(offline, vocab_size).parameters())
