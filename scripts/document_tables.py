"""Tables of the documents generated from recorded outputs under docs/measurements/.

    uv run --all-packages python scripts/document_tables.py          # rewrite every block
    uv run --all-packages python scripts/document_tables.py --check  # exit 1 where one differs

A generated table sits between `<!-- NAME:begin (generated: scripts/document_tables.py) -->`
and `<!-- NAME:end -->` in its document; BLOCKS says which recorded file makes it (the command
that records the file is in the generator's docstring). tests/test_documents.py fails when a
block differs from what its generator makes now (issue 27, item 1).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from vima_schema.enums import Task

ROOT = Path(__file__).resolve().parents[1]
MEASUREMENTS = ROOT / "docs" / "measurements"


def _json_lines(record: Path) -> list[dict]:
    """The JSON lines of a record (a JSON-lines file, or a benchmark's stdout: other lines are
    skipped)."""
    return [json.loads(line) for line in record.read_text().splitlines() if line.startswith("{")]


def _tiny_episode_cpu(scale: Path) -> float:
    """Mean CPU seconds per episode of the tiny policy's online runs in `scale` (the current
    loading; runs labelled "before" are the old path's), simulation and tokenization included:
    the base that the projections add a model's own policy CPU to."""
    tiny = [run["cpu_s_per_episode_steady"] for run in _json_lines(scale)
            if run["label"] == "tiny" and "before" not in run["mode"]]  # fmt: skip
    return sum(tiny) / len(tiny)


def _script(name: str) -> ModuleType:
    """scripts/NAME.py, loaded beside this script (once)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _oracle_module() -> ModuleType:
    """scripts/oracle_table.py."""
    return _script("oracle_table")


def _bench(table: str) -> Callable[[], str]:
    """The generator `table` of scripts/bench_tables.py (records of scripts/measure.py)."""
    return lambda: getattr(_script("bench_tables"), table)()


def _experiment(table: str, *args: object) -> Callable[[], str]:
    """The generator `table` of scripts/experiment_tables.py (the T1 runs recorded by
    scripts/experiments/record_results.py in docs/measurements/t1.jsonl), called with `args`."""
    return lambda: getattr(_script("experiment_tables"), table)(*args)


def readme_oracle_table() -> str:
    """README's oracle success per level: scripts/oracle_table.py of oracle-check.jsonl."""
    return _oracle_module().oracle_table()


def simulator_oracle_table() -> str:
    """SIMULATOR.md's oracle success (mean steps) per level, from the same recorded run
    (`vima-sim check --all --seeds 20 > docs/measurements/oracle-check.jsonl`)."""
    return _oracle_module().oracle_table(steps=True)


def _number(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.M)
    if found is None:
        raise ValueError(f"bench-import.txt: no line matches {pattern!r}")
    return found.group(1)


def import_table(record: Path = MEASUREMENTS / "bench-import.txt") -> str:
    """PERFORMANCE.md's VIMA-200M import table, from `env -u PYTHONDONTWRITEBYTECODE uv run
    --all-packages --all-extras python packages/vima-train/bench/bench_import.py`."""
    text = record.read_text()
    mb = r"peak RSS (\d+) MB"
    imported = _number(r"^import: ([\d.]+) s", text)
    import_mb, ratio = int(_number(r"^import: .*?" + mb, text)), _number(r"= ([\d.]+)x", text)
    export = _number(r"^export: ([\d.]+) s", text)
    weights = _number(r"^folder: model\.safetensors ([\d.]+ GB)", text)
    loads = {what: (_number(rf"^load_policy\({what}\): ([\d.]+) s", text),
                    int(_number(rf"^load_policy\({what}\): .*?" + mb, text)))
             for what in ("checkpoint", "folder")}  # fmt: skip
    return "\n".join([
        "| step | time | peak RSS |",
        "|---|---:|---:|",
        f"| `vima-train import` (target <= 30 s, <= 2.5x the file) | **{imported} s** | "
        f"{import_mb:,} MB = **{ratio}x** the file |",
        f"| `vima-train export` (model.safetensors {weights}) | {export} s | |",
        "| `load_policy` of the imported checkpoint (what every evaluation starts with) | "
        f"{loads['checkpoint'][0]} s | {loads['checkpoint'][1]:,} MB |",
        f"| `load_policy` of the exported folder | {loads['folder'][0]} s | "
        f"{loads['folder'][1]:,} MB |",
    ]) + "\n"  # fmt: skip


