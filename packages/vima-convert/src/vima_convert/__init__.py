"""vima-convert."""

from importlib.metadata import version

__version__ = version("vima-convert")
