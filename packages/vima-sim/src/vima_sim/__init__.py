"""vima-sim: a VIMA-Bench-compatible simulator and oracle data generator.

The public API, what other packages (vima-eval) use: `VimaEnv`, `EpisodeRecorder`, the task
list `available()`, `SceneSamplingError`, the workspace bounds `WORKSPACE_LOW` /
`WORKSPACE_HIGH` and the fallback-seed rule `SEED_ATTEMPTS` / `SEED_STRIDE`.
"""

import importlib
from typing import TYPE_CHECKING, Any

from vima_schema.package_version import lazy_version

if TYPE_CHECKING:
    from vima_sim.env import VimaEnv
    from vima_sim.recording import EpisodeRecorder
    from vima_sim.rollout import SEED_ATTEMPTS, SEED_STRIDE
    from vima_sim.tasks import SceneSamplingError, available
    from vima_sim.tasks.base import WORKSPACE_HIGH, WORKSPACE_LOW

#: Public name -> the module that defines it (imported on first use: pybullet loads lazily).
_PUBLIC = {
    "VimaEnv": "vima_sim.env",
    "EpisodeRecorder": "vima_sim.recording",
    "SEED_ATTEMPTS": "vima_sim.rollout",
    "SEED_STRIDE": "vima_sim.rollout",
    "SceneSamplingError": "vima_sim.tasks",
    "available": "vima_sim.tasks",
    "WORKSPACE_HIGH": "vima_sim.tasks.base",
    "WORKSPACE_LOW": "vima_sim.tasks.base",
}
__all__ = [
    "SEED_ATTEMPTS",
    "SEED_STRIDE",
    "WORKSPACE_HIGH",
    "WORKSPACE_LOW",
    "EpisodeRecorder",
    "SceneSamplingError",
    "VimaEnv",
    "__version__",
    "available",
]
_version = lazy_version("vima-sim")


def __getattr__(name: str) -> Any:
    """Public names import their module on first use, so `vima-sim --help` stays fast."""
    module = _PUBLIC.get(name)
    if module is not None:
        return getattr(importlib.import_module(module), name)
    return _version(name)
