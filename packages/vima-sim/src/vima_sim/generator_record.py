"""What made the episodes of a `vima-sim generate` folder (`generator.json`, one entry per task).

A rerun into the same folder resumes only when the task's settings and the simulator that
wrote its episodes are the same: the partition, difficulty, seed and same_shape bases (which
VIMA-Bench copy same_shape / same_texture bases follow, `SameShapeBases`), the vima-sim version,
SHA-256s of the simulator's Python sources, of its data files (encyclopedia, partitions, task
rules) and of its assets (URDFs, meshes, textures), and the pybullet version (a simulator
changed mid-run - an upgrade, or an edit of the working tree - renders and moves differently,
and its episodes must not be mixed with the old ones).
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from vima_schema.atomic import atomic_write_text

from vima_sim.encyclopedia import ASSETS_ROOT

RECORD_FILE = "generator.json"
FORMAT = 1
PACKAGE = Path(__file__).parent


def tree_sha256(root: Path, pattern: str = "*") -> str:
    """SHA-256 over the files under `root` matching `pattern` (relative path and bytes, in
    path order; `__pycache__` left out)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        relative = path.relative_to(root)
        if path.is_file() and "__pycache__" not in relative.parts:
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def simulator_fingerprint() -> dict[str, str]:
    """What makes this simulator, computed once per process: vima-sim's version, SHA-256s of
    its sources, data files and assets, and the pybullet version."""
    return {
        "vima_sim": version("vima-sim"),
        "source_sha256": tree_sha256(PACKAGE, "*.py"),
        "data_sha256": tree_sha256(PACKAGE / "data"),
        "assets_sha256": tree_sha256(ASSETS_ROOT),
        "pybullet": version("pybullet"),
    }


def task_record(
    partition: str, difficulty: str, seed: int, same_shape_bases: str = "cogelot"
) -> dict[str, Any]:
    """The record of one task's episodes written now with these settings."""
    return {
        "format": FORMAT,
        "partition": partition,
        "difficulty": difficulty,
        "seed": seed,
        "same_shape_bases": same_shape_bases,
        **simulator_fingerprint(),
    }


def check_and_record(out: Path, tasks: list[str], record: dict[str, Any]) -> list[str]:
    """Add `record` for each task of `tasks` to `out/generator.json`.

    Raises ValueError naming the file, the task and what differs when a task already has
    episodes made otherwise. Returns the tasks whose existing episodes had no record (folders
    from before the record existed; they are adopted as they are)."""
    path = out / RECORD_FILE
    try:
        recorded = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: unreadable generator record ({error})") from None
    adopted = []
    for task in tasks:
        before = recorded.get(task)
        if before is None:
            if (out / task).is_dir() and any((out / task).iterdir()):
                adopted.append(task)
            recorded[task] = record
            continue
        changed = [key for key in record if before.get(key) != record[key]]
        if changed:
            was = ", ".join(f"{key} {before.get(key)!r} -> {record[key]!r}" for key in changed)
            raise ValueError(
                f"{path}: the {task} episodes there were made with other settings or another "
                f"simulator ({was}); generate into a new folder, or delete {out / task} to "
                "make them again"
            )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    return adopted
