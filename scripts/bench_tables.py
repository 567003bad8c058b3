"""PERFORMANCE.md's (and CLUSTER.md's, FORMAT.md's) benchmark tables, made from the outputs that
scripts/measure.py records under docs/measurements/ (loaded by scripts/document_tables.py).

A record holds, per command, `$ COMMAND`, then `# DATE, commit C, load average A B C`, then the
command's stdout; each table ends with a line naming its record, date and load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MEASUREMENTS = Path(__file__).resolve().parents[1] / "docs" / "measurements"


@dataclass(frozen=True)
class Run:
    """One command of a record: what ran, when, under which load, and what it printed."""

    command: str
    stamp: str
    load: str
    output: str

    def field(self, key: str) -> str:
        """The value of the output's line `key: value` (the first such line)."""
        found = re.search(rf"^{re.escape(key)}:\s*(.*)$", self.output, re.M)
        if found is None:
            raise ValueError(f"{self.command}: no line `{key}:` in its recorded output")
        return found.group(1).strip()

    def number(self, key: str) -> float:
        """The first number of the line `key: ...`."""
        return _first_number(self.field(key), key)


def _first_number(text: str, what: str) -> float:
    found = re.search(r"-?[\d,]*\.?\d+(?:e-?\d+)?", text)
    if found is None:
        raise ValueError(f"no number in {what}: {text!r}")
    return float(found.group(0).replace(",", ""))


def runs(name: str) -> list[Run]:
    """The commands of docs/measurements/NAME.txt, in order."""
    path = MEASUREMENTS / f"{name}.txt"
    parts = re.split(r"^\$ ", path.read_text(), flags=re.M)[1:]
    out = []
    for part in parts:
        command, header, output = [*part.split("\n", 2), ""][:3]
        found = re.match(r"# (.*?), commit (.*?), load average (.*)$", header)
        if found is None:
            raise ValueError(f"{path}: no date/commit/load line after `$ {command}`")
        out.append(
            Run(command, f"{found.group(1)}, commit {found.group(2)}", found.group(3), output)
        )
    return out


def source_line(name: str) -> str:
    """The line under a table: its record, the dates and the load averages."""
    recorded = runs(name)
    stamps = sorted({r.stamp for r in recorded})
    loads = ", ".join(r.load.split()[0] for r in recorded)
    return (
        f"\n*Recorded by `scripts/measure.py {name}` in `docs/measurements/{name}.txt` "
        f"({stamps[0]}{'' if len(stamps) == 1 else ' ...'}; 1-minute load average "
        f"{loads} at the start of each command).*\n"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """A markdown table; `align` has one letter per column (l or r)."""
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(line) + " |" for line in [header, *rows]]
    return "\n".join([lines[0], rule, *lines[1:]]) + "\n"


def read_table() -> str:
    """vima-schema's read + validate (bench_read.py, fast and --deep)."""
    rows = []
    for run in runs("bench-read"):
        rows.append(
            [
                run.field("mode"),
                f"{run.number('episodes'):,.0f}",
                f"{run.number('input') / run.number('episodes') * 1000:,.0f} KB",
                f"**{run.number('episodes/s'):,.0f}**",
                f"{run.number('MB/s'):,.0f}",
                run.field("peak RSS"),
                f"{run.number('PIL opens'):,.0f}",
            ]
        )
    return table(
        [
            "mode",
            "episodes",
            "input per episode",
            "episodes/s",
            "MB/s",
            "peak RSS",
            "JPEG decodes (PIL opens)",
        ],
        rows,
        "lrrrrrr",
    ) + source_line("bench-read")


