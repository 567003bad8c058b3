"""Restricted pickle loading and namespace-aware pickle writing for raw VIMA files.

`load_pickle` never imports or calls anything outside a fixed allow-list: numpy array
reconstruction, builtin containers, `collections.defaultdict`, `typing.Any`, and stand-ins for
`functools.partial`, the OmegaConf node classes and the VIMA encyclopedia classes (under both
`vimasim.*` and `vima_bench.*`). Any other global is refused with `ForbiddenGlobalError`.
"""

from __future__ import annotations

import builtins
import collections
import io
import pickle
import types
import typing
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vima_schema.enums import PickleNamespace
from vima_schema.standins import (
    ENCYCLOPEDIA,
    ENCYCLOPEDIA_CLASSES,
    OMEGACONF_GLOBALS,
    REPLACE_FUNCTIONS,
    EncyclopediaFunction,
    PartialCall,
)

_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_BUILTIN_TYPES = ("dict", "list", "tuple", "set", "frozenset", "int", "float", "str", "bool")
_FUNCTION_MODULE = "replace_fns"


class PickleLoadError(ValueError):
    """A pickle could not be loaded; the message names the file and the problem."""


class ForbiddenGlobalError(PickleLoadError):
    """A pickle referenced a global outside the allow-list (it was not imported or run)."""


def _build_allow_list() -> dict[tuple[str, str], tuple[Any, PickleNamespace | None]]:
    allowed: dict[tuple[str, str], tuple[Any, PickleNamespace | None]] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = (_RECONSTRUCT, None)
    allowed[("numpy", "ndarray")] = (np.ndarray, None)
    allowed[("numpy", "dtype")] = (np.dtype, None)
    for name in _BUILTIN_TYPES:
        allowed[("builtins", name)] = (getattr(builtins, name), None)
    allowed[("collections", "defaultdict")] = (collections.defaultdict, None)
    allowed[("typing", "Any")] = (typing.Any, None)
    allowed[("functools", "partial")] = (PartialCall, None)
    for cls, (module, name) in OMEGACONF_GLOBALS.items():
        allowed[(module, name)] = (cls, None)
    for namespace in PickleNamespace:
        root = f"{namespace.value}.{ENCYCLOPEDIA}"
        for cls, (submodule, name) in ENCYCLOPEDIA_CLASSES.items():
            allowed[(f"{root}.{submodule}", name)] = (cls, namespace)
        for name in REPLACE_FUNCTIONS:
            allowed[(f"{root}.{_FUNCTION_MODULE}", name)] = (EncyclopediaFunction(name), namespace)
    return allowed


ALLOWED_GLOBALS = _build_allow_list()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self.source = source
        self.namespaces: set[PickleNamespace] = set()

    def find_class(self, module: str, name: str) -> Any:
        entry = ALLOWED_GLOBALS.get((module, name))
        if entry is None:
            raise ForbiddenGlobalError(
                f"{self.source}: refused to load forbidden global '{module}.{name}' "
                "(not part of the VIMA episode format; nothing was imported or run)"
            )
        value, namespace = entry
        if namespace is not None:
            self.namespaces.add(namespace)
        return value

    def persistent_load(self, pid: Any) -> Any:
        raise PickleLoadError(f"{self.source}: persistent ids are not part of the format")


def load_pickle(path: Path | str, data: bytes | None = None) -> tuple[Any, set[PickleNamespace]]:
    """Load one raw VIMA pickle safely.

    Returns the object and the set of encyclopedia namespaces (`vimasim`/`vima_bench`) it used.
    Raises `PickleLoadError` naming `path` for forbidden globals, truncation or corruption.
    """
    path = Path(path)
    try:
        payload = path.read_bytes() if data is None else data
    except OSError as error:
        raise PickleLoadError(f"{path}: cannot read file ({error.strerror})") from None
    if not payload:
        raise PickleLoadError(f"{path}: file is empty")
    unpickler = _RestrictedUnpickler(io.BytesIO(payload), str(path))
    try:
        obj = unpickler.load()
    except PickleLoadError:
        raise
    except (EOFError, pickle.UnpicklingError) as error:
        if isinstance(error, pickle.UnpicklingError) and "truncated" not in str(error):
            raise PickleLoadError(f"{path}: pickle is corrupt ({error})") from None
        raise PickleLoadError(
            f"{path}: pickle is truncated (ended before its STOP opcode)"
        ) from None
    except Exception as error:  # corrupt streams raise many different exception types
        raise PickleLoadError(
            f"{path}: pickle is corrupt ({type(error).__name__}: {error})"
        ) from None
    return obj, unpickler.namespaces


# pickle's own dispatch table: importing dill (as `datasets` does) adds dill's reducers to
# `pickle._Pickler.dispatch`, which would write e.g. `int` as `dill._dill._load_type`.
_STOCK_DISPATCH_METHODS = {
    type(None): "save_none",
    bool: "save_bool",
    int: "save_long",
    float: "save_float",
    bytes: "save_bytes",
    bytearray: "save_bytearray",
    pickle.PickleBuffer: "save_picklebuffer",
    str: "save_str",
    tuple: "save_tuple",
    list: "save_list",
    dict: "save_dict",
    set: "save_set",
    frozenset: "save_frozenset",
    types.FunctionType: "save_global",
    type: "save_type",
}


#: The pure-python pickler (private in the standard library, so typed as Any).
_PurePickler: Any = pickle._Pickler  # type: ignore[attr-defined]


class _NamespacePickler(_PurePickler):
    """Pure-python pickler that writes stand-ins under their original module names."""

    dispatch: typing.ClassVar[dict[type, Any]] = {
        cls: getattr(pickle._Pickler, name)  # type: ignore[attr-defined]
        for cls, name in _STOCK_DISPATCH_METHODS.items()
    }

    def __init__(self, file: BinaryIO, namespace: PickleNamespace) -> None:
        super().__init__(file, protocol=4)
        root = f"{namespace.value}.{ENCYCLOPEDIA}"
        self.global_names: dict[int, tuple[str, str]] = {
            id(cls): (module, name) for cls, (module, name) in OMEGACONF_GLOBALS.items()
        }
        for cls, (submodule, name) in ENCYCLOPEDIA_CLASSES.items():
            self.global_names[id(cls)] = (f"{root}.{submodule}", name)
        self.global_names[id(PartialCall)] = ("functools", "partial")
        # numpy 1.x and 2.x both read the 1.x module name; 2.x writes one 1.x cannot read.
        self.global_names[id(_RECONSTRUCT)] = ("numpy.core.multiarray", "_reconstruct")
        self.function_module = f"{root}.{_FUNCTION_MODULE}"

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, EncyclopediaFunction):
            self._write_global(obj, self.function_module, obj.name)
        elif id(obj) in self.global_names:
            self._write_global(obj, *self.global_names[id(obj)])
        else:
            super().save(obj, save_persistent_id)

    def _write_global(self, obj: Any, module: str, name: str) -> None:
        memo = self.memo.get(id(obj))
        if memo is not None:
            self.write(self.get(memo[0]))
            return
        self.save(module)
        self.save(name)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def dump_pickle(obj: Any, namespace: PickleNamespace = PickleNamespace.vimasim) -> bytes:
    """Pickle `obj` (protocol 4) with stand-ins written under their original class names."""
    buffer = io.BytesIO()
    _NamespacePickler(buffer, namespace).dump(obj)
    return buffer.getvalue()
