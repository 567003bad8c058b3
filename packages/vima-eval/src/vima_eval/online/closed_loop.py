"""`vima-eval online` / `vima-eval oracle`: closed-loop evaluation in the simulator.

A run folder holds `run.json` (the settings that determine results), the per-episode result
table (`episodes.parquet`, streamed in `parts/` while running), `metrics.json`,
`errors.json`, `videos/` and `recordings/` (with `--record`; `vima-eval view` shows them) and
the offline W&B run (`wandb/`); the command (`vima-eval online`, `oracle`, `merge`) adds
`report/`, the tables of `vima-eval report`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm
from vima_schema.atomic import atomic_write_text
from vima_schema.enums import Difficulty, SameShapeBases
from vima_schema.perturbations import Vocabulary, get_perturbation
from vima_schema.runner import OutputWatch, mark_work_started, output_guard

from vima_eval.model_input import PatchImageMask
from vima_eval.online.episode import check_time_limit
from vima_eval.online.parts import PARTS, PartWriter, finish, read_rows, result_key
from vima_eval.online.plan import Job, level_tasks, plan_jobs
from vima_eval.online.recording import RECORDINGS, VIDEOS
from vima_eval.online.summary import (
    METRICS_SCHEMA,
    METRICS_VERSION,
    online_metrics,
    summary_scalars,
)
from vima_eval.online.tracking import Tracker
from vima_eval.online.worker import Done, WorkerConfig, WorkerPool
from vima_eval.results import ONLINE, RESULTS_FILE

RUN_FILE = "run.json"
ORACLE = "oracle"
ENVS = ("builtin", "vima-bench")
#: Settings that change results: a resumed run must use the same ones.
PINNED = ("checkpoint", "difficulty", "seed", "time_limit", "env", "patch_image_mask",
          "same_shape_bases")  # fmt: skip
FLUSH_EVERY = 8
FLUSH_SECONDS = 20.0


@dataclass
class OnlineSettings:
    """Everything that defines an online run."""

    checkpoint: Path | None  # None: the oracle acts
    levels: list[int]
    tasks: list[str] | None = None
    episodes: int = 100
    start: int = 0
    perturbations: list[str] = field(default_factory=lambda: ["noop"])
    difficulty: str = "easy"
    seed: int = 0
    workers: int = 1
    device: str = "cpu"
    env: str = "builtin"
    env_python: str | None = None
    same_shape_bases: str | None = None  # builtin: SameShapeBases (None: cogelot)
    time_limit: str = "vima"
    record: int = 0
    wandb: str = "offline"
    flush_every: int = FLUSH_EVERY  # episodes per streamed parquet part
    patch_image_mask: str = PatchImageMask.mask.value  # what visual masks do to patch models
    policy_server: bool = False  # one policy process answers every worker's requests


@dataclass
class OnlineResult:
    """What a run left: the folder, episodes run now and before, and the failures."""

    out: Path
    ran: int
    skipped: int
    errors: list[dict[str, str]]


def _checkpoint_id(settings: OnlineSettings) -> tuple[str, Vocabulary | None]:
    """The checkpoint's identity and the vocabulary gobbledygook_tokens draws from for it."""
    if settings.checkpoint is None:
        return (ORACLE if settings.env == "builtin" else f"{ORACLE}@{settings.env}"), None
    from vima_train.checkpoint import CheckpointError, checkpoint_config, read_meta

    from vima_eval.model_input import checkpoint_id, gobbledygook_vocabulary

    try:
        config = checkpoint_config(read_meta(settings.checkpoint), settings.checkpoint)
    except CheckpointError as error:
        raise ValueError(str(error)) from None
    return checkpoint_id(settings.checkpoint), gobbledygook_vocabulary(config.model)


def validate(settings: OnlineSettings) -> list[tuple[int, str]]:
    """Check the settings (ValueError naming the problem); the (level, task) pairs to run."""
    for name in settings.perturbations:
        get_perturbation(name)
    try:
        Difficulty(settings.difficulty)
    except ValueError:
        valid = ", ".join(d.value for d in Difficulty)
        raise ValueError(f"unknown difficulty {settings.difficulty!r} (valid: {valid})") from None
    check_time_limit(settings.time_limit)
    if settings.patch_image_mask not in set(PatchImageMask):
        valid = ", ".join(PatchImageMask)
        raise ValueError(f"--patch-image-mask must be one of {valid}")
    if min(settings.episodes, settings.workers, settings.flush_every) < 1:
        raise ValueError("--episodes, --workers and --flush-every must be >= 1")
    if settings.start < 0 or settings.record < 0:
        raise ValueError("--start and --record must be >= 0")
    if settings.env not in ENVS:
        raise ValueError(f"--env must be one of {', '.join(ENVS)}")
    _check_bases(settings)
    if settings.env == "vima-bench":
        if not settings.env_python:
            raise ValueError(
                "--env vima-bench needs --env-python PYTHON (VIMA-Bench's interpreter)"
            )
        if not Path(settings.env_python).exists():
            raise ValueError(f"--env-python {settings.env_python}: no such file")
    return level_tasks(settings.levels, settings.tasks)