def _convert_rows() -> list[dict[str, float]]:
    """Per worker count, the figures of bench_convert.py's `workers=N:` lines."""
    run = runs("bench-convert")[0]
    pattern = (
        r"^workers=(\d+): parse (\d+) ep/s \(([\d.]+) MB/s in\), build (\d+) ep/s, end to "
        r"end (\d+) ep/s \((\d+) per worker\); without start-up \(([\d.]+) s\): parse "
        r"\d+ ep/s, build \d+ ep/s, end to end (\d+) ep/s \((\d+) per worker\); parsed "
        r"files ([\d.]+) KB/ep, dataset ([\d.]+) KB/ep; peak RSS (\d+) MB$"
    )
    keys = (
        "workers",
        "parse",
        "mb_s",
        "build",
        "e2e",
        "e2e_worker",
        "startup",
        "e2e_steady",
        "e2e_steady_worker",
        "parsed_kb",
        "dataset_kb",
        "rss",
    )
    rows = [
        dict(zip(keys, map(float, m), strict=True)) for m in re.findall(pattern, run.output, re.M)
    ]
    if not rows:
        raise ValueError("bench-convert.txt: no `workers=N:` line")
    return rows


def convert_table() -> str:
    """vima-convert parse, build and end to end per worker count (bench_convert.py)."""
    run = runs("bench-convert")[0]
    converted = _convert_rows()
    corpus = run.field("corpus")
    samples = _first_number(run.field("distinct samples").split(",")[1], "distinct samples")
    rows = [
        [
            f"{r['workers']:.0f}",
            f"{r['parse']:.0f} ep/s",
            f"{r['build']:.0f} ep/s",
            f"{r['e2e']:.0f} ep/s",
            f"**{r['e2e_steady']:.0f} ep/s**",
            f"{r['e2e_steady_worker']:.0f}",
            f"{r['mb_s']:.0f}",
            f"{r['rss']:.0f} MB",
        ]
        for r in converted
    ]
    first = converted[0]
    return (
        f"Corpus: {corpus}.\n\n"
        + table(
            [
                "workers",
                "parse",
                "build",
                "end to end (wall)",
                "end to end without start-up",
                "per worker",
                "input MB/s (parse)",
                "peak RSS",
            ],
            rows,
            "rrrrrrrr",
        )
        + f"\nOutput: per-episode files {first['parsed_kb']} KB per episode (Arrow IPC, lz4), "
        f"dataset {first['dataset_kb']} KB per episode on the corpus and **{samples} KB** for "
        "the 11 distinct samples in one shard (footer included).\n" + source_line("bench-convert")
    )


def tokenize_table() -> str:
    """vima-tokenize's speed per worker count and the distinct samples' size (bench_tokenize.py)."""
    run = runs("bench-tokenize")[0]
    pattern = (
        r"^workers=(\d+): (\d+) episodes in ([\d.]+) s, ([\d.]+) ep/s \(([\d.]+) ep/s per "
        r"worker\); preprocessed ([\d.]+) KB/episode .*?; peak RSS per process (\d+) MB$"
    )
    cpu = dict(re.findall(r"^workers=(\d+) CPU: [\d.]+ s, ([\d.]+) ms per episode$", run.output,
                          re.M))  # fmt: skip
    rows = [
        [w, f"{float(s):.1f} s", f"**{float(rate):.0f}**", f"{float(per):.0f}",
         f"{cpu[w]} ms" if w in cpu else "", f"{rss} MB"]
        for w, _, s, rate, per, _, rss in re.findall(pattern, run.output, re.M)
    ]  # fmt: skip
    if not rows:
        raise ValueError("bench-tokenize.txt: no `workers=N:` line")
    corpus_kb = re.search(pattern, run.output, re.M).group(6)  # type: ignore[union-attr]
    samples = run.field("distinct samples")
    text = runs("bench-text")[0].output.strip()
    return (
        f"Corpus: {run.field('corpus')}.\n\n"
        + table(
            [
                "workers",
                "wall (start-up included)",
                "episodes/s",
                "per worker",
                "CPU per episode (all processes and threads)",
                "peak RSS (largest process)",
            ],
            rows,
            "rrrrrr",
        )
        + f"\nPreprocessed size: {corpus_kb} KB per episode on the corpus; distinct samples: "
        f"{samples}. Prompt tokenization (`bench_text.py`): {text}.\n"
        + source_line("bench-tokenize")
        + source_line("bench-text")
    )


