"""A real small (or read-only) file system for the tests of full-disk handling: a tmpfs mounted
in the test's folder. Mounting needs root (CAP_SYS_ADMIN); elsewhere the test is skipped."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=60)


@contextmanager
def small_filesystem(folder: Path, size_kb: int) -> Iterator[Path]:
    """Mount a tmpfs of `size_kb` KiB on `folder` (created) for the block; skip the test when
    this process may not mount file systems."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        done = _mount("-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder))
    except FileNotFoundError:
        pytest.skip("no mount command: cannot make a small file system")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True, timeout=60)


def remount(folder: Path, options: str) -> None:
    """Change a mounted tmpfs's options (`size=4m`, `ro`, `rw`)."""
    done = _mount("-o", f"remount,{options}", str(folder))
    assert done.returncode == 0, done.stderr
