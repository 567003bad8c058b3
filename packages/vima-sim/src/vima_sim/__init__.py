"""vima-sim: a VIMA-Bench-compatible simulator and oracle data generator."""

from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vima_sim.env import VimaEnv

__version__ = version("vima-sim")
__all__ = ["VimaEnv", "__version__"]


def __getattr__(name: str) -> Any:
    """`vima_sim.VimaEnv` imports pybullet on first use, so `vima-sim --help` stays fast."""
    if name == "VimaEnv":
        from vima_sim.env import VimaEnv

        return VimaEnv
    raise AttributeError(f"module 'vima_sim' has no attribute {name!r}")
