"""`vima-convert view`: raw episodes, a built dataset or a generated one as a static episode
site (vima_schema.site).

The index lists episodes by task, split (`raw` for raw episode folders) and variant; a dataset
shows its statistics figure (`vima-convert stats --plot`) under the index. Each page is one
episode: its prompt with the images inline, the front and top frames of every step and the
oracle's pick and place drawn on the top view; the variants of a dataset (original, reworded,
perturbed) of the same episode sit side by side.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from vima_schema.dataset_layout import list_shards
from vima_schema.discover import find_episodes
from vima_schema.enums import Task, View
from vima_schema.layout import ACTION_KEYS
from vima_schema.models import Episode
from vima_schema.reader import read_episode
from vima_schema.record import record_to_episode
from vima_schema.runner import mark_work_started
from vima_schema.site import (
    Column,
    Marker,
    Page,
    Prompt,
    SiteWriter,
    Step,
    Take,
    check_output,
    prompt_image,
    slug,
    table_html,
)

log = logging.getLogger(__name__)
PARSED = "parsed"
RAW = "raw"
COLUMNS = (
    Column("task", "task", facet=True),
    Column("split", "split", facet=True),
    Column("variant", "variant", facet=True),
    Column("difficulty", "difficulty", facet=True),
    Column("success", "success", facet=True),
    Column("steps", "steps"),
    Column("episode", "episode"),
    Column("prompt", "prompt"),
)


def _dataset_episodes(root: Path, per_task: int) -> Iterator[tuple[str, str, Episode]]:
    """(variant, split, episode) of the parsed configs, the first `per_task` episodes of each
    variant, task and split."""
    taken: dict[tuple[str, str, str], int] = defaultdict(int)
    for shard in list_shards(root, stage=PARSED):
        key = (shard.variant, shard.task, shard.split)
        if per_task and taken[key] >= per_task:
            continue
        for batch in pq.ParquetFile(shard.path).iter_batches(batch_size=16):
            for row in batch.to_pylist():
                if per_task and taken[key] >= per_task:
                    break
                taken[key] += 1
                yield shard.variant, shard.split, record_to_episode(row)


def _raw_episodes(root: Path, per_task: int) -> Iterator[tuple[str, str, Episode]]:
    taken: dict[str, int] = defaultdict(int)
    for folder in find_episodes([root]):
        task = folder.parent.name
        if per_task and taken[task] >= per_task:
            continue
        taken[task] += 1
        yield "original", RAW, read_episode(folder)


def _take(site: SiteWriter, variant: str, split: str, episode: Episode) -> Take:
    base = f"{episode.task.name}/{split}/{episode.index:06d}/{variant}"
    images = {
        name: site.media_array(f"{base}/prompt-{name}.jpg", prompt_image(asset, View.front))
        for name, asset in episode.prompt_assets.items()
        if View.front in asset.rgb
    }
    actions = episode.actions
    steps = []
    for i, (front, top) in enumerate(
        zip(episode.frames[View.front], episode.frames[View.top], strict=True)
    ):
        markers = []
        if i < actions.steps:
            markers.append(Marker.of("oracle", {k: getattr(actions, k)[i] for k in ACTION_KEYS}))
        steps.append(
            Step(
                site.media_bytes(f"{base}/front-{i:03d}.jpg", front),
                site.media_bytes(f"{base}/top-{i:03d}.jpg", top),
                markers,
            )
        )
    outcome = f"{episode.steps} oracle action(s); " + (
        "success" if episode.success else ("failure" if episode.failure else "no success")
    )
    details = [
        ("task", f"T{int(episode.task)} {episode.task.name}"),
        ("variant / split", f"{variant} / {split}"),
        ("episode", str(episode.index)),
        ("difficulty / seed", f"{episode.difficulty.value} / {episode.seed}"),
        ("objects", ", ".join(sorted({o.obj_name for o in episode.objects.values()}))),
        ("end effector", episode.end_effector_type.value),
    ]
    return Take(variant, outcome, episode.success, Prompt(episode.prompt, images),
                details=details, steps=steps)  # fmt: skip


def _statistics(site: SiteWriter, root: Path) -> list[str]:
    """The statistics figure of a dataset's original parsed config (none for raw episodes)."""
    from vima_convert.stats import load_metadata, plot

    try:
        data = load_metadata(root)
    except (ValueError, OSError) as error:
        log.info("no statistics figure: %s", error)
        return []
    with tempfile.TemporaryDirectory() as work:
        return [site.figure(plot(data, Path(work) / "stats.png"))]


def write_dataset_view(
    source: Path, out: Path, per_task: int = 50, title: str | None = None
) -> Path:
    """Write the episode site of `source` (a dataset with parsed configs, or raw episode
    folders) into `out`, at most `per_task` episodes per variant, task and split (0: all)."""
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or directory")
    if per_task < 0:
        raise ValueError("--per-task must be >= 0")
    dataset = bool(list_shards(source, stage=PARSED))
    if not dataset and next(find_episodes([source]), None) is None:
        raise ValueError(f"{source}: neither a dataset with parsed configs nor raw episodes")
    check_output(out)
    mark_work_started()  # inputs accepted: a ValueError from here on is a bug (exit 3)
    episodes = (_dataset_episodes if dataset else _raw_episodes)(source, per_task)
    scenes: dict[tuple[str, str, int], list[tuple[str, Episode]]] = defaultdict(list)
    for variant, split, episode in episodes:
        scenes[(episode.task.name, split, episode.index)].append((variant, episode))
    rows: list[dict[str, Any]] = []
    counts: dict[tuple[str, str], int] = defaultdict(int)
    with SiteWriter(out, title or f"VIMA episodes: {source.name}") as site:
        for (task, split, index), takes in sorted(
            scenes.items(), key=lambda item: (Task[item[0][0]].value, item[0][1], item[0][2])
        ):
            name = slug(task, split, f"{index:06d}")
            made = [_take(site, variant, split, episode) for variant, episode in takes]
            href = site.page(Page(name, f"{task} / {split} / episode {index}", made))
            counts[(task, split)] += 1
            for n, (variant, episode) in enumerate(takes):
                rows.append({
                    "task": task, "split": split, "variant": variant,
                    "difficulty": episode.difficulty.value,
                    "success": "yes" if episode.success else "no", "steps": episode.steps,
                    "episode": index, "prompt": episode.prompt, "href": f"{href}#take-{n}",
                })  # fmt: skip
        summary = table_html(
            ["task", "split", "episodes shown"],
            [(task, split, count) for (task, split), count in counts.items()],
            "Episodes per task and split" + (f" (at most {per_task} each)" if per_task else ""),
        )
        figures = _statistics(site, source) if dataset else []
        meta = {"source": str(source), "kind": "dataset" if dataset else "raw"}
        return site.finish(COLUMNS, rows, summary=summary, figures=figures, meta=meta)
