"""Command line entry point of vima-eval."""

import argparse

from vima_eval import __version__


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; only --help and --version exist so far."""
    parser = argparse.ArgumentParser(
        prog="vima-eval",
        description="Evaluate VIMA-style policies offline and online (coming in a later release).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0