def _hand_recorded(name: str) -> str:
    """The line under a table of a record written by hand in scripts/measure.py's format."""
    recorded = runs(name)
    dates = sorted(r.stamp.split(", commit")[0] for r in recorded)
    loads = ", ".join(r.load.split()[0] for r in recorded)
    return (
        f"\n*Recorded in `docs/measurements/{name}.txt` (each command as run, with its commit; "
        f"{dates[0]} to {dates[-1]}; 1-minute load average {loads} at the start of each "
        "command).*\n"
    )


#: What the two runs of bench-size.txt and bench-tokenize-v3.txt measured.
TOKENIZE_VERSIONS = (
    "tokenize_version 2: a zstd column per array",
    "tokenize_version 3: the `arrays` blob",
)


def tokenize_size_table() -> str:
    """Issue 30 item 4: tokenized bytes per episode of the 13 distinct real VIMA-Bench episodes
    (one shard each) against the reference's 148 KB, before and after the `arrays` blob, with
    the CPU cost of coding and decoding (`bench_size.py`, the first run with the former
    vima-tokenize on PYTHONPATH); then tokenize speed and the training loader before and after
    (`bench_tokenize.py`, `bench_train.py`'s loader, the first of each with the former code)."""
    size = (
        r"^preprocessed: \d+ episodes in \d+ shards, [\d.]+ KB \(([\d.]+) KB/episode, footers "
        r"([\d.]+) KB/shard\); reference (\d+) KB/episode: ([\d.]+)x smaller$"
    )
    rows, per_episode, reference = [], 0.0, 0.0
    for label, run in zip(TOKENIZE_VERSIONS, runs("bench-size"), strict=True):
        found = re.search(size, run.output, re.M)
        if found is None:
            raise ValueError(f"bench-size.txt: no `preprocessed:` line after `$ {run.command}`")
        per_episode, reference = float(found.group(1)), float(found.group(3))
        encode, decode = re.findall(r"([\d.]+) ms/episode", run.field("codec"))
        kb, footer, smaller = found.group(1), found.group(2), found.group(4)
        rows.append([label, f"**{kb} KB**", f"{footer} KB", f"**{smaller}x**", encode, decode])
    verdict = "**met**" if per_episode * 4 <= reference else "**not met**"
    speed = runs("bench-tokenize-v3")
    cpu = r"^workers=1 CPU: .*?, ([\d.]+) ms per episode$"
    key = "loader_1_workers_steady_samples_per"
    speed_rows = []
    for label, tokenize, train in zip(TOKENIZE_VERSIONS, speed[:2], speed[2:], strict=True):
        loader = next(o for o in json_objects(train.output) if "loader" in o)["loader"]
        build = loader["cache_build_s"] * 1000 / loader["episodes"]
        per = re.findall(cpu, tokenize.output, re.M)[0]
        corpus = re.findall(r"^workers=1: .*? ([\d.]+) KB/episode", tokenize.output, re.M)
        distinct = re.findall(r"([\d.]+) KB/episode", tokenize.field("distinct samples"))[0]
        speed_rows.append(
            [
                label,
                per,
                corpus[0],
                distinct,
                f"{build:.1f}",
                f"{loader[key + '_s']:,}",
                f"{loader[key + '_cpu_s']:,}",
            ]
        )
    return (
        table(SIZE_HEADER, rows, "lrrrrr")
        + f"\nTarget: at most 1/4 of the reference's {reference:.0f} KB per episode "
        f"({reference / 4:.2f} KB): {verdict}.\n"
        + _hand_recorded("bench-size")
        + "\n"
        + table(SPEED_HEADER, speed_rows, "lrrrrrr")
        + _hand_recorded("bench-tokenize-v3")
    )


