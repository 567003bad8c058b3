"""A package's `__version__`, read from its installed metadata only when asked for."""

from collections.abc import Callable


def lazy_version(distribution: str) -> Callable[[str], str]:
    """A module `__getattr__` that answers `__version__` with the version of `distribution`
    (`importlib.metadata` costs 40-80 ms of imports, which every `--help` would pay)."""

    def module_getattr(name: str) -> str:
        if name != "__version__":
            raise AttributeError(f"module has no attribute {name!r}")
        from importlib.metadata import version

        return version(distribution)

    return module_getattr
