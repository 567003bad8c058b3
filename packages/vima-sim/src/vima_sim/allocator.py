"""Keep freed memory in the process (glibc): the simulator reallocates the same large buffers.

Each textured body gets its own copy of its texture image (up to 1920 x 1600 x 3 bytes) and every
render hands back 128 KB arrays. glibc serves blocks of 128 KB and more with fresh `mmap` pages
and returns them to the system when they are freed, so every copy and every image page-faults
its memory in again (about 120,000 faults, a tenth of the CPU time, for 4 follow_order
episodes). Raising the mmap and trim thresholds lets freed blocks be reused instead; peak RSS
grows by a few percent. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit for the dynamic threshold
TRIM_THRESHOLD = 256 << 20
_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where not glibc."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _done
