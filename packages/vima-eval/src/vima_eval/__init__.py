"""vima-eval: instruction perturbations, offline and online evaluation, paper-style reports."""

from vima_schema.package_version import lazy_version

__getattr__ = lazy_version("vima-eval")
