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