SIZE_HEADER = [
    "format",
    "bytes per episode",
    "footer per shard",
    "smaller than the reference",
    "coding CPU ms per episode (`preprocess_row`)",
    "decoding CPU ms per episode (`load_arrays`)",
]
SPEED_HEADER = [
    "format",
    "tokenize CPU ms per episode (1 worker, 1,000-episode corpus, start-up included)",
    "corpus KB per episode",
    "11 distinct samples in one shard, KB per episode",
    "training cache build, wall ms per episode (2,000 episodes)",
    "loader samples/s, 1 worker",
    "loader samples per CPU-second",
]


#: Wall-time targets of `--help` per tool (issue 19), seconds.
HELP_TARGETS = {
    "vima-schema": 0.3,
    "vima-convert": 0.3,
    "vima-tokenize": 0.3,
    "vima-sim": 0.3,
    "vima-train": 0.5,
    "vima-eval": 0.5,
}


def cli_help_table() -> str:
    """`--help` wall and CPU time per tool, ranges over its commands (bench_cli_help.py)."""
    run = runs("bench-cli-help")[0]
    figures: dict[str, list[tuple[float, float, float]]] = {}
    for line in run.output.splitlines():
        found = re.match(r"^(vima-\w+) .*--help\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", line)
        if found:
            tool, *values = found.groups()
            figures.setdefault(tool, []).append(tuple(map(float, values)))  # type: ignore[arg-type]

    def span(values: list[float]) -> str:
        low, high = min(values), max(values)
        return f"{low:.3f}" if low == high else f"{low:.3f}-{high:.3f}"

    rows = []
    for tool, target in HELP_TARGETS.items():
        walls, mins, cpus = zip(*figures[tool], strict=True)
        met = "met" if max(walls) <= target else "**missed**"
        rows.append(
            [
                tool,
                str(len(walls)),
                span(list(walls)),
                span(list(mins)),
                span(list(cpus)),
                f"{target} ({met})",
            ]
        )
    return table(
        [
            "tool",
            "command lines",
            "wall s, median",
            "wall s, minimum",
            "CPU s, median",
            "target (by the median)",
        ],
        rows,
        "lrllll",
    ) + source_line("bench-cli-help")


def _breakdown(output: str) -> dict[str, dict[str, str]]:
    """Per task, phase -> CPU s per episode (bench_sim.py breakdown's blocks)."""
    tasks: dict[str, dict[str, str]] = {}
    phases: dict[str, str] = {}
    for line in output.splitlines():
        head = re.match(r"^(\w+): (\d+) episodes, CPU s per episode$", line)
        if head:
            phases = tasks.setdefault(head.group(1), {})
            continue
        found = re.match(r"^\s+(\S.*?)\s{2,}([\d.]+)\b", line)
        if found and phases is not None:
            phases[found.group(1)] = found.group(2)
    return tasks


def sim_breakdown_table() -> str:
    """Where an episode's CPU time goes in `generate` (bench_sim.py breakdown), per task."""
    tasks = _breakdown(runs("bench-sim-breakdown")[0].output)
    names = list(tasks)
    phases = list(tasks[names[0]])
    rows = []
    for phase in phases:
        cells = [tasks[t].get(phase, "") for t in names]
        label = f"**{phase}**" if phase.startswith("total") else phase
        if phase == "minor page faults":
            cells = [f"{int(c):,}" for c in cells]
        rows.append([label, *cells])
    return table(["phase (CPU s per episode)", *names], rows, "l" + "r" * len(names)) + (
        source_line("bench-sim-breakdown")
    )


def episode_format_table() -> str:
    """FORMAT.md's per-episode file candidates (bench_episode_format.py)."""
    run = runs("bench-episode-format")[0]
    pattern = r"^format: (.*?) \| bytes (\d+) \| write ([\d.]+) ms \| read ([\d.]+) ms$"
    rows = []
    for name, size, write, read in re.findall(pattern, run.output, re.M):
        cells = [name, f"{int(size):,}", f"{write} ms", f"{read} ms"]
        rows.append([f"**{c}**" for c in cells] if name == "Arrow IPC, lz4" else cells)
    if not rows:
        raise ValueError("bench-episode-format.txt: no `format:` line")
    return (
        f"{run.field('records')}; per episode, in memory:\n\n"
        + table(["format", "bytes", "write (median)", "read (median)"], rows, "lrrr")
        + source_line("bench-episode-format")
    )