def closed_loop_table(records: tuple[Path, ...] = ()) -> str:
    """CHECKPOINTS.md's closed-loop comparison with VIMA's own code, one row per recorded
    output of `scripts/reference/compare_closed_loop.py` (closed-loop-vima-*.json), its tasks
    in VIMA-Bench's order."""
    records = records or tuple(sorted(MEASUREMENTS.glob("closed-loop-vima-*.json")))
    lines = ["| tasks | episodes | identical (every action of every step) |", "|---|---:|---:|"]
    for record in records:
        data = json.loads(record.read_text())
        tasks = sorted({row["task"] for row in data["results"]}, key=lambda t: Task[t].value)
        identical = sum(row["first_difference"] is None for row in data["results"])
        if (data["episodes"], data["identical"]) != (len(data["results"]), identical):
            raise ValueError(f"{record}: its totals disagree with its episodes")
        lines.append(f"| {', '.join(tasks)} | {data['episodes']} | {identical} |")
    return "\n".join(lines) + "\n"


#: The full online protocol: 42 implemented (level, task) pairs (13 + 13 + 12 + 4) x 100
#: episodes x the 15 perturbations of docs/PERTURBATIONS.md.
FULL_PROTOCOL_EPISODES = 42 * 100 * 15


def online_scale_table(record: Path = MEASUREMENTS / "online-scale.jsonl") -> str:
    """PERFORMANCE.md's per-worker policies vs policy server table, from the lines
    `packages/vima-eval/bench/bench_online_scale.py CKPT --label L [--policy-server |
    --legacy-loading] --record docs/measurements/online-scale.jsonl` appended."""
    lines = [
        "| checkpoint | policy | workers, episodes | episodes/s (with start-up) | without "
        "start-up | CPU s per episode | worker: private dirty / PSS (MiB) | server: private "
        "dirty / PSS | PSS of all | server batches (size x count) | full protocol at this "
        "cost | load average |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for run in _json_lines(record):
        workers = [p for p in run["processes_mib"] if p["role"] == "worker"]
        servers = [p for p in run["processes_mib"] if p["role"] == "server"]
        worker = f"{max(p['dirty'] for p in workers):,} / {max(p['pss'] for p in workers):,}"
        server = f"{servers[0]['dirty']:,} / {servers[0]['pss']:,}" if servers else ""
        cpu = run["cpu_s_per_episode_steady"]
        hours = FULL_PROTOCOL_EPISODES * cpu / 3600
        batches = ", ".join(f"{n} x {count}" for n, count in run["server_batches"].items())
        lines.append(
            f"| {run['label']} ({run['checkpoint_bytes'] / 2**20:,.0f} MiB) | {run['mode']} | "
            f"{run['workers']}, {run['episodes']} | {run['episodes_per_s']:.3f} | "
            f"{run['episodes_per_s_steady']:.3f} | {cpu:.2f} | {worker} | {server} | "
            f"{run['total_pss_mib']:,} | {batches} | {hours:,.0f} CPU-hours | "
            f"{' '.join(run['load_before'])} |"
        )
    return "\n".join(lines) + "\n"


def policy_steps_table(
    record: Path = MEASUREMENTS / "online-policy-steps.json",
    scale: Path = MEASUREMENTS / "online-scale.jsonl",
) -> str:
    """PERFORMANCE.md's policy CPU per step and the full protocol's projection, from
    `packages/vima-eval/bench/bench_policy_steps.py TINY TINY MODEL --labels tiny,LABEL --record
    docs/measurements/online-policy-steps.json` and the tiny runs of online-scale.jsonl: an
    episode of MODEL costs the tiny policy's measured episode (simulation, tokenization, its
    model) plus MODEL's policy CPU on the same steps less the tiny policy's."""
    data = json.loads(record.read_text())
    episode = _tiny_episode_cpu(scale)
    steps, episodes = data["driver_steps"], data["driver_episodes"]
    base = data["models"]["tiny"]["cpu_s_total"] / episodes
    lines = [
        "| checkpoint | parameters | policy CPU s per step (observations 1 / 2 / 3 / 4 / 5) | "
        f"CPU s per episode ({steps / episodes:.1f} steps) | full protocol |",
        "|---|---:|---|---:|---:|",
    ]
    for label, model in data["models"].items():
        per_step = " / ".join(f"{v:.3f}" for v in model["cpu_s_per_step_by_observations"].values())
        cost = episode + model["cpu_s_total"] / episodes - base
        hours = FULL_PROTOCOL_EPISODES * cost / 3600
        lines.append(
            f"| {label} | {model['parameters'] / 1e6:,.1f} M | {model['cpu_s_per_step']:.3f} "
            f"({per_step}) | {cost:.2f} | {hours:,.0f} CPU-hours |"
        )
    return "\n".join(lines) + "\n"


def incremental_scale_table(record: Path = MEASUREMENTS / "online-scale-incremental.jsonl") -> str:
    """PERFORMANCE.md's online runs with and without incremental decoding, from the lines
    `packages/vima-eval/bench/bench_online_scale.py CKPT --label L [--policy-server]
    [--whole-history] --record docs/measurements/online-scale-incremental.jsonl` appended."""
    lines = [
        "| checkpoint | policy, decoding | actions per episode | episodes/s (with start-up) | "
        "without start-up | CPU s per episode | simulation / tokenization / model s (all "
        "workers) | load average |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for run in _json_lines(record):
        actions = run.get("actions_per_episode")
        lines.append(
            f"| {run['label']} | {run['mode']} | {'' if actions is None else f'{actions:.2f}'} | "
            f"{run['episodes_per_s']:.3f} | {run['episodes_per_s_steady']:.3f} | "
            f"{run['cpu_s_per_episode_steady']:.2f} | {run['sim_s']} / {run['tokenize_s']} / "
            f"{run['model_s']} | {' '.join(run['load_before'])} |"
        )
    return "\n".join(lines) + "\n"


def incremental_steps_table(
    record: Path = MEASUREMENTS / "online-policy-steps-incremental.json",
    scale: Path = MEASUREMENTS / "online-scale-incremental.jsonl",
) -> str:
    """PERFORMANCE.md's policy CPU per step, whole history against incremental decoding, from
    `packages/vima-eval/bench/bench_policy_steps.py TINY TINY MODEL --labels tiny,LABEL --paths
    full,incremental --rounds 2 --record docs/measurements/online-policy-steps-incremental.json`:
    the prompt per episode apart from the steps, means of the rounds; the full protocol as in
    `policy_steps_table`, from the tiny runs of online-scale-incremental.jsonl."""
    data = json.loads(record.read_text())
    steps, episodes = data["driver_steps"], data["driver_episodes"]
    base = (
        _tiny_episode_cpu(scale) - data["models"]["tiny"]["paths"]["full"]["cpu_s_total"] / episodes
    )
    names = {"full": "whole history", "incremental": "incremental"}
    lines = [
        "| checkpoint | decoding | prompt CPU s per episode | policy CPU s per step "
        "(observations 1 / 2 / 3 / 4 / 5) | policy CPU s per episode "
        f"({steps / episodes:.1f} steps) | same bins | full protocol |",
        "|---|---|---:|---|---:|---|---:|",
    ]
    for label, model in data["models"].items():
        for path, run in model["paths"].items():
            per_step = " / ".join(
                f"{v:.3f}" for v in run["cpu_s_per_step_by_observations"].values()
            )
            hours = FULL_PROTOCOL_EPISODES * (base + run["cpu_s_total"] / episodes) / 3600
            lines.append(
                f"| {label} ({model['parameters'] / 1e6:,.1f} M) | {names[path]} | "
                f"{run['cpu_s_prompts'] / episodes:.3f} | {run['cpu_s_per_step']:.3f} "
                f"({per_step}) | {run['cpu_s_total'] / episodes:.2f} | "
                f"{'yes' if model['same_bins'] else 'no'} | {hours:,.0f} CPU-hours |"
            )
    return "\n".join(lines) + "\n"


def step_profile_table(record: Path = MEASUREMENTS / "online-step-profile.json") -> str:
    """PERFORMANCE.md's parts of an incremental step, from
    `packages/vima-eval/bench/bench_step_profile.py TINY MODEL --label LABEL --record
    docs/measurements/online-step-profile.json`."""
    run = json.loads(record.read_text())
    parts = run["cpu_s_per_step_parts"]
    return "\n".join([
        "| checkpoint | CPU s per step | newest observation's visual tokens | decoder blocks | "
        "action heads | prompt, once per episode | visible objects per step |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| {run['label']} | {run['cpu_s_per_step']:.3f} | {parts['visual']:.3f} | "
        f"{parts['decoder_blocks']:.3f} | {parts['heads']:.3f} | "
        f"{run['cpu_s_prompt_per_episode']:.3f} | {run['visible_objects_per_step']} |",
    ]) + "\n"  # fmt: skip


#: (level, task) pairs that scripts/experiments/thirteen_tasks.sh evaluates per level.
LEVEL_PAIRS = {"L1": 13, "L2": 13, "L3": 12, "L4": 4}


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def thirteen_budget_table(record: Path = MEASUREMENTS / "thirteen-tasks-budget.jsonl") -> str:
    """EXPERIMENTS.md's CPU budget of the 13-task run, from `scripts/experiments/thirteen_tasks.sh
    OUT budget` (OUT/budget/budget.jsonl, copied): each stage measured small, projected to the
    script's defaults (the `plan` line) at the same per-unit cost."""
    rows = _json_lines(record)
    plan = next(row for row in rows if row["what"] == "plan")
    lines = ["| stage | measured | per unit | full run | projected |", "|---|---|---:|---:|---:|"]
    generated = 0.0
    for row in (r for r in rows if r["what"] == "generate"):  # start-up: a run with none to do
        each = (row["seconds"] - row["startup_s"]) / row["count"]
        generated += each * plan["episodes_per_task"]
        lines.append(f"| generate {row['subject']} | {row['count']} episodes in "
                     f"{row['seconds']:.1f} s ({row['startup_s']:.1f} s of it start-up) | "
                     f"{each:.2f} s/episode | {plan['episodes_per_task']:,} episodes | "
                     f"{_duration(each * plan['episodes_per_task'])} |")  # fmt: skip
    episodes = plan["episodes_per_task"] * plan["tasks"]
    lines.append(f"| **generate, {plan['tasks']} tasks** | | | {episodes:,} episodes | "
                 f"**{_duration(generated)}** |")  # fmt: skip
    prepared = next(row for row in rows if row["what"] == "prepare_dataset")
    each = prepared["seconds"] / prepared["count"]
    lines.append(f"| parse, build, tokenize | {prepared['count']} episodes in "
                 f"{prepared['seconds']:.1f} s | {each:.2f} s/episode | {episodes:,} episodes | "
                 f"{_duration(each * episodes)} |")  # fmt: skip
    small, large = (row for row in rows if row["what"] == "train")
    step = (large["seconds"] - small["seconds"]) / (large["count"] - small["count"])
    lines.append(f"| train {plan['preset']} | {large['count']} steps in {large['seconds']:.1f} s, "
                 f"{small['count']} in {small['seconds']:.1f} s | {step:.3f} s/step | "
                 f"{plan['steps']:,} steps | {_duration(step * plan['steps'])} |")  # fmt: skip
    online = next(row for row in rows if row["what"] == "online-vima-sim")
    each_online = online["seconds"] / online["count"]
    pairs = sum(LEVEL_PAIRS[level] for level in plan["eval_levels"].split(","))
    evaluated = pairs * plan["eval_episodes"]
    lines.append(f"| evaluate in vima-sim ({plan['eval_levels']}) | {online['count']} L1 episodes "
                 f"in {online['seconds']:.1f} s | {each_online:.2f} s/episode | {evaluated:,} "
                 f"episodes | {_duration(each_online * evaluated)} |")  # fmt: skip
    total = generated + each * episodes + step * plan["steps"] + each_online * evaluated
    loads = sorted({row["load"] for row in rows if "load" in row})
    lines.append(f"| **all, {plan['workers']} worker, nice {plan['nice']}** | load averages "
                 f"{loads[0]} to {loads[-1]} | | | **{_duration(total)}** |")  # fmt: skip
    return "\n".join(lines) + "\n"


def train_vs_cogelot_table(record: Path = MEASUREMENTS / "bench-train-vs-cogelot.txt") -> str:
    """PERFORMANCE.md's training step of vima-train's `family: cogelot` against CoGeLoT's own
    code, from `packages/vima-train/bench/bench_train_vs_cogelot.py`'s stdout (its summaries)."""
    lines = [
        "| torch threads | batch | vima-train ms/step: median (per round) | CoGeLoT ms/step: "
        "median (per round) | speed-up | CPU s/step: vima-train / CoGeLoT | speed-up (CPU) | "
        "load average |",
        "|---:|---:|---|---|---:|---|---:|---:|",
    ]
    for s in (row for row in _json_lines(record) if row.get("summary")):
        ours = ", ".join(f"{ms:,.0f}" for ms in s["ours_ms_round_medians"])
        theirs = ", ".join(f"{ms:,.0f}" for ms in s["cogelot_ms_round_medians"])
        lines.append(
            f"| {s['threads']} | {s['batch']} | **{s['ours_ms_median']:,.0f}** ({ours}) | "
            f"**{s['cogelot_ms_median']:,.0f}** ({theirs}) | **{s['speedup']:.2f}x** | "
            f"{s['ours_cpu_s_median']:.2f} / {s['cogelot_cpu_s_median']:.2f} | "
            f"{s['speedup_cpu']:.2f}x | {s['load_avg_1min']:.1f} |"
        )
    return "\n".join(lines) + "\n"


#: The optimisers of bench_train_vs_cogelot.py's trajectories.
OPTIMISERS = {"sgd": "SGD (lr 0.1)", "adamw": "AdamW (lr 1e-4)"}


def train_vs_cogelot_check_table(record: Path = MEASUREMENTS / "bench-train-vs-cogelot.txt") -> str:
    """PERFORMANCE.md's check that both code bases train the same: the recorded benchmark's
    `check` line (first pass per batch size, then the SGD and AdamW trajectories)."""
    check = next(row for row in _json_lines(record) if "check" in row)
    lines = ["| same weights, dropout off, 1 thread | vima-train | CoGeLoT | largest gap |",
             "|---|---|---|---:|"]  # fmt: skip
    for key, first in ((k, v) for k, v in check.items() if k.startswith("first_pass_batch_")):
        size = key.removeprefix("first_pass_batch_")
        ours, theirs = first["loss"]
        lines.append(
            f"| loss, batch {size} | {ours:.7f} | {theirs:.7f} | {first['loss_gap']:.1e} |"
        )
        worst = first["worst_gradient_gap"]
        lines.append(f"| gradients of {first['parameters_learning']} parameters, batch {size} "
                     f"(norm and a random projection, relative to the norm) | | | "
                     f"{worst['relative']:.1e} (`{worst['parameter']}`) |")  # fmt: skip
    for key, steps in ((k, v) for k, v in check.items() if k.startswith("steps_batch_")):
        size = key.removeprefix("steps_batch_")
        for name, run in steps.items():
            ours = ", ".join(f"{v:.6f}" for v in run["ours"])
            theirs = ", ".join(f"{v:.6f}" for v in run["cogelot"])
            lines.append(f"| losses of {len(run['ours'])} {OPTIMISERS[name]} steps, batch {size} | "
                         f"{ours} | {theirs} | {run['max_gap']:.1e} |")  # fmt: skip
            two = ", ".join(f"{v:.6f}" for v in run["ours_2_threads"])
            lines.append(f"| the same, vima-train at 2 threads (gap: to its 1 thread) | {two} | | "
                         f"{run['max_gap_ours_1_vs_2_threads']:.1e} |")  # fmt: skip
    return "\n".join(lines) + "\n"


BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "oracle-table": ("README.md", readme_oracle_table),
    "simulator-oracle-table": ("docs/SIMULATOR.md", simulator_oracle_table),
    "import-table": ("docs/PERFORMANCE.md", import_table),
    "closed-loop-table": ("docs/CHECKPOINTS.md", closed_loop_table),
    "online-scale-table": ("docs/PERFORMANCE.md", online_scale_table),
    "policy-steps-table": ("docs/PERFORMANCE.md", policy_steps_table),
    "incremental-scale-table": ("docs/PERFORMANCE.md", incremental_scale_table),
    "incremental-steps-table": ("docs/PERFORMANCE.md", incremental_steps_table),
    "step-profile-table": ("docs/PERFORMANCE.md", step_profile_table),
    "thirteen-budget-table": ("docs/EXPERIMENTS.md", thirteen_budget_table),
    "train-vs-cogelot-table": ("docs/PERFORMANCE.md", train_vs_cogelot_table),
    "train-vs-cogelot-check-table": ("docs/PERFORMANCE.md", train_vs_cogelot_check_table),
    "read-table": ("docs/PERFORMANCE.md", _bench("read_table")),
    "convert-table": ("docs/PERFORMANCE.md", _bench("convert_table")),
    "tokenize-table": ("docs/PERFORMANCE.md", _bench("tokenize_table")),
    "tokenize-size-table": ("docs/PERFORMANCE.md", _bench("tokenize_size_table")),
    "cli-help-table": ("docs/PERFORMANCE.md", _bench("cli_help_table")),
    "sim-breakdown-table": ("docs/PERFORMANCE.md", _bench("sim_breakdown_table")),
    "sim-generate-table": ("docs/PERFORMANCE.md", _bench("sim_generate_table")),
    "sim-per-task-table": ("docs/PERFORMANCE.md", _bench("sim_per_task_table")),
    "episode-format-table": ("docs/FORMAT.md", _bench("episode_format_table")),
    "loader-table": ("docs/PERFORMANCE.md", _bench("loader_table")),
    "train-step-table": ("docs/PERFORMANCE.md", _bench("train_step_table")),
    "perturbation-cost-table": ("docs/PERFORMANCE.md", _bench("perturbation_cost_table")),
    "offline-table": ("docs/PERFORMANCE.md", _bench("offline_table")),
    "online-table": ("docs/PERFORMANCE.md", _bench("online_table")),
    "view-table": ("docs/PERFORMANCE.md", _bench("view_table")),
    "cluster-table": ("docs/CLUSTER.md", _bench("cluster_table")),
    "t1-pointer-table": ("docs/EXPERIMENTS.md", _experiment("levels_table", "t1-pointer")),
    "t1-pointer-perturbations-table": (
        "docs/EXPERIMENTS.md",
        _experiment("perturbations_table", "t1-pointer"),
    ),
    "t1-shuffle-table": ("docs/EXPERIMENTS.md", _experiment("shuffle_table")),
    "t1-match-table": ("docs/EXPERIMENTS.md", _experiment("levels_table", "t1-match")),
    "t1-match-perturbations-table": (
        "docs/EXPERIMENTS.md",
        _experiment("perturbations_table", "t1-match"),
    ),
    "t1-validation-table": (
        "docs/TRAINING.md",
        _experiment(
            "validation_table",
            ("t1-pointer", "t1-shuffle", "t1-shuffle-4500", "t1-match"),
            (58, 294, 1179, 3000),
        ),
    ),
    "t1-simulators-table": ("docs/SIMULATOR.md", _experiment("simulators_table")),
    "oracle-harness-table": ("docs/SIMULATOR.md", _experiment("oracle_harness_table")),
    "scenes-table": ("docs/SIMULATOR.md", _experiment("scenes_table")),
    "six-original-table": ("docs/EXPERIMENTS.md", _experiment("six_levels_table", "six-original")),
    "six-original-study-table": (
        "docs/EXPERIMENTS.md",
        _experiment("six_study_table", "six-original-study"),
    ),
    "six-paraphrased-table": (
        "docs/EXPERIMENTS.md",
        _experiment("six_levels_table", "six-paraphrased"),
    ),
    "six-paraphrased-study-table": (
        "docs/EXPERIMENTS.md",
        _experiment("six_study_table", "six-paraphrased-study"),
    ),
}


def block_pattern(marker: str) -> re.Pattern[str]:
    """The generated block `marker` of a document; group 1 is its content."""
    return re.compile(rf"(<!-- {marker}:begin[^>]*-->\n)(.*?)(<!-- {marker}:end -->)", re.S)


def refresh(check: bool = False) -> list[str]:
    """Rewrite every block from its record (or, with `check`, only compare); the markers of
    the blocks that differed."""
    stale = []
    for marker, (document, generate) in BLOCKS.items():
        path = ROOT / document
        text = path.read_text()
        found = block_pattern(marker).search(text)
        if found is None:
            raise ValueError(f"{document} has no {marker} block")
        table = generate()
        if found.group(2) != table:
            stale.append(marker)
            if not check:
                path.write_text(text[: found.start(2)] + table + text[found.end(2) :])
    return stale


if __name__ == "__main__":
    differing = refresh(check="--check" in sys.argv[1:])
    for name in differing:
        print(f"{name}: {'differs' if '--check' in sys.argv[1:] else 'rewritten'}")
    sys.exit(1 if differing and "--check" in sys.argv[1:] else 0)
