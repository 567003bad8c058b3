"""vima-train: train VIMA-style policies with Lightning, logged to W&B (docs/TRAINING.md)."""

from importlib.metadata import version

__version__ = version("vima-train")
