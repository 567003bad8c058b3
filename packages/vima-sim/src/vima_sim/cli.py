"""Command line entry point of vima-sim."""

import argparse

from vima_sim import __version__


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; only --help and --version exist so far."""
    parser = argparse.ArgumentParser(prog="vima-sim", description="VIMA-Bench-compatible simulator.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0
