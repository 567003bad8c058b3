"""`stats`: dataset statistics computed with polars, optionally plotted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from vima_schema.dataset_layout import PARSED, list_shards, shards_of_config
from vima_schema.enums import TASK_NAMES

_COLUMNS = ["task", "index", "steps", "n_objects", "prompt", "objects"]


def load_metadata(dataset: Path, config: str | None = None) -> pl.DataFrame:
    """One row per episode (task, split, steps, objects, textures, prompt length)."""
    shards = shards_of_config(dataset, config) if config else list_shards(dataset, stage=PARSED)
    if not shards:
        raise ValueError(
            f"{dataset}: no parsed shards{f' for config {config!r}' if config else ''}"
        )
    frames = [
        pl.read_parquet(shard.path, columns=_COLUMNS).with_columns(
            pl.lit(shard.split).alias("split"), pl.lit(shard.variant).alias("variant")
        )
        for shard in shards
    ]
    data = pl.concat(frames)
    return data.with_columns(
        pl.col("task").map_elements(lambda v: TASK_NAMES[v], return_dtype=pl.String),
        pl.col("prompt").str.split(" ").list.len().alias("prompt_words"),
        pl.col("objects").list.eval(pl.element().struct.field("texture_name")).alias("textures"),
        pl.col("objects").list.eval(pl.element().struct.field("obj_name")).alias("shapes"),
    ).drop("objects")


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
    """Save histograms of steps, objects and prompt length, and episodes per task, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    per_task = data.group_by("task").len().sort("task")
    axes[0, 0].barh(per_task["task"].to_list(), per_task["len"].to_list())
    axes[0, 0].set_title("episodes per task")
    for axis, column, title in (
        (axes[0, 1], "steps", "actions per episode"),
        (axes[1, 0], "n_objects", "objects per episode"),
        (axes[1, 1], "prompt_words", "prompt length (words)"),
    ):
        values = data[column].to_list()
        axis.hist(values, bins=range(min(values), max(values) + 2), align="left", rwidth=0.8)
        axis.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