def _check_bases(settings: OnlineSettings) -> None:
    """--same-shape-bases names a variant, and only for the builtin simulator."""
    if settings.same_shape_bases is None:
        return
    if settings.env != "builtin":
        raise ValueError(
            "--same-shape-bases is for --env builtin; with --env vima-bench the checkout "
            "decides (upstream: unscaled, CoGeLoT's copy: scaled)"
        )
    if settings.same_shape_bases not in set(SameShapeBases):
        valid = ", ".join(SameShapeBases)
        raise ValueError(f"--same-shape-bases must be one of {valid}")


def same_shape_bases(settings: OnlineSettings) -> str | None:
    """The same_shape bases the run's scenes have: the builtin simulator's variant (cogelot
    unless given), None for VIMA-Bench (its checkout decides)."""
    if settings.env != "builtin":
        return None
    return settings.same_shape_bases or SameShapeBases.cogelot.value


def _pinned(settings: OnlineSettings, ident: str) -> dict[str, Any]:
    return {"checkpoint": ident, "difficulty": settings.difficulty, "seed": settings.seed,
            "time_limit": settings.time_limit, "env": settings.env,
            "patch_image_mask": settings.patch_image_mask,
            "same_shape_bases": same_shape_bases(settings)}  # fmt: skip


def _stored(stored: dict[str, Any], key: str) -> Any:
    """A pinned setting of a run.json; runs from before same_shape_bases was pinned had the
    builtin simulator's cogelot bases."""
    if key == "same_shape_bases" and key not in stored:
        return SameShapeBases.cogelot.value if stored.get("env") == "builtin" else None
    return stored.get(key)


#: What a run writes into its folder (removed by `overwrite`).
OUTPUTS = (
    RUN_FILE,
    PARTS,
    RESULTS_FILE,
    "metrics.json",
    "errors.json",
    "report",
    "videos",
    "recordings",
    "wandb",
)


def _prepare_folder(out: Path, pinned: dict[str, Any], resume: bool, overwrite: bool) -> None:
    run_file = out / RUN_FILE
    if overwrite and run_file.is_file():
        for name in OUTPUTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    if run_file.is_file():
        if not resume:
            raise ValueError(
                f"{out}: holds an online run; pass --resume to continue it or --overwrite"
            )
        stored = json.loads(run_file.read_text())
        changed = [key for key in PINNED if _stored(stored, key) != pinned[key]]
        if changed:
            detail = ", ".join(f"{k}: {_stored(stored, k)!r} -> {pinned[k]!r}" for k in changed)
            raise ValueError(f"{out}: --resume with other settings ({detail})")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_file, json.dumps(pinned, indent=1) + "\n")


def _row(
    done: Done, ident: str, settings: OnlineSettings, vocabulary: Vocabulary | None
) -> dict[str, Any]:
    job = done.job
    drawn = vocabulary is not None and get_perturbation(job.perturbation).needs_tokenizer
    return {
        "mode": ONLINE,
        "checkpoint": ident,
        "task": job.task,
        "level": job.level,
        "difficulty": settings.difficulty,
        "perturbation": job.perturbation,
        "seed": settings.seed,
        "episode": job.key,
        "episode_seed": done.seed,
        "applies": done.applies,
        "vocabulary": vocabulary.value if drawn and vocabulary is not None else None,
        "success": done.success,
        "failure": done.failure,
        "steps": done.steps,
        "minimum_steps": done.minimum_steps,
        "time_s": sum(done.timing.values()),
        "prompt": done.prompt,
    }