def json_objects(text: str) -> list[dict]:
    """Every JSON object printed in `text` (one per line or indented over several)."""
    decoder, objects, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        try:
            value, at = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        objects.append(value)
    return objects


def loader_table() -> str:
    """vima-train's loader: samples/s and memory per worker count (bench_train.py, loader run)."""
    run = runs("bench-loader")[0]
    report = next(o for o in json_objects(run.output) if "loader" in o)
    loader = report["loader"]
    rows = []
    for workers in sorted({int(k.split("_")[1]) for k in loader if k.startswith("loader_")}):
        key = f"loader_{workers}_workers_"
        main, worker = (
            loader[key + "rss_MB_main_peak_anon_file"],
            loader[key + "rss_MB_worker_peak_anon_file"],
        )
        rows.append(
            [
                str(workers),
                f"**{loader[key + 'steady_samples_per_s']:,}**",
                f"{loader[key + 'steady_samples_per_cpu_s']:,}",
                f"{loader[key + 'first_epoch_samples_per_s']:,}",
                f"{main[0]:,} ({main[1]:,} / {main[2]:,})",
                f"{worker[0]:,} ({worker[1]:,} / {worker[2]:,})" if workers else "",
            ]
        )
    episodes = loader["episodes"]
    cache = loader["arrow_cache_MB"]
    return (
        table(
            [
                "loader workers",
                "samples/s, steady epoch",
                "samples per CPU-second (all processes)",
                "samples/s, first epoch",
                "main process: peak RSS MB (anonymous / file-backed at the end)",
                "largest worker: same",
            ],
            rows,
            "rrrrrr",
        )
        + f"\nCorpus: {episodes:,} episodes, {loader['parquet_MB']:,} MB of parquet; cache "
        f"built in {loader['cache_build_s']} s, {cache:,} MB ({cache * 1000 / episodes:,.0f} KB "
        f"per episode). Reading the parquet directly (no cache): "
        f"{report['parquet_direct_samples_per_s']:,.0f} samples/s; collation alone: "
        f"{report['collate_ms_per_sample']} ms per sample (batch 8).\n"
        + source_line("bench-loader")
    )


def train_step_table() -> str:
    """vima-train's CPU training step per preset at 1 and 2 torch threads (bench_train.py)."""
    steps: dict[str, dict[int, dict]] = {}
    for run in runs("bench-train"):
        for result in json_objects(run.output):
            if "ms_per_step" in result:
                steps.setdefault(result["preset"], {})[result["threads"]] = result
    rows = []
    for preset, by_threads in steps.items():
        one, two = by_threads.get(1, {}), by_threads.get(2, {})
        rows.append(
            [
                preset,
                f"{next(iter(by_threads.values()))['parameters_M']:,} M",
                *(
                    f"{r['ms_per_step']:,.0f} / {r['cpu_s_per_step']}" if r else ""
                    for r in (one, two)
                ),
                *(f"{r['samples_per_s']}" if r else "" for r in (one, two)),
                str(max(r["timed_steps"] for r in by_threads.values())),
                ", ".join(f"{r['load_avg_1min']:.1f}" for r in by_threads.values()),
            ]
        )
    return table(
        [
            "preset",
            "parameters",
            "1 thread: ms / CPU s per step",
            "2 threads: ms / CPU s per step",
            "samples/s, 1 thread",
            "samples/s, 2 threads",
            "timed steps",
            "load average (1 / 2 threads)",
        ],
        rows,
        "lrrrrrrr",
    ) + source_line("bench-train")


