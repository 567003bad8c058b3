"""vima-sim: a VIMA-Bench-compatible simulator and oracle data generator."""

from importlib.metadata import version

__version__ = version("vima-sim")
