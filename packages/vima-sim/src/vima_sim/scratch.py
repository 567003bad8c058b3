"""Scratch folders for the files vima-sim writes while it runs (filled-in URDF templates).

Each process keeps its files in `<tmp>/vima-sim-<host>-<pid>-<random>/` and removes that folder
when it exits. Processes that end without exit handlers leave theirs: pool workers (their
pool terminates them, or they leave through `os._exit`) and anything killed by SIGKILL. So
every process that imports vima-sim also removes, when it makes its folder and when it exits,
the folders of its host whose process is gone: a `generate --workers N` run removes its
workers' folders as it ends, and the next run those of a killed one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

PREFIX = "vima-sim-"


class _Folder:
    """This process's folder (`pid` tells a forked child that the folder is its parent's)."""

    pid = -1
    path = Path()


def process_folder() -> Path:
    """This process's scratch folder, made on first use (after removing stale folders)."""
    if _Folder.pid != os.getpid():
        remove_stale()
        prefix = f"{PREFIX}{socket.gethostname()}-{os.getpid()}-"
        _Folder.path = Path(tempfile.mkdtemp(prefix=prefix))
        _Folder.pid = os.getpid()
    return _Folder.path


def _running(pid: int) -> bool:
    """Whether process `pid` of this host exists and is no zombie (assumed where unknown)."""
    proc = Path("/proc")
    if (proc / "self").is_dir():  # Linux: a killed worker can stay a zombie for a while
        try:
            state = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")
    if os.name != "posix":  # os.kill would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale() -> None:
    """Remove the scratch folders of this host's processes that are gone (and those of an
    earlier process that had this one's id)."""
    host, pid = socket.gethostname(), os.getpid()
    mine = _Folder.path.name if _Folder.pid == pid else None
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        parts = entry.name[len(PREFIX) :].rsplit("-", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue  # another host's, or not ours
        owner = int(parts[1])
        stale = entry.name != mine if owner == pid else not _running(owner)
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)


@atexit.register
def _at_exit() -> None:
    if _Folder.pid == os.getpid():
        shutil.rmtree(_Folder.path, ignore_errors=True)
    remove_stale()
