"""Finding episode folders below raw roots."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def is_episode_folder(path: Path) -> bool:
    """An episode folder is a directory named by digits (`000123`)."""
    return path.name.isdigit() and path.is_dir()


def find_episodes(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Episode folders at or below each path, in sorted order per path.

    `-` reads further paths from stdin, one per line. Hidden entries (temporary output) are
    skipped. Symbolic links to folders are followed, except one that leads back to a folder
    being walked (a cycle), which is skipped with a warning. A path that does not exist
    raises FileNotFoundError naming it.
    """
    for given in paths:
        if str(given) == "-":
            lines = (line.strip() for line in sys.stdin)
            yield from find_episodes(line for line in lines if line)
            continue
        path = Path(given)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        yield from _walk(path, frozenset())


def _walk(path: Path, ancestors: frozenset[tuple[int, int]]) -> Iterator[Path]:
    if is_episode_folder(path):
        yield path
        return
    if not path.is_dir():
        return
    info = path.stat()
    identity = (info.st_dev, info.st_ino)
    if identity in ancestors:
        log.warning("%s: skipped, a link back to a folder above it (cycle)", path)
        return
    ancestors = ancestors | {identity}
    children = sorted(
        (Path(entry.path) for entry in os.scandir(path) if not entry.name.startswith(".")),
        key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name),
    )
    for child in children:
        if child.is_dir():
            yield from _walk(child, ancestors)
