"""Measured figures in the documents come from recorded outputs (issue 27, item 1): each
generated block of a document equals what its script makes from the recorded file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from repo_scripts import load_script
from vima_eval.statistics import Difference, newcombe_difference, paired_counts

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


def _p(value: float) -> float:
    """A p-value as the documents print it (two significant digits)."""
    return float(f"{value:.2g}")


def _checked_row(diff: Difference, cells: tuple[str, ...]) -> None:
    """Difference, its 95 % interval, test p, TOST verdict and p as a row states them."""
    estimate, low, high, p_value, verdict, tost = cells
    stated = (int(estimate), float(low), float(high))
    assert stated == (
        round(100 * diff.estimate),
        round(100 * diff.low, 1),
        round(100 * diff.high, 1),
    )
    assert float(p_value) == _p(diff.p_value) and float(tost) == _p(diff.equivalence_p)
    assert verdict == ("shown" if diff.equivalent else "not shown")


def test_simulator_comparison_verdicts_follow_from_their_counts() -> None:
    """SIMULATOR.md's "Same policy, both simulators" tables (runs not recorded in the repository):
    the difference intervals, p-values and TOST verdicts are those of the counts the rows give
    (20 episodes: independent samples; 100 per level: the paired 2 x 2 table that the rates and
    the same-outcome count determine)."""
    text = (ROOT / "docs" / "SIMULATOR.md").read_text()
    small = re.findall(
        r"^\| visual_manipulation, L1 \| (\d+)/(\d+) = [^|]*\| (\d+)/(\d+) = [^|]*\| "
        r"([+-]?\d+) \[([-\d.]+), ([-\d.]+)\] \| ([\d.]+) \| (not shown|shown), p = ([\d.]+) \|$",
        text, re.M,
    )  # fmt: skip
    assert len(small) == 1
    a, a_n, b, b_n, *cells = small[0]
    _checked_row(newcombe_difference(int(a), int(a_n), int(b), int(b_n)), tuple(cells))
    rows = re.findall(
        r"^\| visual_manipulation, L\d \| (\d+) % [^|]*\| (\d+) % [^|]*\| ([+-]\d+) "
        r"\[([-\d.]+), ([-\d.]+)\], p = ([\d.]+) \| (\d+) / 100 \| "
        r"(not shown|shown), p = ([\d.]+) \|$",
        text, re.M,
    )  # fmt: skip
    assert len(rows) == 3
    for a, b, *cells, same, verdict, tost in rows:
        gap, discordant = int(a) - int(b), 100 - int(same)
        only_a, only_b = (discordant + gap) // 2, (discordant - gap) // 2
        both = int(a) - only_a
        diff = paired_counts(both, only_a, only_b, 100 - both - discordant)
        _checked_row(diff, (*cells, verdict, tost))


LABEL = "not regenerated"  # of a table measured before docs/measurements kept its record
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


def unlabelled_tables(document: Path) -> list[str]:
    """Tables of `document` that are neither generated (a block's begin marker right above),
    descriptive, nor labelled as not regenerated in the 8 lines above their header."""
    lines = document.read_text().splitlines()
    found = []
    for i, line in enumerate(lines[:-1]):
        if not line.startswith("|") or not re.fullmatch(r"\|[-:| ]+\|", lines[i + 1]):
            continue
        generated = i > 0 and re.match(r"<!-- [\w-]+:begin \(generated", lines[i - 1])
        labelled = any(LABEL in above for above in lines[max(0, i - 8) : i])
        if not (generated or labelled or line in DESCRIPTIVE):
            found.append(f"{document.name}:{i + 1}: {line[:60]}")
    return found


def test_every_measured_table_is_generated_or_labelled() -> None:
    """A table of measured figures in README.md or docs/*.md is generated from a record under
    docs/measurements/ (scripts/document_tables.py) or says that it is not regenerated."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert [name for document in documents for name in unlabelled_tables(document)] == []
