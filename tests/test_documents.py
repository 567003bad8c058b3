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


def test_oracle_table_refuses_mixed_seed_counts(tmp_path: Path) -> None:
    record = tmp_path / "check.jsonl"
    rows = [
        {"task": "rotate", "partition": level, "seeds": seeds, "success": 1.0}
        for level, seeds in (("placement_generalization", 20), ("combinatorial_generalization", 5))
    ]
    record.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match="different seed counts"):
        load_script("scripts/oracle_table.py").oracle_table(record)
