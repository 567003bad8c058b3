"""`vima-eval offline`: teacher-forced evaluation of a checkpoint on a dataset split.

Episodes come from `<variant>--preprocessed--<task>` (observations, actions, prompt images)
joined with `<variant>--parsed--<task>` (what a perturbation needs: prompt assets and scene).
Each perturbation is applied on the fly per episode: prompt perturbations re-tokenize the new
prompt with the tokenizer recorded in the checkpoint and keep the prompt images it still
mentions (a perturbation never adds one); `shuffle_objects` permutes every observation's
object slots with the per-episode order of `vima_schema.perturbations.object_orders`; the
prompt masks switch the policy's `prompt_mask`. Metrics are vima-train's
(`vima_train.metrics`: padding excluded), summed per episode, with 95% percentile bootstrap
intervals over episodes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from tqdm import tqdm
from vima_schema.atomic import atomic_write_bytes, atomic_write_text
from vima_schema.dataset_layout import PARSED, Shard, task_dir
from vima_schema.enums import TASK_NAMES, Task
from vima_schema.perturbations import (
    ROW_COLUMNS,
    Instruction,
    Perturbation,
    Vocabulary,
    get_perturbation,
    instruction_from_row,
)
from vima_schema.runner import InputError, mark_work_started
from vima_tokenize.actions import AXIS_BINS
from vima_train.checkpoint import load_policy, tokenizer_of
from vima_train.data.batch import collate, row_arrays
from vima_train.data.store import DataError, find_shards, tokenize_settings
from vima_train.metrics import Totals, step_totals, summarize
from vima_train.model.actions import axis_indices
from vima_train.policies import AnyPolicy

from vima_eval.model_input import (
    EpisodeArrays,
    PatchImageMask,
    checkpoint_id,
    evaluation_switches,
    gobbledygook_vocabulary,
    masked_prompt,
    perturbed_arrays,
)
from vima_eval.rendering import OfflineCells, ci, offline_figure, offline_markdown, pct
from vima_eval.results import OFFLINE, RESULTS_FILE, write_results
from vima_eval.runs import Run, split_runs
from vima_eval.scoring import Cell, offline_cells
from vima_eval.statistics import bootstrap_intervals

METRICS_SCHEMA = "vima-eval/offline-metrics"
METRICS_VERSION = 2  # 2: scored over the episodes a perturbation changed
#: Episodes read at a time and evaluated under every perturbation before the next are read.
CHUNK_EPISODES = 256


@dataclass
class Sums:
    """Per-episode metric sums of one perturbation, in evaluation order."""

    tasks: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    difficulties: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    applies: list[bool] = field(default_factory=list)
    loss: list[np.ndarray] = field(default_factory=list)  # [A] per episode
    correct: list[np.ndarray] = field(default_factory=list)
    counted: list[np.ndarray] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    all_correct: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def totals(self, weights: np.ndarray | None = None) -> Totals:
        """`Totals` summed over episodes (optionally weighted, for the bootstrap)."""
        w = np.ones(len(self.steps)) if weights is None else weights

        def total(values: Sequence[np.ndarray] | Sequence[float]) -> torch.Tensor:
            return torch.from_numpy(np.tensordot(w, np.asarray(values, np.float64), axes=1))

        return Totals(
            loss=total(self.loss).unsqueeze(0),
            correct=total(self.correct).unsqueeze(0),
            counted=total(self.counted).unsqueeze(0),
            steps=total(self.steps).reshape(1),
            all_correct=total(self.all_correct).reshape(1),
        )


@dataclass
class Timing:
    """Seconds spent per stage."""

    load: float = 0.0
    perturb_tokenize: float = 0.0
    collate: float = 0.0
    forward: float = 0.0


def check_compatible(meta: dict[str, Any], shards: list[Shard], where: str) -> None:
    """ValueError when the dataset was tokenized otherwise than the checkpoint's training data,
    or the checkpoint's action axes do not fit the record's."""
    settings = tokenize_settings(shards)
    trained = meta.get("tokenize_settings", {})
    if settings.tokenizer_sha256 != meta.get("tokenizer_sha256"):
        raise ValueError(
            f"{where}: tokenized with tokenizer sha256 {settings.tokenizer_sha256[:12]}, but the "
            f"checkpoint was trained with {str(meta.get('tokenizer_sha256'))[:12]}"
        )
    if settings.keep_final_observation != trained.get("keep_final_observation"):
        raise ValueError(
            f"{where}: keep_final_observation={settings.keep_final_observation}, the checkpoint "
            f"was trained with {trained.get('keep_final_observation')}"
        )
    if settings.crop_resampling != trained.get("crop_resampling", "area"):
        raise ValueError(
            f"{where}: crops resized by {settings.crop_resampling}, the checkpoint expects "
            f"{trained.get('crop_resampling', 'area')} (vima-tokenize --crop-resampling)"
        )
    axes = axis_indices(int(meta["action_axes"]))
    if list(meta["axis_bins"]) != [AXIS_BINS[i] for i in axes]:
        raise ValueError(
            f"{where}: checkpoint action bins {meta['axis_bins']} do not match the record's "
            f"{[AXIS_BINS[i] for i in axes]}"
        )


def _parsed_instructions(
    dataset: Path, variant: str, shard: Shard
) -> dict[tuple[int, int], tuple[Instruction, str, int]]:
    """Instruction, difficulty and seed of every episode of the parsed twin of `shard`."""
    path = task_dir(dataset, variant, PARSED, shard.task) / shard.path.name
    if not path.is_file():
        raise ValueError(f"{path}: missing (the parsed twin of {shard.path})")
    found = {}
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(64, columns=[*ROW_COLUMNS, "difficulty", "seed"]):
        for row in batch.to_pylist():
            instruction = instruction_from_row(row, TASK_NAMES[row["task"]])
            found[row["task"], row["index"]] = (instruction, row["difficulty"], int(row["seed"]))
    return found


def iter_episodes(
    dataset: Path, variant: str, shards: list[Shard], limit: int | None
) -> Iterator[EpisodeArrays]:
    """Episodes of the shards (at most `limit` per task), record arrays and instructions."""
    taken: dict[str, int] = defaultdict(int)
    for shard in shards:
        if limit is not None and taken[shard.task] >= limit:
            continue
        instructions = _parsed_instructions(dataset, variant, shard)
        for batch in pq.ParquetFile(shard.path).iter_batches(16):
            for row in batch.to_pylist():
                if limit is not None and taken[shard.task] >= limit:
                    break
                key = (row["task"], row["index"])
                if key not in instructions:
                    raise ValueError(f"{shard.path}: episode {key} has no parsed row")
                instruction, difficulty, seed = instructions[key]
                if instruction.prompt != row["prompt"]:
                    raise ValueError(
                        f"{shard.path}: episode {key}: parsed and tokenized prompts differ"
                    )
                taken[shard.task] += 1
                yield EpisodeArrays(row_arrays(row), instruction, difficulty, seed)


def evaluate(
    policy: AnyPolicy,
    episodes: Sequence[EpisodeArrays],
    perturbation: Perturbation,
    *,
    seed: int,
    tokenizer: Any,
    batch_size: int,
    device: str,
    timing: Timing,
    sums: Sums | None = None,
    patch_image_mask: PatchImageMask = PatchImageMask.mask,
) -> Sums:
    """Teacher-forced sums of every episode under one perturbation (appended to `sums`)."""
    sums = Sums() if sums is None else sums
    vocabulary = gobbledygook_vocabulary(policy.config)
    with evaluation_switches(policy):
        for start in range(0, len(episodes), batch_size):
            chunk = episodes[start : start + batch_size]
            began = time.perf_counter()
            prepared = [
                perturbed_arrays(e, perturbation, seed, tokenizer, vocabulary) for e in chunk
            ]
            mask = prepared[0][1].prompt_mask  # one perturbation: one mask for the batch
            policy.prompt_mask = masked_prompt(mask, policy.config.visual.kind, patch_image_mask)
            t1 = time.perf_counter()
            batch = collate([arrays for arrays, _ in prepared]).to(device)
            t2 = time.perf_counter()
            with torch.inference_mode():
                logits = policy(batch)
                totals = step_totals(logits, policy.targets(batch))
            t3 = time.perf_counter()
            timing.perturb_tokenize += t1 - began
            timing.collate += t2 - t1
            timing.forward += t3 - t2
            per_episode = (t3 - began) / len(chunk)
            for i, (episode, (_, after)) in enumerate(zip(chunk, prepared, strict=True)):
                sums.tasks.append(after.task)
                sums.keys.append(after.episode)
                sums.seeds.append(episode.episode_seed)
                sums.difficulties.append(episode.difficulty)
                sums.prompts.append(after.prompt)
                sums.applies.append(perturbation.changed(episode.instruction, after))
                sums.loss.append(totals.loss[i].double().cpu().numpy())
                sums.correct.append(totals.correct[i].double().cpu().numpy())
                sums.counted.append(totals.counted[i].double().cpu().numpy())
                sums.steps.append(float(totals.steps[i]))
                sums.all_correct.append(float(totals.all_correct[i]))
                sums.seconds.append(per_episode)
    return sums


def _chunks(episodes: Iterator[EpisodeArrays], size: int) -> Iterator[list[EpisodeArrays]]:
    """Consecutive lists of at most `size` episodes (bounded memory for large splits)."""
    chunk: list[EpisodeArrays] = []
    for episode in episodes:
        chunk.append(episode)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _subset(sums: Sums, index: list[int]) -> Sums:
    picked = Sums()
    for name in (
        "tasks",
        "keys",
        "seeds",
        "difficulties",
        "prompts",
        "applies",
        "loss",
        "correct",
        "counted",
        "steps",
        "all_correct",
        "seconds",
    ):
        values = getattr(sums, name)
        setattr(picked, name, [values[i] for i in index])
    return picked


def metrics_with_intervals(
    sums: Sums, axis_names: tuple[str, ...], resamples: int, seed: int = 0
) -> dict[str, Any]:
    """vima-train's metrics of the summed episodes, each with a percentile bootstrap interval
    over episodes (`vima_eval.statistics.bootstrap_intervals`, the report's bootstrap)."""
    point = summarize(sums.totals(), axis_names)
    keys = list(point)
    n = len(sums.steps)

    def statistic(index: np.ndarray) -> np.ndarray:
        weights = np.bincount(index, minlength=n).astype(np.float64)
        values = summarize(sums.totals(weights), axis_names)
        return np.array([values[key] for key in keys], np.float64)

    lows, highs = bootstrap_intervals(statistic, n, resamples=resamples, seed=seed)
    lows, highs = np.broadcast_to(lows, (len(keys),)), np.broadcast_to(highs, (len(keys),))
    out: dict[str, Any] = {"episodes": n}
    for key, low, high in zip(keys, lows, highs, strict=True):
        out[key] = {"value": point[key], "low": float(low), "high": float(high)}
    return out


def result_rows(
    sums: Sums, checkpoint: str, perturbation: Perturbation, seed: int, vocabulary: Vocabulary
) -> list[dict[str, Any]]:
    """Per-episode result-table rows (`vima_eval.results`, mode offline)."""
    rows = []
    for i in range(len(sums.steps)):
        rows.append(
            {
                "mode": OFFLINE,
                "checkpoint": checkpoint,
                "task": sums.tasks[i],
                "level": 0,
                "difficulty": sums.difficulties[i],
                "perturbation": perturbation.name,
                "seed": seed,
                "episode": sums.keys[i],
                "applies": sums.applies[i],
                "vocabulary": vocabulary.value if perturbation.needs_tokenizer else None,
                "episode_seed": sums.seeds[i],
                "steps": int(sums.steps[i]),
                "time_s": sums.seconds[i],
                "prompt": sums.prompts[i],
                "axes_correct": int(sums.correct[i].sum()),
                "axes_total": int(sums.counted[i].sum()),
                "steps_all_correct": int(sums.all_correct[i]),
                "loss_sum": float(sums.loss[i].sum() / max(len(sums.loss[i]), 1)),
            }
        )
    return rows


def render_markdown(metrics: dict[str, Any], runs: list[Run], cells: OfflineCells) -> str:
    """metrics.md: the offline table of `vima-eval report` (the same renderer, the same
    numbers), then per-axis accuracy and the throughput."""
    names = list(metrics["perturbations"])
    lines = [
        f"# Offline evaluation of {metrics['checkpoint']['id']}\n",
        f"Dataset `{metrics['dataset']}`, variant `{metrics['variant']}`, split "
        f"`{metrics['split']}`, perturbation seed {metrics['seed']}; episodes a perturbation "
        "left unchanged are not scored.\n",
        *offline_markdown(runs, cells),
        "## Accuracy (%) per action axis\n",
        "| axis | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for axis in metrics["axis_names"]:
        values = [metrics["perturbations"][n]["overall"][f"{axis}/acc"] for n in names]
        cells = [pct(v["value"]) + _interval(v) for v in values]
        lines.append(f"| {axis} | " + " | ".join(cells) + " |")
    timing = metrics["timing"]
    lines += [
        "",
        f"{timing['episodes_per_s']:.2f} episodes/s; perturbation + tokenization "
        f"{timing['perturb_tokenize_share']:.1%} of the time.",
        "",
        "![accuracy](offline.png)",
        "",
    ]
    return "\n".join(lines)


def _interval(entry: dict[str, float]) -> str:
    return ci(Cell(entry["value"], entry["low"], entry["high"], 0))


def _evaluate_all(
    policy: AnyPolicy,
    episodes: Iterator[EpisodeArrays],
    chosen: list[Perturbation],
    settings: dict[str, Any],
    timing: Timing,
) -> tuple[dict[str, Sums], int]:
    """Every episode under every perturbation, a chunk of episodes at a time."""
    sums = {perturbation.name: Sums() for perturbation in chosen}
    bar = tqdm(desc="offline", unit="ep", file=sys.stderr, dynamic_ncols=True)
    count = 0
    try:
        while True:
            began = time.perf_counter()
            chunk = next(_chunks(episodes, CHUNK_EPISODES), None)
            timing.load += time.perf_counter() - began
            if chunk is None:
                return sums, count
            for perturbation in chosen:
                evaluate(policy, chunk, perturbation, timing=timing,
                         sums=sums[perturbation.name], **settings)  # fmt: skip
            count += len(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()


def perturbation_metrics(
    done: Sums, perturbation: Perturbation, axis_names: tuple[str, ...], resamples: int
) -> dict[str, Any]:
    """metrics.json's entry of one perturbation, over the episodes it changed."""
    scored = [i for i, applies in enumerate(done.applies) if applies]
    by_task: dict[str, list[int]] = defaultdict(list)
    for i in scored:
        by_task[done.tasks[i]].append(i)
    return {
        "kind": perturbation.kind.value,
        "unchanged_episodes": len(done.applies) - len(scored),
        "overall": metrics_with_intervals(_subset(done, scored), axis_names, resamples),
        "tasks": {
            task: metrics_with_intervals(_subset(done, index), axis_names, resamples)
            for task, index in sorted(by_task.items(), key=lambda kv: Task[kv[0]].value)
        },
    }


def _timing(timing: Timing, evaluated: int, total: float) -> dict[str, float]:
    return {
        "episodes": evaluated,
        "total_s": total,
        "episodes_per_s": evaluated / total if total else math.nan,
        "load_s": timing.load,
        "perturb_tokenize_s": timing.perturb_tokenize,
        "collate_s": timing.collate,
        "forward_s": timing.forward,
        "perturb_tokenize_share": timing.perturb_tokenize / total if total else math.nan,
    }


def _write(out: Path, metrics: dict[str, Any], rows: list[dict[str, Any]], resamples: int) -> None:
    """episodes.parquet, metrics.md, offline.png and metrics.json (each atomically)."""
    runs = split_runs(rows)
    cells = {run.label: offline_cells(run, resamples) for run in runs}
    markdown = render_markdown(metrics, runs, cells)
    figure = offline_figure(runs, cells)
    write_results(out / RESULTS_FILE, rows)
    atomic_write_bytes(out / "offline.png", figure)
    atomic_write_text(out / "metrics.md", markdown)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1, allow_nan=True) + "\n")


def run_offline(
    checkpoint: Path,
    dataset: Path,
    *,
    variant: str = "original",
    split: str = "valid",
    perturbations: Sequence[str] = ("noop",),
    seed: int = 0,
    out: Path = Path("offline"),
    batch_size: int = 8,
    device: str = "cpu",
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    resamples: int = 1000,
    patch_image_mask: PatchImageMask = PatchImageMask.mask,
) -> Path:
    """Evaluate `checkpoint` on `split` of `variant` under each perturbation; write
    metrics.json, metrics.md, offline.png and episodes.parquet into `out`; return `out`.
    `tasks` restricts the evaluation to those tasks, `limit` to the first episodes of each;
    `patch_image_mask` says what the visual masks do to a patch model's prompt images.

    ValueError (nothing written) for an unknown perturbation, a foreign or mismatched
    checkpoint, or a dataset without that variant or split.
    """
    chosen = [get_perturbation(name) for name in dict.fromkeys(perturbations)]
    if batch_size < 1 or (limit is not None and limit < 1) or resamples < 0:
        raise ValueError("--batch-size and --limit must be >= 1, --resamples >= 0")
    try:
        shards = find_shards(dataset, [variant], split, list(tasks) if tasks else None)
    except DataError as error:
        raise ValueError(str(error)) from None
    if not shards:
        raise ValueError(f"{dataset}: variant {variant!r} has no {split!r} shards")
    policy = load_policy(checkpoint, device)
    meta = policy.checkpoint_meta or {}
    check_compatible(meta, shards, f"{dataset} ({variant}--preprocessed)")
    vocabulary = gobbledygook_vocabulary(policy.config)
    axis_names, ident = tuple(meta["axis_names"]), checkpoint_id(checkpoint)
    timing, started = Timing(), time.perf_counter()
    settings = {"seed": seed, "tokenizer": tokenizer_of(meta), "batch_size": batch_size,
                "device": device, "patch_image_mask": patch_image_mask}  # fmt: skip
    mark_work_started()  # inputs accepted: a ValueError from here on is a bug (exit 3)
    episodes = iter_episodes(dataset, variant, shards, limit)
    sums, count = _evaluate_all(policy, episodes, chosen, settings, timing)
    if not count:
        raise InputError(f"{dataset}: no episodes in {variant!r} split {split!r}")
    rows = [row for p in chosen for row in result_rows(sums[p.name], ident, p, seed, vocabulary)]
    metrics = {
        "schema": METRICS_SCHEMA, "version": METRICS_VERSION,
        "checkpoint": {"id": ident, "path": str(checkpoint), "step": meta.get("global_step")},
        "dataset": str(dataset), "variant": variant, "split": split, "seed": seed,
        "device": device, "gobbledygook_vocabulary": vocabulary.value,
        "patch_image_mask": patch_image_mask.value, "axis_names": list(axis_names),
        "confidence": f"95% percentile bootstrap over episodes ({resamples} resamples)",
        "perturbations": {p.name: perturbation_metrics(sums[p.name], p, axis_names, resamples)
                          for p in chosen},
        "timing": _timing(timing, count * len(chosen), time.perf_counter() - started),
    }  # fmt: skip
    _write(out, metrics, rows, resamples)
    return out
