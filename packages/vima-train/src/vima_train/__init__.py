"""vima-train: Train VIMA-style policies with Lightning (coming in a later release)."""

from importlib.metadata import version

__version__ = version("vima-train")
