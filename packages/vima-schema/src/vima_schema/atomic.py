"""Crash-safe writes: data lands under a temporary name, is flushed to disk, then renamed.

A reader (or a run resumed after a crash or power loss) sees either the old file or folder or
the whole new one: file contents are fsync'ed before the rename and the parent folder after it,
and a folder being replaced stays in place until its successor is.

`durable=False` skips the fsyncs (the rename stays atomic) where the writer verifies its output
when it resumes, so that a file a crash left empty or short is found and redone: `parse`
checks every per-episode file's footer, and fsync'ing each of them cost 0.4 ms per episode on
a quiet disk and 8 ms on a busy one (half the parse time).

Temporary names say which process wrote them (`.<name>.<random>.<pid>@<machine>.tmp`), so that
a later run can delete those of a killed writer (`remove_stale_temporaries`) and never those of
a writer that is still running.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def fsync_directory(path: Path | str) -> None:
    """Flush a folder's entries (renames, new files) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path | str) -> None:
    """Flush a file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _machine() -> str:
    """This machine and process namespace, in 8 hex digits (a pid means something only there)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{zlib.crc32(f'{socket.gethostname()} {namespace}'.encode()):08x}"


def _writer_suffix() -> str:
    return f".{os.getpid()}@{_machine()}.tmp"


_TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)@(?P<machine>[0-9a-f]{8})\.tmp$")


def temporary_path(path: Path | str) -> Path:
    """A fresh empty hidden file next to `path` (`.<name>.<random>.<pid>@<machine>.tmp`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_writer_suffix())
    os.close(fd)
    return Path(tmp)


def remove_stale_temporaries(folder: Path | str, *, subfolders: bool = False) -> list[Path]:
    """Delete the temporary files and folders in `folder` (and in each of its `subfolders`:
    the task folders of a root) left by writers of this machine that no longer run (a killed
    run); return them. Those of a live process, of another machine or without a writer's name
    are kept."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    if subfolders:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                removed += remove_stale_temporaries(entry.path)
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or match["machine"] != _machine() or _alive(int(match["pid"])):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)
        log.info("removed %s, left by a writer that was killed (pid %s)", entry.path, match["pid"])
        removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextmanager
def atomic_output(path: Path | str, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s new contents to; on success it is fsync'ed
    (if `durable`) and renamed onto `path` (then the folder is fsync'ed); on any error it is
    deleted."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        yield tmp
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:
            error.filename = str(path)  # a failed write names no file: say which
        raise
    if durable:
        fsync_directory(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one
    (see the module doc for `durable`)."""
    with atomic_output(path, durable=durable) as tmp, tmp.open("wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path | str, text: str) -> None:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def temporary_sibling(path: Path | str) -> Path:
    """A fresh empty directory next to `path`, to be renamed onto it when complete (named like
    `temporary_path`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=_writer_suffix()))


def replace_directory(source: Path, target: Path, *, durable: bool = True) -> None:
    """Move the complete directory `source` onto `target`, replacing any old one.

    Everything below `source` is fsync'ed first (if `durable`). On Linux the two folders are
    swapped in one atomic `renameat2(RENAME_EXCHANGE)`, so `target` never goes missing;
    elsewhere the old copy is moved aside, and put back if the new one cannot be moved in.
    """
    if durable:
        _fsync_tree(source)
    if not target.exists():
        os.replace(source, target)
    elif _exchange(source, target):
        shutil.rmtree(source)  # now the old copy
    else:
        trash = temporary_sibling(target)
        os.replace(target, trash / "old")
        try:
            os.replace(source, target)
        except BaseException:
            os.replace(trash / "old", target)
            trash.rmdir()
            raise
        shutil.rmtree(trash)
    if durable:
        fsync_directory(target.parent)


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fsync_file(Path(folder) / name)
        fsync_directory(folder)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux `renameat2`); False where the system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # file system or kernel without RENAME_EXCHANGE
    raise OSError(code, os.strerror(code), str(second))


@functools.cache
def _renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    return function