def perturbation_cost_table() -> str:
    """Microseconds per episode of each perturbation (bench_offline.py's first part)."""
    run = runs("bench-offline")[0]
    head = re.search(r"^perturbation cost per episode \((.*)\):$", run.output, re.M)
    if head is None:
        raise ValueError("bench-offline.txt: no perturbation cost block")
    rows = [
        [name, micros, "model input switch" if switch else "prompt"]
        for name, micros, switch in re.findall(
            r"^  (\w+)\s+([\d.]+) us( \(model input switch\))?$", run.output, re.M
        )
    ]
    return (
        f"{head.group(1)}:\n\n"
        + table(["perturbation", "µs per episode", "kind"], rows, "lrl")
        + source_line("bench-offline")
    )


def offline_table() -> str:
    """Offline evaluation episodes/s per preset and perturbation (bench_offline.py)."""
    run = runs("bench-offline")[0]
    blocks = re.split(r"^offline evaluation, preset ", run.output, flags=re.M)[1:]
    rows, classes, worst = [], [], []
    for block in blocks:
        preset = block.split(",", 1)[0]
        shares = [float(x) for x in re.findall(r"perturb\+tokenize\s+([\d.]+)%", block)]
        worst.append(f"{preset} {max(shares)} % ({'met' if max(shares) <= 20 else 'missed'})")
        cells = []
        for name, rate, loaded, share in re.findall(
            r"^  (\w+)\s+([\d.]+) episodes/s \(load excluded; ([\d.]+) with load\); "
            r"perturb\+tokenize\s+([\d.]+%)",
            block,
            re.M,
        ):
            if name not in classes:
                classes.append(name)
            cells.append(f"{rate} ({loaded}), {share}")
        rows.append([preset, *cells])
    head = blocks[0].split("\n", 1)[0].split(", ", 1)[1].rstrip(":")
    return (
        f"{head}; episodes/s with data loading excluded (included), and the share of the "
        "compute time spent perturbing + re-tokenizing:\n\n"
        + table(["preset", *classes], rows, "l" + "r" * len(classes))
        + "\nLargest perturb + tokenize share against the 20 % target: "
        + ", ".join(worst)
        + ".\n"
        + f"\nPeak RSS of the whole benchmark: {run.output.rsplit('peak RSS ', 1)[-1].strip()}.\n"
        + source_line("bench-offline")
    )


def online_table() -> str:
    """Closed-loop episodes/s of the tiny policy and the oracle with 1 and 2 workers
    (bench_online.py), and its full-benchmark estimate."""
    run = runs("bench-online")[0]
    pattern = (
        r"^(tiny policy|oracle), (\d) worker\(s\): (\d+) episodes in ([\d.]+) s \(command "
        r"[\d.]+ s\) = ([\d.]+) episodes/s, [\d.]+ episodes/s per busy worker; split: "
        r"sim ([\d.]+%), tokenize ([\d.]+%), model ([\d.]+%) \(policy side ([\d.]+%)\); "
        r"([\d.]+) s per episode$"
    )
    rows = [
        [agent, workers, episodes, f"**{rate}**", seconds, f"{sim} / {tok} / {model}", side]
        for agent, workers, episodes, _, rate, sim, tok, model, side, seconds in re.findall(
            pattern, run.output, re.M
        )
    ]
    if not rows:
        raise ValueError("bench-online.txt: no result line")
    estimates = re.findall(
        r"^(tiny policy|oracle): 42 pairs x 100 episodes ~ ([\d.]+) CPU-hours", run.output, re.M
    )
    scaling = re.findall(
        r"^(tiny policy|oracle): scaling 1 -> 2 workers (x[\d.]+)$", run.output, re.M
    )
    return (
        table(
            [
                "agent",
                "workers",
                "episodes",
                "episodes/s",
                "s per episode (busy worker)",
                "sim / tokenize / model",
                "policy side",
            ],
            rows,
            "lrrrrrr",
        )
        + "\nScaling from 1 to 2 workers: "
        + ", ".join(f"{a} {x}" for a, x in scaling)
        + ". The full benchmark (42 pairs x 100 episodes) at the one-worker rate: "
        + ", ".join(f"{a} {h} CPU-hours" for a, h in estimates)
        + ".\n"
        + source_line("bench-online")
    )


