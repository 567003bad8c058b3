"""Command line entry point of vima-train."""

import argparse

from vima_train import __version__


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; only --help and --version exist so far."""
    parser = argparse.ArgumentParser(
        prog="vima-train",
        description="Train VIMA-style policies with Lightning (coming in a later release).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0
