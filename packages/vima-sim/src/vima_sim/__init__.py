"""vima-sim: a VIMA-Bench-compatible simulator and oracle data generator."""

from importlib.metadata import version

from vima_sim.env import VimaEnv

__version__ = version("vima-sim")
__all__ = ["VimaEnv", "__version__"]
