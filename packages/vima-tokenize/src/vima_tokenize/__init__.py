"""vima-tokenize."""

from importlib.metadata import version

__version__ = version("vima-tokenize")