class _Progress:
    """What finished episodes leave: rows streamed as parts, W&B, timings, errors, the bar."""

    def __init__(
        self,
        settings: OnlineSettings,
        out: Path,
        rows: list[dict[str, Any]],
        tracker: Tracker,
        pending: int,
        label: tuple[str, Vocabulary | None],
        watch: OutputWatch,
    ) -> None:
        self.settings, self.rows, self.tracker, self.watch = settings, rows, tracker, watch
        self.ident, self.vocabulary = label
        self.writer = PartWriter(out)
        self.errors: list[dict[str, str]] = []
        self.timing = {"sim_s": 0.0, "tokenize_s": 0.0, "model_s": 0.0}
        self.last_flush = time.monotonic()
        self.bar = tqdm(total=pending, desc="online", unit="ep", file=sys.stderr,
                        dynamic_ncols=True)  # fmt: skip

    def done(self, done: Done) -> None:
        """Keep a finished episode's row (flushed every `flush_every` rows or 20 s)."""
        self.watch.check()  # the run folder is still the one the run began with
        row = _row(done, self.ident, self.settings, self.vocabulary)
        self.rows.append(row)
        self.writer.add(row)
        self.tracker.episode(row)
        for key in self.timing:
            self.timing[key] += done.timing.get(key, 0.0)
        late = time.monotonic() - self.last_flush > FLUSH_SECONDS
        if len(self.writer.pending) >= self.settings.flush_every or late:
            self.writer.flush()
            self.last_flush = time.monotonic()
        self.bar.update()

    def error(self, job: Job, problem: str) -> None:
        """List an episode that failed twice."""
        self.errors.append({"episode": job.key, "perturbation": job.perturbation,
                            "problem": problem})  # fmt: skip
        print(f"vima-eval online: {job.key} ({job.perturbation}) failed twice: "
              f"{problem.splitlines()[0]}", file=sys.stderr)  # fmt: skip
        self.bar.update()

    def close(self) -> None:
        """Close the bar and flush the last rows (unless the run folder vanished)."""
        self.bar.close()
        self.watch.check()
        self.writer.flush()


def _run_pending(
    settings: OnlineSettings, out: Path, pending: list[Job], progress: _Progress
) -> None:
    """Run the jobs not done yet; the rows of finished ones are kept even if the run stops."""
    try:
        if pending:
            pool = WorkerPool(_worker_config(settings, out), settings.workers)
            pool.run(pending, progress.done, progress.error)
    except BaseException:
        with contextlib.suppress(Exception):  # a full disk: the first error is the one told
            progress.close()
        raise
    progress.close()


def _worker_config(settings: OnlineSettings, out: Path) -> WorkerConfig:
    return WorkerConfig(
        checkpoint=None if settings.checkpoint is None else str(settings.checkpoint),
        difficulty=settings.difficulty,
        seed=settings.seed,
        device=settings.device,
        env=settings.env,
        env_python=settings.env_python,
        same_shape_bases=same_shape_bases(settings) or SameShapeBases.cogelot.value,
        time_limit=settings.time_limit,
        videos=str(out / VIDEOS) if settings.record else None,
        recordings=str(out) if settings.record else None,
        patch_image_mask=settings.patch_image_mask,
        out=str(out),
        policy_server=settings.policy_server,
    )


def _metrics_document(
    settings: OnlineSettings,
    pinned: dict[str, Any],
    pairs: list[tuple[int, str]],
    vocabulary: Vocabulary | None,
    progress: _Progress,
    counts: dict[str, float],
) -> dict[str, Any]:
    """metrics.json of a run: settings, success summary, errors and the time split."""
    timing = progress.timing
    policy = timing["tokenize_s"] + timing["model_s"]
    total = policy + timing["sim_s"]
    ran, wall = counts["episodes_run"], counts["wall_s"]
    return {
        "schema": METRICS_SCHEMA,
        "version": METRICS_VERSION,
        "settings": {
            **pinned,
            "checkpoint_path": str(settings.checkpoint or ""),
            "levels": settings.levels,
            "tasks": [f"L{lv}/{t}" for lv, t in pairs],
            "episodes": [settings.start, settings.start + settings.episodes],
            "perturbations": settings.perturbations,
            "workers": settings.workers,
            "policy_server": settings.policy_server,
            "device": settings.device,
            "gobbledygook_vocabulary": vocabulary.value if vocabulary is not None else None,
        },
        "confidence": "95% Wilson interval per task; level mean: unweighted over the level's "
        "tasks the perturbation changed, normal interval from the tasks' Wilson intervals",
        "perturbations": online_metrics(progress.rows),
        "errors": progress.errors,
        "timing": {
            **counts,
            "episodes_per_s": ran / wall if wall and ran else math.nan,
            **timing,
            "policy_share": policy / total if total else math.nan,
        },
    }


