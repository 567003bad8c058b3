"""Step 1: raw episode folders -> one parsed file per episode, resumable and shardable."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vima_schema.atomic import remove_stale_temporaries
from vima_schema.discover import find_episodes
from vima_schema.enums import Task
from vima_schema.reader import read_episode
from vima_schema.runner import append_failure, mark_work_started, run_items, tidy_failures

from vima_convert.episode_file import (
    FAILURES_FILE,
    episode_file,
    is_complete,
    write_episode_file,
)

log = logging.getLogger(__name__)


@dataclass
class ParseSummary:
    """Counts of a parse run."""

    written: int = 0
    skipped: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def shard_key(folder: Path) -> str:
    """Stable identity of an episode folder for sharding: `<canonical task>/<index>`."""
    try:
        task = Task.from_name(folder.parent.name).name
    except ValueError:
        task = folder.parent.name
    return f"{task}/{int(folder.name)}"


def in_shard(folder: Path, shard: tuple[int, int] | None) -> bool:
    """Whether an episode belongs to shard (i, n): crc32 of its key modulo n equals i."""
    if shard is None:
        return True
    index, count = shard
    return zlib.crc32(shard_key(folder).encode()) % count == index


def select_episodes(raw: Iterable[str], shard: tuple[int, int] | None) -> Iterator[Path]:
    """Episode folders under the raw inputs that belong to `shard`."""
    return (folder for folder in find_episodes(raw) if in_shard(folder, shard))


@dataclass(frozen=True)
class _ParseJob:
    parsed: Path
    overwrite: bool

    def __call__(self, folder: Path) -> tuple[str, int, int]:
        task = (
            Task.from_name(folder.parent.name) if folder.parent.name in Task.__members__ else None
        )
        if task is not None:
            target = episode_file(self.parsed, task, int(folder.name))
            if not self.overwrite and is_complete(target):
                return "skipped", 0, 0
        episode = read_episode(folder)
        target = episode_file(self.parsed, episode.task, episode.index)
        size_in = sum(len(f) for frames in episode.frames.values() for f in frames) + sum(
            (folder / name).stat().st_size for name in ("obs.pkl", "action.pkl", "trajectory.pkl")
        )
        return "written", size_in, write_episode_file(target, episode)


def _unique_episodes(
    raw: Iterable[str], shard: tuple[int, int] | None, parsed: Path, summary: ParseSummary
) -> list[Path]:
    """The selected episode folders, each episode once: a later folder of the same episode is a
    failure (counted in `summary` and appended to `failures.jsonl`)."""
    folders: list[Path] = []
    seen: dict[str, Path] = {}
    for folder in select_episodes(raw, shard):
        key = shard_key(folder)
        if key in seen:
            error = f"{folder}: duplicate of episode {key} already taken from {seen[key]}"
            summary.failed += 1
            summary.failures.append((str(folder), error))
            append_failure(parsed / FAILURES_FILE, str(folder), error)
            log.warning("vima-convert: skipped %s", error)
        else:
            seen[key] = folder
            folders.append(folder)
    return folders


def parse(
    raw: Iterable[str],
    parsed: Path,
    *,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    overwrite: bool = False,
) -> ParseSummary:
    """Parse every selected raw episode into `parsed`; failures go to `failures.jsonl` (the
    newest failure of each episode that is still not parsed).

    A full disk, a read-only or vanished `parsed` stops the run (`OutputError`); what was
    written stays complete and a rerun resumes.
    """
    parsed.mkdir(parents=True, exist_ok=True)
    summary = ParseSummary()
    done: set[str] = set()
    folders = _unique_episodes(raw, shard, parsed, summary)
    mark_work_started()
    remove_stale_temporaries(parsed, subfolders=True)
    job = _ParseJob(parsed, overwrite)
    outcomes = run_items(
        job, folders, workers=workers, desc="parse", total=len(folders), output=parsed
    )
    for outcome in outcomes:
        if outcome.error is not None:
            error = outcome.error
            if not error.startswith(str(outcome.item)):
                error = f"{outcome.item}: {error}"
            summary.failed += 1
            summary.failures.append((str(outcome.item), error))
            append_failure(
                parsed / FAILURES_FILE,
                str(outcome.item),
                error,
                error_type=outcome.error_type,
                traceback=outcome.traceback,
            )
            log.warning("vima-convert: skipped bad episode: %s", error)
            log.debug("%s", outcome.traceback)
            continue
        status, size_in, size_out = outcome.value
        done.add(str(outcome.item))
        if status == "skipped":
            summary.skipped += 1
        else:
            summary.written += 1
            summary.bytes_in += size_in
            summary.bytes_out += size_out
    tidy_failures(parsed / FAILURES_FILE, done)
    return summary