def view_table() -> str:
    """`vima-eval view` of large runs: time, extra disk, index open (bench_view.py)."""
    rows = []
    for run in runs("bench-view"):
        head = re.search(
            r"^episodes (\d+), recorded frames (\d+), recordings ([\d.]+) MiB$", run.output, re.M
        )
        site = re.search(
            r"^site: (\d+) files, extra disk ([\d.]+) MiB \(site alone ([\d.]+) "
            r"MiB; media hard-linked\), index \+ row data (\d+) KiB$",
            run.output,
            re.M,
        )
        opened = re.search(
            r"^index open in Chromium: median (\d+) ms \(loads: (.*)\)$", run.output, re.M
        )
        if head is None or site is None or opened is None:
            raise ValueError(f"bench-view.txt: incomplete output of `{run.command}`")
        rows.append(
            [
                f"{int(head.group(1)):,}",
                f"{int(head.group(2)):,}",
                f"{head.group(3)} MiB",
                f"**{run.number('vima-eval view'):.1f} s**",
                f"**{site.group(2)} MiB**",
                f"{site.group(3)} MiB",
                f"{site.group(4)} KiB",
                f"**{opened.group(1)} ms** (loads: {opened.group(2)})",
            ]
        )
    return table(
        [
            "episodes",
            "recorded frames",
            "recordings",
            "`vima-eval view`",
            "extra disk",
            "site alone (copied media)",
            "index + row data",
            "index opens (median of 5)",
        ],
        rows,
        "rrrrrrrl",
    ) + source_line("bench-view")


#: The full VIMA dataset: episodes and raw gigabytes.
FULL_EPISODES, RAW_GB = 650_000, 712


def cluster_table() -> str:
    """CLUSTER.md's stages, resources and disk for the full dataset, derived from the per-worker
    rates and sizes of the convert, tokenize and train records (one worker = one core)."""
    convert = _convert_rows()[0]
    tokenize = runs("bench-tokenize")[0]
    rate = float(re.search(r"^workers=1: .*?, ([\d.]+) ep/s", tokenize.output, re.M).group(1))  # type: ignore[union-attr]
    distinct = float(
        re.search(r"([\d.]+) KB/episode \(", tokenize.field("distinct samples")).group(1)
    )  # type: ignore[union-attr]
    dataset_kb = float(
        re.search(r"([\d.]+) KB/ep", runs("bench-convert")[0].field("distinct samples")).group(1)
    )  # type: ignore[union-attr]
    loader = next(o for o in json_objects(runs("bench-loader")[0].output) if "loader" in o)[
        "loader"
    ]
    cache_kb = loader["arrow_cache_MB"] * 1000 / loader["episodes"]
    n = FULL_EPISODES
    parse_min = n / (convert["parse"] * 4 * 32) / 60
    build_min = n / (convert["build"] * 16) / 60
    token_min = n / (rate * 32) / 60
    gb = {
        "parsed": n * convert["parsed_kb"] / 1e6,
        "dataset": n * dataset_kb / 1e6,
        "tokenized": n * distinct / 1e6,
        "cache": n * cache_kb / 1e6,
    }
    rows = [
        [
            "parse",
            "`parse.sbatch`",
            "array of N tasks, `--shard I/N`",
            "4 cores, 4 GB",
            f"650k / ({convert['parse']:.0f} ep/s x 4 x N): {parse_min:.1f} min of CPU at N = 32; "
            f"reading the {RAW_GB} GB dominates",
            f"{n / convert['parse'] / 3600:.1f} core-h",
            f"{gb['parsed']:.0f} GB per-episode files ({convert['parsed_kb']} KB/episode)",
        ],
        [
            "build + reword",
            "`build.sbatch`",
            "one node",
            "16 cores, 32 GB",
            f"build 650k / ({convert['build']:.0f} ep/s x 16) = {build_min:.1f} min; reword about "
            "as long",
            f"{n / convert['build'] / 3600:.1f} core-h",
            f"{gb['dataset']:.0f} GB per variant ({dataset_kb} KB/episode)",
        ],
        [
            "tokenize",
            "`tokenize.sbatch`",
            "array over variants",
            "32 cores, 64 GB",
            f"650k / ({rate:.0f} ep/s x 32) = {token_min:.1f} min per variant",
            f"{n / rate / 3600:.1f} core-h per variant",
            f"{gb['tokenized']:.0f} GB per variant ({distinct} KB/episode)",
        ],
        [
            "train",
            "`train.sbatch`",
            "DDP over nodes x GPUs",
            "4 GPUs, 40 cores per node",
            "see below",
            "",
            "run folder, checkpoints",
        ],
        [
            "online evaluation",
            "`eval-online.sbatch submit`",
            "array over (level, task, episode range) + merge",
            "4 cores, 16 GB",
            "see below",
            "",
            "one parquet row per episode, report",
        ],
    ]
    written = gb["parsed"] + gb["dataset"] + gb["tokenized"] + gb["cache"]
    return (
        table(
            [
                "stage",
                "script",
                "how it is split",
                "per task",
                "wall time",
                "CPU time in all",
                "output",
            ],
            rows,
            "lllllll",
        )
        + f"\nDisk for one variant: {RAW_GB} GB raw (read-only) + {gb['parsed']:.0f} GB parsed + "
        f"{gb['dataset']:.0f} GB dataset + {gb['tokenized']:.0f} GB tokenized + about "
        f"{gb['cache']:.0f} GB of training cache ({cache_kb:.0f} KB per episode of decoded "
        f"arrays, memory-mapped; put `VIMA_TRAIN_CACHE` on a large node-local or shared disk) = "
        f"{written:.0f} GB written. Rates: one worker of each benchmark (one core; wall time, "
        "start-up included); sizes of the distinct sample episodes.\n"
        + source_line("bench-convert")
        + source_line("bench-tokenize")
        + source_line("bench-loader")
    )


