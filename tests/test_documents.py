"""Measured figures in the documents come from recorded outputs (issue 27, item 1): each
generated block of a document equals what its script makes from the recorded file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def _block(document: Path, marker: str) -> str:
    found = re.search(
        rf"<!-- {marker}:begin[^>]*-->\n(.*?)<!-- {marker}:end -->", document.read_text(), re.S
    )
    assert found, f"{document.name} has no {marker} block"
    return found.group(1)


def test_readme_oracle_table_is_the_recorded_check() -> None:
    """README's oracle table = scripts/oracle_table.py of docs/measurements/oracle-check.jsonl
    (the output of `vima-sim check --all --seeds 20`)."""
    table = load_script("scripts/oracle_table.py").oracle_table()
    assert _block(ROOT / "README.md", "oracle-table") == table
    assert table.count("\n") == 2 + 17  # header, rule, every task


TABLES = load_script("scripts/document_tables.py")


@pytest.mark.parametrize("marker", sorted(TABLES.BLOCKS))
def test_generated_blocks_are_their_records(marker: str) -> None:
    """Every generated block (scripts/document_tables.py's BLOCKS) = its generator's output now:
    README's and SIMULATOR.md's oracle tables, PERFORMANCE.md's import table, CHECKPOINTS.md's
    closed-loop table."""
    document, generate = TABLES.BLOCKS[marker]
    assert _block(ROOT / document, marker) == generate()


def test_refresh_finds_nothing_to_rewrite() -> None:
    """`python scripts/document_tables.py --check` would exit 0."""
    assert TABLES.refresh(check=True) == []


def test_closed_loop_table_refuses_wrong_totals(tmp_path: Path) -> None:
    record = tmp_path / "closed-loop-vima-1.json"
    row = {"task": "rotate", "first_difference": 2}
    record.write_text(json.dumps({"episodes": 1, "identical": 1, "results": [row]}))
    with pytest.raises(ValueError, match="totals disagree"):
        TABLES.closed_loop_table((record,))


def test_oracle_table_refuses_mixed_seed_counts(tmp_path: Path) -> None:
    record = tmp_path / "check.jsonl"
    rows = [
        {"task": "rotate", "partition": level, "seeds": seeds, "success": 1.0}
        for level, seeds in (("placement_generalization", 20), ("combinatorial_generalization", 5))
    ]
    record.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match="different seed counts"):
        load_script("scripts/oracle_table.py").oracle_table(record)


DESCRIPTIVE = {  # headers of tables that state no measured figure
    "| output | where |",
    "| package | command | what it does |",
    "| package | owns | may import | torch |",
    "| command | input | output (last stdout line) |",
    "| checkpoint | cfg (embed, layers, self heads, cross heads) | keys | decoder | all parameters "
    "(T5 included) | preset |",
    "| part | VIMA (vimalabs/VIMA at 8449837) | here |",
    "| part | VIMA | CoGeLoT (family `cogelot`) |",
    "| CoGeLoT (less `policy.`) | here |",
    "| entry | content |",
    "| | VIMA-Data (released, `data/samples/vima-raw`) | current VIMA-Bench "
    "(`data/samples/vima-bench-generated`) |",
    "| field | from | type |",
    "| global(s) | resolves to |",
    "| column | type | meaning and decoding |",
    "| key | content |",
    "| column | type | meaning |",
    "| name | where | tasks | what it does |",
    "| perturbation | prompt |",
    "| task | end effector | levels | objects | oracle steps | success rule |",
    "| presets | prompt encoder | what they are |",
    "| reference behaviour | here | why |",
    "| what | asserted bound |",
}


def handwritten_tables(document: Path) -> list[str]:
    """Tables of `document` that are neither generated (inside a generated block) nor
    descriptive."""
    lines = document.read_text().splitlines()
    found, inside = [], False
    for i, line in enumerate(lines[:-1]):
        if re.match(r"<!-- [\w-]+:(begin \(generated|end)", line):
            inside = ":begin" in line
        line = line.strip()  # a table indented in a list item is still a table
        if not line.startswith("|") or not re.fullmatch(r"\|[-:| ]+\|", lines[i + 1].strip()):
            continue
        generated = inside
        if not (generated or line in DESCRIPTIVE):
            found.append(f"{document.name}:{i + 1}: {line[:60]}")
    return found


def test_every_measured_table_is_generated() -> None:
    """A table of measured figures in README.md or docs/*.md is generated from a record under
    docs/measurements/ (scripts/document_tables.py): none is written by hand."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert [name for document in documents for name in handwritten_tables(document)] == []
