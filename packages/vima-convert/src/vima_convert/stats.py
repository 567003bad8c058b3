"""`stats`: dataset statistics computed with polars, optionally plotted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from vima_schema.dataset_layout import shards_of_config
from vima_schema.dataset_meta import read_episode_index

#: Counts that differ by more than this factor are plotted on a log scale.
LOG_SCALE_RATIO = 50


def load_metadata(dataset: Path, config: str = "original--parsed") -> pl.DataFrame:
    """One row per episode of `config` (task, split, steps, objects, textures, prompt length),
    read from the episode index `meta/episodes.parquet`, never from the shards."""
    if not shards_of_config(dataset, config):
        raise ValueError(f"{dataset}: no parsed shards for config {config!r}")
    variant, stage, *task = config.split("--")
    data = pl.from_arrow(read_episode_index(dataset, variant, stage))
    assert isinstance(data, pl.DataFrame)
    if task:
        data = data.filter(pl.col("task") == task[0])
    return data.rename({"objects": "n_objects"}).select(
        "task",
        "index",
        "split",
        "variant",
        "steps",
        "n_objects",
        "prompt_words",
        "textures",
        "shapes",
    )


def summarize(data: pl.DataFrame) -> dict[str, Any]:
    """Per task and split counts and distributions, plus texture and shape frequencies."""
    per_task = (
        data.group_by("task", "split")
        .agg(
            pl.len().alias("episodes"),
            pl.col("steps").mean().alias("steps_mean"),
            pl.col("steps").min().alias("steps_min"),
            pl.col("steps").max().alias("steps_max"),
            pl.col("n_objects").mean().alias("objects_mean"),
            pl.col("prompt_words").mean().alias("prompt_words_mean"),
            pl.col("prompt_words").max().alias("prompt_words_max"),
        )
        .sort("task", "split")
    )
    textures = data.select(pl.col("textures").explode()).to_series().value_counts(sort=True)
    shapes = data.select(pl.col("shapes").explode()).to_series().value_counts(sort=True)
    return {
        "episodes": data.height,
        "per_task_split": per_task.to_dicts(),
        "steps_histogram": _histogram(data, "steps"),
        "objects_histogram": _histogram(data, "n_objects"),
        "prompt_words_histogram": _histogram(data, "prompt_words"),
        "textures": dict(zip(textures["textures"], textures["count"], strict=True)),
        "shapes": dict(zip(shapes["shapes"], shapes["count"], strict=True)),
    }


def _histogram(data: pl.DataFrame, column: str) -> dict[str, int]:
    counts = data.group_by(column).len().sort(column)
    return {str(k): int(v) for k, v in zip(counts[column], counts["len"], strict=True)}


def format_table(stats: dict[str, Any]) -> str:
    """Human-readable table of `summarize` output."""
    header = f"{'task':<28} {'split':<6} {'episodes':>9} {'steps':>11} {'objects':>8} {'words':>7}"
    lines = [header, "-" * len(header)]
    for row in stats["per_task_split"]:
        steps = f"{row['steps_mean']:.2f} ({row['steps_min']}-{row['steps_max']})"
        lines.append(
            f"{row['task']:<28} {row['split']:<6} {row['episodes']:>9} {steps:>11} "
            f"{row['objects_mean']:>8.2f} {row['prompt_words_mean']:>7.1f}"
        )
    lines.append(f"total episodes: {stats['episodes']}")
    top = list(stats["textures"].items())[:8]
    lines.append("top textures: " + ", ".join(f"{k} ({v})" for k, v in top))
    return "\n".join(lines)


def plot(data: pl.DataFrame, path: Path) -> Path:
    """Save episodes per task and histograms of steps, objects and prompt length as PNG.

    Train and valid are side-by-side bars in two colours; counts are integers, on a log scale
    when they differ by more than `LOG_SCALE_RATIO` (as tasks and splits do at full scale).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    splits = sorted(data["split"].unique().to_list(), key=lambda s: (s != "train", s))
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    tasks = sorted(data["task"].unique().to_list())
    panels = [(axes[0, 0], "task", "episodes per task", tasks)]
    for axis, column, title in (
        (axes[0, 1], "steps", "actions per episode"),
        (axes[1, 0], "n_objects", "objects per episode"),
        (axes[1, 1], "prompt_words", "prompt length (words)"),
    ):
        low, high = int(data[column].min()), int(data[column].max())  # type: ignore[arg-type]
        panels.append((axis, column, title, list(range(low, high + 1))))
    width = 0.8 / len(splits)
    for axis, column, title, keys in panels:
        counts = data.group_by(column, "split").len()
        every: list[int] = []
        for number, split in enumerate(splits):
            found = dict(counts.filter(pl.col("split") == split).select(column, "len").iter_rows())
            heights = [int(found.get(key, 0)) for key in keys]
            shift = (number - (len(splits) - 1) / 2) * width
            position = [i + shift for i in range(len(keys))]
            if column == "task":
                axis.barh(position, heights, height=width, label=split)
            else:
                axis.bar(position, heights, width=width, label=split)
            every += [h for h in heights if h]
        count_axis = axis.xaxis if column == "task" else axis.yaxis
        count_axis.set_major_locator(MaxNLocator(integer=True))
        if every and max(every) > LOG_SCALE_RATIO * min(every):
            (axis.set_xscale if column == "task" else axis.set_yscale)("log")
        ticks = list(range(len(keys)))
        if column == "task":
            axis.set_yticks(ticks, keys)
            axis.set_xlabel("episodes")
        else:
            step = max(1, len(keys) // 12)
            axis.set_xticks(ticks[::step], [str(k) for k in keys][::step])
            axis.set_ylabel("episodes")
        axis.set_title(title)
        axis.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
