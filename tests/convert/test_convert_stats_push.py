"""`vima-convert stats` (JSON, table, PNG plot) and `vima-convert push` failing fast offline."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import huggingface_hub.constants
import pytest
from vima_schema.enums import Task

from .conftest import CORPUS_EPISODES, RunCli, rows_by_split

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_stats_json_counts_match_dataset(run_cli: RunCli, clean_dataset: Path) -> None:
    run = run_cli("stats", clean_dataset, "--json", "--config", "original--parsed")
    assert run.code == 0, run.err
    stats = json.loads(run.last_line)
    assert stats["episodes"] == CORPUS_EPISODES
    expected: Counter[tuple[str, str]] = Counter()
    for split, rows in rows_by_split(clean_dataset, "original--parsed").items():
        expected.update((Task(row["task"]).name, split) for row in rows)
    found = {(row["task"], row["split"]): row["episodes"] for row in stats["per_task_split"]}
    assert found == dict(expected)
    per_task: Counter[str] = Counter()
    for (task, _split), count in found.items():
        per_task[task] += count
    assert per_task["follow_order"] == 6
    assert per_task["twist"] == 3
    assert sum(stats["steps_histogram"].values()) == CORPUS_EPISODES
    assert sum(stats["objects_histogram"].values()) == CORPUS_EPISODES


def test_stats_one_task_config(run_cli: RunCli, clean_dataset: Path) -> None:
    run = run_cli("stats", clean_dataset, "--json", "--config", "original--parsed--twist")
    assert run.code == 0, run.err
    stats = json.loads(run.last_line)
    assert stats["episodes"] == 3
    assert {row["task"] for row in stats["per_task_split"]} == {"twist"}


def test_stats_table_and_plot(tmp_path: Path, run_cli: RunCli, clean_dataset: Path) -> None:
    plot = tmp_path / "figures" / "stats.png"
    run = run_cli("stats", clean_dataset, "--plot", plot)
    assert run.code == 0, run.err
    assert run.last_line == str(plot)
    assert f"total episodes: {CORPUS_EPISODES}" in run.out
    assert "twist" in run.out
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("config", ["original--parsed--nope", "bogus"])
def test_stats_unknown_config_is_usage_error(
    run_cli: RunCli, clean_dataset: Path, config: str
) -> None:
    run = run_cli("stats", clean_dataset, "--config", config)
    assert run.code == 2
    assert config in run.err


def test_stats_not_a_dataset_is_usage_error(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli("stats", tmp_path)
    assert run.code == 2
    assert "no parsed shards" in run.err


@pytest.fixture
def no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hugging Face token anywhere: environment cleared, empty HF_HOME, no token file."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HOME", str(tmp_path / "hf-home"))
    token_path = str(tmp_path / "hf-home" / "token")
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", token_path)


@pytest.mark.usefixtures("no_token")
def test_push_without_token_fails_fast(run_cli: RunCli, clean_dataset: Path) -> None:
    run = run_cli("push", clean_dataset, "--repo-id", "someone/vima")
    assert run.code == 2
    assert "token" in run.err
    assert "HF_TOKEN" in run.err
    assert run.out == ""


@pytest.mark.usefixtures("no_token")
def test_push_not_a_dataset_folder(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli("push", tmp_path, "--repo-id", "someone/vima")
    assert run.code == 2
    assert "not a dataset folder" in run.err
    assert run.out == ""


def test_push_unreachable_hub_fails_fast(
    run_cli: RunCli, clean_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    run = run_cli("push", clean_dataset, "--repo-id", "someone/vima")
    assert run.code == 2
    assert "cannot reach the Hugging Face Hub" in run.err
    assert run.out == ""
