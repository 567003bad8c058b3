"""vima-eval: instruction perturbations, offline and online evaluation, paper-style reports."""

from importlib.metadata import version

__version__ = version("vima-eval")
