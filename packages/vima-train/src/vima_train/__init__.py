"""vima-train: train VIMA-style policies with Lightning, logged to W&B (docs/TRAINING.md)."""

from vima_schema.package_version import lazy_version

__getattr__ = lazy_version("vima-train")
