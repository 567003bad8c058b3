"""Stand-ins for the foreign classes pickled inside raw VIMA episodes.

`trajectory.pkl` references classes of the simulator (`vimasim.*` in VIMA-Data, `vima_bench.*` in
current VIMA-Bench output) and of OmegaConf. These small classes take their place when loading,
so neither package is needed, and they pickle back under the original names when writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

ENCYCLOPEDIA = "tasks.components.encyclopedia"


class SizeRange(NamedTuple):
    """Stand-in for `<ns>.tasks.components.encyclopedia.definitions.SizeRange`."""

    low: tuple[float, ...]
    high: tuple[float, ...]


class ProfilePedia(IntEnum):
    """Stand-in for `<ns>.tasks.components.encyclopedia.profiles.ProfilePedia`."""

    UNDETERMINED = -1
    SQUARE_LIKE = 0
    CIRCLE_LIKE = 1


@dataclass(frozen=True)
class EncyclopediaFunction:
    """Reference to a function of `<ns>.tasks.components.encyclopedia.replace_fns` (never run)."""

    name: str


class PartialCall:
    """Stand-in for `functools.partial` that records the call and can never run it."""

    def __init__(self, func: Any, *args: Any, **keywords: Any) -> None:
        self.func = func
        self.args = tuple(args)
        self.keywords = dict(keywords)
        self.extra: dict[str, Any] | None = None

    def __setstate__(self, state: tuple[Any, tuple[Any, ...], dict[str, Any] | None, Any]) -> None:
        self.func, args, keywords, extra = state
        self.args = tuple(args)
        self.keywords = dict(keywords or {})
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        return (PartialCall, (self.func,), (self.func, self.args, self.keywords, self.extra))


class OmegaNode:
    """Base stand-in for pickled OmegaConf objects: keeps the pickled state dict as is."""

    state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state if state is not None else {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = state

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        import copyreg

        return (copyreg.__newobj__, (type(self),), self.state)  # type: ignore[attr-defined]


class DictConfig(OmegaNode):
    """Stand-in for `omegaconf.dictconfig.DictConfig`."""


class ListConfig(OmegaNode):
    """Stand-in for `omegaconf.listconfig.ListConfig`."""


class AnyNode(OmegaNode):
    """Stand-in for `omegaconf.nodes.AnyNode`."""


class Metadata(OmegaNode):
    """Stand-in for `omegaconf.base.Metadata`."""


class ContainerMetadata(OmegaNode):
    """Stand-in for `omegaconf.base.ContainerMetadata`."""


#: (module, name) of each OmegaConf stand-in, the same in both format variants.
OMEGACONF_GLOBALS: dict[type, tuple[str, str]] = {
    DictConfig: ("omegaconf.dictconfig", "DictConfig"),
    ListConfig: ("omegaconf.listconfig", "ListConfig"),
    AnyNode: ("omegaconf.nodes", "AnyNode"),
    Metadata: ("omegaconf.base", "Metadata"),
    ContainerMetadata: ("omegaconf.base", "ContainerMetadata"),
}

#: Submodule (below `<ns>.tasks.components.encyclopedia`) and name of each encyclopedia class.
ENCYCLOPEDIA_CLASSES: dict[type, tuple[str, str]] = {
    SizeRange: ("definitions", "SizeRange"),
    ProfilePedia: ("profiles", "ProfilePedia"),
}

#: Functions of `replace_fns` known to occur in episodes.
REPLACE_FUNCTIONS: frozenset[str] = frozenset({"_kit_obj_common", "container_replace_fn"})
