"""Command line entry point of vima-tokenize."""

import argparse

from vima_tokenize import __version__


def main(argv: list[str] | None = None) -> int:
    """Parse arguments."""
    parser = argparse.ArgumentParser(prog="vima-tokenize")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0
