"""vima-schema."""

from vima_schema.package_version import lazy_version

__getattr__ = lazy_version("vima-schema")
