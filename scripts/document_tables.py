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


def _oracle_module() -> ModuleType:
    """scripts/oracle_table.py, loaded beside this script."""
    spec = importlib.util.spec_from_file_location("oracle_table", Path(__file__).with_name(
        "oracle_table.py"))  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "oracle-table": ("README.md", readme_oracle_table),
    "simulator-oracle-table": ("docs/SIMULATOR.md", simulator_oracle_table),
    "import-table": ("docs/PERFORMANCE.md", import_table),
    "closed-loop-table": ("docs/CHECKPOINTS.md", closed_loop_table),
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