def run_online(
    settings: OnlineSettings, out: Path, *, resume: bool = False, overwrite: bool = False
) -> OnlineResult:
    """Evaluate; write the run folder (see the module docstring); return what happened.
    `overwrite` first removes an earlier run's outputs from `out`."""
    pairs = validate(settings)
    ident, vocabulary = _checkpoint_id(settings)
    pinned = _pinned(settings, ident)
    _prepare_folder(out, pinned, resume, overwrite)
    episodes = range(settings.start, settings.start + settings.episodes)
    jobs = plan_jobs(pairs, episodes, settings.perturbations, settings.seed, settings.record)
    rows = read_rows([out])
    done_keys = {result_key(row) for row in rows}
    pending = [job for job in jobs
               if (ident, settings.difficulty, job.perturbation, settings.seed, job.key)
               not in done_keys]  # fmt: skip
    tracker = Tracker(
        settings.wandb, out, f"{ident} {','.join(settings.perturbations)}",
        {**pinned, "levels": settings.levels, "tasks": [t for _, t in pairs],
         "perturbations": settings.perturbations, "episodes": [episodes.start, episodes.stop]},
    )  # fmt: skip
    for row in rows:
        tracker.count(row)
    mark_work_started()  # inputs accepted: a ValueError from here on is a bug (exit 3)
    with output_guard(out) as watch:  # a full disk or a vanished folder stops the run
        label = (ident, vocabulary)
        progress = _Progress(settings, out, rows, tracker, len(pending), label, watch)
        began = time.perf_counter()
        _run_pending(settings, out, pending, progress)
        counts = {"episodes_run": len(pending) - len(progress.errors),
                  "episodes_skipped": len(jobs) - len(pending),
                  "wall_s": time.perf_counter() - began}  # fmt: skip
        finish(out, rows)
        document = _metrics_document(settings, pinned, pairs, vocabulary, progress, counts)
        atomic_write_text(out / "metrics.json", json.dumps(document, indent=1) + "\n")
        atomic_write_text(out / "errors.json", json.dumps(progress.errors, indent=1) + "\n")
        tracker.finish(summary_scalars(document["perturbations"]), rows, out)
    return OnlineResult(out, int(counts["episodes_run"]), int(counts["episodes_skipped"]),
                        progress.errors)  # fmt: skip


def _link_kept(shard: Path, out: Path) -> None:
    """Hard-link (copy across file systems) a shard's GIFs and recordings into `out`."""

    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except FileExistsError:
            pass
        except OSError:
            shutil.copy2(source, target)

    for name in (VIDEOS, RECORDINGS):
        if (shard / name).is_dir() and (shard / name).resolve() != (out / name).resolve():
            shutil.copytree(shard / name, out / name, copy_function=link, dirs_exist_ok=True)


def merge_runs(folders: Sequence[Path], out: Path) -> OnlineResult:
    """Merge the result tables of shard folders (SLURM array jobs) into one run folder with
    its metrics, and the shards' GIFs and recordings (hard-linked). ValueError if the shards
    disagree on their pinned settings."""
    pinned: dict[str, Any] | None = None
    for folder in folders:
        run_file = folder / RUN_FILE
        if not run_file.is_file():
            raise ValueError(f"{folder}: not an online run folder (no {RUN_FILE})")
        stored = json.loads(run_file.read_text())
        if pinned is None:
            pinned = stored
        elif stored != pinned:
            raise ValueError(f"{folder}: settings {stored} differ from the first shard's {pinned}")
    rows = read_rows(list(folders))
    if not rows:
        raise ValueError("the shards hold no results")
    mark_work_started()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / RUN_FILE, json.dumps(pinned, indent=1) + "\n")
    errors = [e for f in folders if (f / "errors.json").is_file()
              for e in json.loads((f / "errors.json").read_text())]  # fmt: skip
    finished = {(r["perturbation"], r["episode"]) for r in rows}
    errors = [e for e in errors if (e["perturbation"], e["episode"]) not in finished]
    finish(out, rows)
    for folder in folders:
        _link_kept(folder, out)
    document = {"schema": METRICS_SCHEMA, "version": METRICS_VERSION,
                "settings": {**(pinned or {}), "merged_from": [str(f) for f in folders]},
                "perturbations": online_metrics(rows), "errors": errors}  # fmt: skip
    atomic_write_text(out / "metrics.json", json.dumps(document, indent=1) + "\n")
    atomic_write_text(out / "errors.json", json.dumps(errors, indent=1) + "\n")
    return OnlineResult(out, len(rows), 0, errors)
