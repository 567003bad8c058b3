"""vima-schema."""

from importlib.metadata import version

__version__ = version("vima-schema")
