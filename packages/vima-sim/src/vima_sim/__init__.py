"""vima-sim: a VIMA-Bench-compatible simulator and oracle data generator."""

from typing import TYPE_CHECKING, Any

from vima_schema.package_version import lazy_version

if TYPE_CHECKING:
    from vima_sim.env import VimaEnv

__all__ = ["VimaEnv", "__version__"]
_version = lazy_version("vima-sim")


def __getattr__(name: str) -> Any:
    """`VimaEnv` imports pybullet on first use, so `vima-sim --help` stays fast."""
    if name == "VimaEnv":
        from vima_sim.env import VimaEnv

        return VimaEnv
    return _version(name)
