"""Policy networks (torch)."""

from vima_train.model.policy import Policy, PromptCache

__all__ = ["Policy", "PromptCache"]
