"""What a writer killed with SIGKILL leaves behind: its temporary file and staging folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Starts writing ARGV[1] (a file) and ARGV[2] (a folder) under temporary names, prints both
#: and waits to be killed.
_WRITER = """
import sys, time
from pathlib import Path
from vima_schema.atomic import atomic_output, temporary_sibling
staging = temporary_sibling(Path(sys.argv[2]))
with atomic_output(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half written")
    print(tmp, staging, flush=True)
    time.sleep(600)
"""


def leftovers_of_a_killed_writer(file: Path, folder: Path) -> list[Path]:
    """Start writing `file` and the folder `folder` in another process, kill it (SIGKILL: no
    clean-up runs) and return the temporary file and folder it leaves."""
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(file), str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    left = [Path(name) for name in writer.stdout.readline().split()]
    writer.kill()
    writer.wait()
    writer.stdout.close()
    assert len(left) == 2 and all(path.exists() for path in left)
    return left
