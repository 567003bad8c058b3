"""The dataset card (`README.md`) with YAML `configs:` for `datasets.load_dataset`."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from vima_schema.atomic import atomic_write_text
from vima_schema.dataset_layout import SPLITS, config_name, list_shards, shard_rows

CARD_FILE = "README.md"


def write_card(root: Path, title: str = "VIMA episodes") -> Path:
    """(Re)write `root/README.md` listing every config found under `root`; return its path."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    patterns: dict[str, dict[str, str]] = defaultdict(dict)
    for shard in list_shards(root):
        rows, size = shard_rows(shard.path), shard.path.stat().st_size
        one = config_name(shard.variant, shard.stage, shard.task)
        every = config_name(shard.variant, shard.stage)
        for name, task_glob in ((one, shard.task), (every, "*")):
            counts[name][shard.split][0] += rows
            counts[name][shard.split][1] += size
            patterns[name][shard.split] = (
                f"{shard.variant}/{shard.stage}/{task_glob}/{shard.split}-*.parquet"
            )
    yaml = ["---", "license: cc-by-4.0", "task_categories:", "- robotics", "tags:", "- vima"]
    yaml.append("configs:")
    for name in sorted(patterns):
        yaml += [f"- config_name: {name}", "  data_files:"]
        for split in sorted(patterns[name], key=_split_order):
            yaml += [f"  - split: {split}", f"    path: {patterns[name][split]}"]
    yaml.append("---")
    table = ["| config | split | episodes | bytes | bytes/episode |", "|---|---|---:|---:|---:|"]
    for name in sorted(counts):
        for split in sorted(counts[name], key=_split_order):
            rows, size = counts[name][split]
            per = size // rows if rows else 0
            table.append(f"| `{name}` | {split} | {rows:,} | {size:,} | {per:,} |")
    body = [
        f"# {title}",
        "",
        "Episodes of VIMA-Data (CC-BY-4.0) and VIMA-Bench (MIT) converted by the `vima-*` "
        "toolchain. Load one task or all tasks of a variant and stage with",
        "",
        "```python",
        "import datasets",
        f'ds = datasets.load_dataset("path/to/this/folder", "{min(patterns, default="name")}")',
        "```",
        "",
        "Columns are documented in the toolchain's `docs/FORMAT.md`. `meta/info.json` gives "
        "the format version and a machine-readable description of every config (features, "
        "array layouts, tokenizer, action bins and statistics); `meta/episodes.parquet` indexes "
        "every episode (config, split, shard, row, steps, objects, prompt length, seed).",
        "",
        "## Configs",
        "",
        *table,
        "",
    ]
    path = root / CARD_FILE
    atomic_write_text(path, "\n".join(yaml + body))
    return path


def _split_order(split: str) -> tuple[int, str]:
    return (SPLITS.index(split) if split in SPLITS else len(SPLITS), split)
