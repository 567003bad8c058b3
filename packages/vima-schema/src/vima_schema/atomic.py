"""Atomic writes: data lands under a temporary name and is renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def temporary_sibling(path: Path | str) -> Path:
    """A fresh empty directory next to `path`, to be renamed onto it when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))


def replace_directory(source: Path, target: Path) -> None:
    """Move the complete directory `source` onto `target`, replacing any old one."""
    if target.exists():
        trash = temporary_sibling(target)
        os.replace(target, trash / "old")
        os.replace(source, target)
        shutil.rmtree(trash)
    else:
        os.replace(source, target)
