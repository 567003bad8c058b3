"""vima-eval: Evaluate VIMA-style policies offline and online (coming in a later release)."""

from importlib.metadata import version

__version__ = version("vima-eval")
