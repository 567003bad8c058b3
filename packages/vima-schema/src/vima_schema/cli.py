"""Command line entry point of vima-schema."""

import argparse

from vima_schema import __version__


def main(argv: list[str] | None = None) -> int:
    """Parse arguments."""
    parser = argparse.ArgumentParser(prog="vima-schema")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0
