"""`vima-convert parse`: one file per episode, rerun/overwrite, workers, stdin, duplicates,
corrupt episodes, sharding and usage errors."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from vima_convert.episode_file import (
    FAILURES_FILE,
    encode_episode,
    is_complete,
    read_episode_file,
)
from vima_convert.parse import in_shard
from vima_schema.equality import exactly_equal
from vima_schema.reader import read_episode
from vima_schema.record import record_to_episode

from .conftest import (
    CORPUS_EPISODES,
    GENERATED_SAMPLES,
    RAW_SAMPLES,
    RunCli,
    copy_tree,
    parsed_files,
)

_SUMMARY = re.compile(r"(\d+) written, (\d+) already done, (\d+) failed")


def counts(err: str) -> tuple[int, int, int]:
    """(written, already done, failed) from the summary line of a parse run."""
    found = _SUMMARY.findall(err)
    assert len(found) == 1, err
    written, skipped, failed = found[0]
    return int(written), int(skipped), int(failed)


def expected_name(task: str, index: int) -> str:
    return f"{task}/{task}_{index:06d}.arrow"


def failures(parsed: Path) -> list[dict[str, str]]:
    path = parsed / FAILURES_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_parse_one_file_per_episode_lossless(
    tmp_path: Path, run_cli: RunCli, corpus: Path, corpus_keys: set[tuple[str, int]]
) -> None:
    parsed = tmp_path / "parsed"
    run = run_cli("parse", corpus, "--out", parsed)
    assert run.code == 0, run.err
    assert run.last_line == str(parsed)
    assert counts(run.err) == (CORPUS_EPISODES, 0, 0)
    files = parsed_files(parsed)
    assert set(files) == {expected_name(task, index) for task, index in corpus_keys}
    assert failures(parsed) == []
    for task, index in sorted(corpus_keys):
        path = parsed / expected_name(task, index)
        assert is_complete(path)
        row = read_episode_file(path).to_pylist()[0]
        original = read_episode(corpus / task / f"{index:06d}")
        assert exactly_equal(record_to_episode(row), original), path


def test_parse_rerun_skips_everything(
    tmp_path: Path, run_cli: RunCli, corpus: Path, clean_parsed: Path
) -> None:
    parsed = copy_tree(clean_parsed, tmp_path / "parsed")
    before = {p: p.stat().st_mtime_ns for p in parsed.glob("*/*.arrow")}
    run = run_cli("parse", corpus, "--out", parsed)
    assert run.code == 0, run.err
    assert run.last_line == str(parsed)
    assert counts(run.err) == (0, CORPUS_EPISODES, 0)
    assert {p: p.stat().st_mtime_ns for p in parsed.glob("*/*.arrow")} == before
    assert parsed_files(parsed) == parsed_files(clean_parsed)


def test_parse_overwrite_redoes_everything(
    tmp_path: Path, run_cli: RunCli, corpus: Path, clean_parsed: Path
) -> None:
    parsed = copy_tree(clean_parsed, tmp_path / "parsed")
    # A complete but stale file: plain resume keeps it, --overwrite replaces it.
    stale, other = sorted(parsed.glob("twist/*.arrow"))[:2]
    stale.write_bytes(other.read_bytes())
    run = run_cli("parse", corpus, "--out", parsed)
    assert counts(run.err) == (0, CORPUS_EPISODES, 0)
    assert stale.read_bytes() == other.read_bytes()
    run = run_cli("parse", corpus, "--out", parsed, "--overwrite")
    assert run.code == 0, run.err
    assert run.last_line == str(parsed)
    assert counts(run.err) == (CORPUS_EPISODES, 0, 0)
    assert parsed_files(parsed) == parsed_files(clean_parsed)


def test_parse_two_workers_byte_identical(
    tmp_path: Path, run_cli: RunCli, corpus: Path, clean_parsed: Path
) -> None:
    parsed = tmp_path / "parsed"
    run = run_cli("parse", corpus, "--out", parsed, "--workers", "2")
    assert run.code == 0, run.err
    assert counts(run.err) == (CORPUS_EPISODES, 0, 0)
    assert parsed_files(parsed) == parsed_files(clean_parsed)


def test_parse_reads_folders_from_stdin(
    tmp_path: Path,
    run_cli: RunCli,
    corpus: Path,
    clean_parsed: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = [corpus / "rotate" / "000006", corpus / "twist" / "000020", corpus / "follow_order"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(map(str, chosen)) + "\n\n"))
    parsed = tmp_path / "parsed"
    run = run_cli("parse", "-", "--out", parsed)
    assert run.code == 0, run.err
    assert run.last_line == str(parsed)
    follow = sorted(int(p.name) for p in (corpus / "follow_order").iterdir())
    wanted = {expected_name("rotate", 6), expected_name("twist", 20)}
    wanted |= {expected_name("follow_order", i) for i in follow}
    assert counts(run.err) == (len(wanted), 0, 0)
    files = parsed_files(parsed)
    assert set(files) == wanted
    assert all(files[name] == parsed_files(clean_parsed)[name] for name in wanted)


def test_parse_duplicate_task_index_is_a_failure(tmp_path: Path, run_cli: RunCli) -> None:
    # vima-bench-generated holds follow_order/000000 and sweep_without_exceeding/000000 too.
    parsed = tmp_path / "parsed"
    run = run_cli("parse", RAW_SAMPLES, GENERATED_SAMPLES, "--out", parsed)
    assert run.code == 1, run.err
    assert run.last_line == str(parsed)
    assert counts(run.err) == (9, 0, 2)
    listed = failures(parsed)
    assert {entry["path"] for entry in listed} == {
        str(GENERATED_SAMPLES / "follow_order" / "000000"),
        str(GENERATED_SAMPLES / "sweep_without_exceeding" / "000000"),
    }
    for entry in listed:
        assert "duplicate" in entry["error"]
        assert str(RAW_SAMPLES) in entry["error"]  # names where the kept copy came from
    # The first root given wins.
    kept = parsed / expected_name("follow_order", 0)
    assert kept.read_bytes() == encode_episode(read_episode(RAW_SAMPLES / "follow_order/000000"))


def test_parse_corrupt_episodes_listed_others_converted(
    tmp_path: Path, run_cli: RunCli, corpus: Path, corpus_keys: set[tuple[str, int]]
) -> None:
    raw = copy_tree(corpus, tmp_path / "raw")
    truncated = raw / "twist" / "000009"
    pickle = truncated / "trajectory.pkl"
    pickle.write_bytes(pickle.read_bytes()[: pickle.stat().st_size // 2])
    missing_frame = raw / "rotate" / "000017"
    (missing_frame / "rgb_top" / "1.jpg").unlink()  # rotate has 1 step: frames 0.jpg and 1.jpg
    parsed = tmp_path / "parsed"
    run = run_cli("parse", raw, "--out", parsed)
    assert run.code == 1, run.err
    assert run.last_line == str(parsed)
    assert counts(run.err) == (CORPUS_EPISODES - 2, 0, 2)
    listed = {entry["path"]: entry for entry in failures(parsed)}
    assert set(listed) == {str(truncated), str(missing_frame)}
    assert "trajectory.pkl" in listed[str(truncated)]["error"]
    assert "rgb_top/" in listed[str(missing_frame)]["error"]
    assert "1.jpg" in listed[str(missing_frame)]["error"]
    assert all(entry["time"] for entry in listed.values())
    for entry in listed.values():  # the cause is kept: exception type and traceback
        assert entry["type"] == "EpisodeError"
        assert entry["traceback"].startswith("Traceback") and "read_episode" in entry["traceback"]
    good = corpus_keys - {("twist", 9), ("rotate", 17)}
    assert set(parsed_files(parsed)) == {expected_name(t, i) for t, i in good}

    # Resume: the bad ones fail again (listed once each: the newest failure), the good ones
    # are skipped.
    (truncated / "trajectory.pkl").write_bytes(b"")
    run = run_cli("parse", raw, "--out", parsed)
    assert run.code == 1
    assert counts(run.err) == (0, CORPUS_EPISODES - 2, 2)
    relisted = {entry["path"]: entry for entry in failures(parsed)}
    assert set(relisted) == set(listed) and len(failures(parsed)) == 2
    assert relisted[str(truncated)]["error"] != listed[str(truncated)]["error"]
    # Once repaired, a rerun converts just those two, and nothing is listed any more.
    for folder in (truncated, missing_frame):
        shutil.rmtree(folder)
        copy_tree(corpus / folder.parent.name / folder.name, folder)
    run = run_cli("parse", raw, "--out", parsed)
    assert run.code == 0, run.err
    assert counts(run.err) == (2, CORPUS_EPISODES - 2, 0)
    assert set(parsed_files(parsed)) == {expected_name(t, i) for t, i in corpus_keys}
    assert not (parsed / "failures.jsonl").exists()


def test_parse_shards_cover_every_episode_once(
    tmp_path: Path,
    run_cli: RunCli,
    corpus: Path,
    corpus_keys: set[tuple[str, int]],
    clean_parsed: Path,
) -> None:
    parsed = tmp_path / "parsed"
    seen: set[str] = set()
    for shard in range(3):
        before = set(parsed_files(parsed)) if parsed.exists() else set()
        run = run_cli("parse", corpus, "--out", parsed, "--shard", f"{shard}/3")
        assert run.code == 0, run.err
        assert run.last_line == str(parsed)
        new = set(parsed_files(parsed)) - before
        written, skipped, failed = counts(run.err)
        assert (written, skipped, failed) == (len(new), 0, 0)  # nothing taken twice
        assert new, f"shard {shard}/3 is empty"
        assert not new & seen
        for task, index in corpus_keys:
            if expected_name(task, index) in new:
                assert in_shard(corpus / task / f"{index:06d}", (shard, 3))
        seen |= new
    assert seen == {expected_name(t, i) for t, i in corpus_keys}
    assert parsed_files(parsed) == parsed_files(clean_parsed)


@pytest.mark.parametrize("shard", ["3/3", "a/b", "1/0", "-1/2", "1", "0/1/2"])
def test_parse_invalid_shard_is_usage_error(
    tmp_path: Path, run_cli: RunCli, corpus: Path, shard: str
) -> None:
    run = run_cli("parse", corpus, "--out", tmp_path / "parsed", "--shard", shard)
    assert run.code == 2
    assert "--shard" in run.err
    assert not (tmp_path / "parsed").exists()


@pytest.mark.parametrize("workers", ["0", "x"])
def test_parse_invalid_workers_is_usage_error(
    tmp_path: Path, run_cli: RunCli, corpus: Path, workers: str
) -> None:
    run = run_cli("parse", corpus, "--out", tmp_path / "parsed", "--workers", workers)
    assert run.code == 2
    assert "--workers" in run.err


def test_parse_missing_raw_is_usage_error(tmp_path: Path, run_cli: RunCli, corpus: Path) -> None:
    missing = tmp_path / "no-such-root"
    run = run_cli("parse", corpus, missing, "--out", tmp_path / "parsed")
    assert run.code == 2
    assert str(missing) in run.err
    assert run.out == ""
    assert parsed_files(tmp_path / "parsed") == {}


def test_parse_alias_task_folder_uses_canonical_name(tmp_path: Path, run_cli: RunCli) -> None:
    # `sweep` is an old folder name of sweep_without_exceeding: same episode identity.
    source = RAW_SAMPLES / "sweep_without_exceeding" / "000000"
    alias = copy_tree(source, tmp_path / "old" / "sweep" / "000000")
    parsed = tmp_path / "parsed"
    run = run_cli("parse", alias.parent.parent, "--out", parsed)
    assert run.code == 0, run.err
    name = expected_name("sweep_without_exceeding", 0)
    assert set(parsed_files(parsed)) == {name}
    assert parsed_files(parsed)[name] == encode_episode(read_episode(source))
    run = run_cli("parse", alias.parent.parent, "--out", parsed)
    assert counts(run.err) == (0, 1, 0)
    run = run_cli("parse", RAW_SAMPLES / "sweep_without_exceeding", alias, "--out", parsed)
    assert run.code == 1
    assert counts(run.err) == (0, 1, 1)
    assert failures(parsed)[-1]["path"] == str(alias)