def sim_generate_table() -> str:
    """Whole `generate` processes against VIMA-Bench's own generation (bench_sim.py generate)."""
    run = runs("bench-sim-generate")[0]
    rows = [
        [task, f"{mine} ({mine_wall})", f"{theirs} ({theirs_wall})", f"**{ratio}x**"]
        for task, mine, mine_wall, theirs, theirs_wall, ratio in re.findall(
            r"^(\w+)\s+([\d.]+) \(\s*([\d.]+)\)\s+([\d.]+) \(\s*([\d.]+)\)\s+([\d.]+)x$",
            run.output,
            re.M,
        )
    ]
    if not rows:
        raise ValueError("bench-sim-generate.txt: no task line")
    head = run.output.strip().splitlines()[0]
    return (
        f"{head[0].upper()}{head[1:]}:\n\n"
        + table(
            ["task", "vima-sim CPU s (wall)", "VIMA-Bench CPU s (wall)", "CPU ratio"], rows, "lrrr"
        )
        + f"\nAll: {run.field('all')} (target 5x: "
        f"{'met' if float(run.field('all').rsplit(' ', 1)[1].rstrip('x')) >= 5 else 'missed'}).\n"
        + source_line("bench-sim-generate")
    )


def sim_per_task_table() -> str:
    """CPU seconds per oracle episode per task in both simulators (bench_sim.py per-task)."""
    run = runs("bench-sim-per-task")[0]
    found = re.findall(r"^(\w+)\s+(\w+)\s+([\d.]+)\s+([\d.]+|-)\s+([\d.]+x|-)\s*$", run.output,
                       re.M)  # fmt: skip
    if not found:
        raise ValueError("bench-sim-per-task.txt: no task line")
    rows = [[task, level, mine, theirs, ratio] for task, level, mine, theirs, ratio in found]
    return table(["task", "level", "vima-sim CPU s per episode", "VIMA-Bench", "ratio"], rows,
                 "llrrr") + source_line("bench-sim-per-task")  # fmt: skip
