"""`--env vima-bench`: the worker protocol against stand-ins of both VIMA-Bench layouts, and a
worker that crashes, stalls or answers garbage never hangs the run.

The stand-ins (`vima_bench_standin/{upstream,cogelot}/vima_bench`) follow the two real APIs and
draw their scenes with vima-sim, so their episodes equal the builtin ones of the same seed. These
tests therefore show the harness's side only (it drives either API as VIMA-Bench's evaluation
does and carries episodes through the protocol unchanged), never that vima-sim agrees with
VIMA-Bench: `test_eval_vima_bench_real.py` checks against a real VIMA-Bench (opt-in,
VIMA_BENCH_PYTHON).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from vima_eval.online.seeds import episode_seed
from vima_eval.online.vima_bench_env import Timeouts, VimaBenchEnv, VimaBenchError
from vima_eval.online.vima_bench_server import ProtocolError, decode_frame, write_frame
from vima_sim.rollout import SEED_STRIDE

from .conftest import RunEval

STANDIN = Path(__file__).parent / "vima_bench_standin"
LAYOUTS = ("upstream", "cogelot")
L1 = "placement_generalization"
ARGS = ("--levels", "L1", "--tasks", "rotate", "--wandb", "disabled")


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`standin(layout)`: put that stand-in on PYTHONPATH; returns its call log file."""

    def use(layout: str) -> Path:
        monkeypatch.setenv(
            "PYTHONPATH", f"{STANDIN / layout}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
        )
        log = tmp_path / f"{layout}.log"
        monkeypatch.setenv("VIMA_BENCH_STANDIN_LOG", str(log))
        return log

    return use


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(folder / "episodes.parquet").to_pylist()
    return sorted(rows, key=lambda row: row["episode"])


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("layout", LAYOUTS)
def test_protocol_drives_both_layouts_as_vima_bench_evaluates(layout: str, standin: Any) -> None:
    log = standin(layout)
    env = VimaBenchEnv(sys.executable, "rotate", L1, "easy")
    try:
        results = []
        for seed in (11, 12, 11):
            obs, info = env.reset(seed=seed)
            assert obs["rgb"]["top"].shape == (3, 128, 256) and obs["ee"] == 0
            assert info["prompt"].startswith("Rotate the {dragged_obj}")
            assert info["meta"]["oracle_max_steps"] == 3 and info["max_steps"] == 5
            assert set(info["prompt_assets"]) == {"dragged_obj"}
            action = env.oracle_action()
            assert action is not None and action["pose0_position"].dtype == np.float32
            if seed == 12:  # the same action, but not the oracle's object: as a policy steps
                action = {key: value.copy() for key, value in action.items()}
            _, _, done, truncated, step_info = env.step(action)
            assert done and not truncated and step_info["success"]
            results.append((info["prompt"], sorted(info["meta"]["obj_id_to_info"])))
        assert results[0] == results[2] != results[1]  # a scene is a function of its seed
    finally:
        env.close()
    assert env.proc.returncode == 0
    calls = _calls(log)
    # one env and one task object for (task, partition), difficulty set once, seeded per episode
    events = Counter(c["event"] for c in calls if c["event"] != "step")
    assert events == {"make": 1, "set_task": 1, "set_difficulty": 1, "seed": 3, "reset": 3}
    # the oracle's actions step as VIMA-Bench's oracle scripts do, a policy's as its evaluation
    steps = [c["skip_oracle"] for c in calls if c["event"] == "step" and not c["none"]]
    assert steps == [False, True, False]
    assert len({c["task_id"] for c in calls if "task_id" in c}) == 1
    assert [c["seed"] for c in calls if c["event"] == "reset"] == [11, 12, 11]


def test_upstream_layout_cannot_run_another_difficulty(standin: Any) -> None:
    standin("upstream")
    env = VimaBenchEnv(sys.executable, "rotate", L1, "distracting")
    try:
        with pytest.raises(VimaBenchError, match=r"sets difficulty 'easy'.*'distracting'"):
            env.reset(seed=1)
    finally:
        env.close()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_protocol_carries_episodes_unchanged_through_each_stand_in_layout(
    layout: str, tmp_path: Path, run_eval: RunEval, standin: Any
) -> None:
    """An oracle run through a stand-in records the builtin run's episodes (seeds, prompts,
    steps, successes): the worker and protocol lose or change nothing. The stand-in is vima-sim,
    so the two are equal by construction: no evidence that vima-sim agrees with VIMA-Bench."""
    standin(layout)
    bench = run_eval("oracle", *ARGS, "--episodes", "2", "--env", "vima-bench",
                     "--env-python", sys.executable, "--out", tmp_path / "bench")  # fmt: skip
    assert bench.code == 0, bench.err
    builtin = run_eval("oracle", *ARGS, "--episodes", "2", "--out", tmp_path / "builtin")
    assert builtin.code == 0, builtin.err
    keep = ("episode", "episode_seed", "success", "steps", "prompt")
    rows = [{k: r[k] for k in keep} for r in _rows(tmp_path / "bench")]
    assert rows == [{k: r[k] for k in keep} for r in _rows(tmp_path / "builtin")]
    assert len(rows) == 2 and all(r["success"] for r in rows)
    assert {r["checkpoint"] for r in _rows(tmp_path / "bench")} == {"oracle@vima-bench"}


def _errors(folder: Path) -> list[dict[str, str]]:
    return json.loads((folder / "errors.json").read_text())


def test_worker_crash_is_retried_in_a_new_worker_then_an_error_row_with_its_stderr(
    tmp_path: Path, run_eval: RunEval, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = standin("cogelot")
    monkeypatch.setenv("VIMA_BENCH_STANDIN_CRASH_SEED", str(episode_seed(0, 1, "rotate", 1)))
    run = run_eval("oracle", *ARGS, "--episodes", "2", "--env", "vima-bench",
                   "--env-python", sys.executable, "--out", tmp_path / "crash")  # fmt: skip
    assert run.code == 1
    assert "L1/rotate/1" in run.err and "died during reset" in run.err
    assert [r["episode"] for r in _rows(tmp_path / "crash")] == ["L1/rotate/0"]
    (error,) = _errors(tmp_path / "crash")
    assert error["episode"] == "L1/rotate/1"
    assert "exit code 3" in error["problem"] and "stand-in: crashing on seed" in error["problem"]
    crashed = [c["pid"] for c in _calls(log) if c["event"] == "reset"
               and c["seed"] == episode_seed(0, 1, "rotate", 1)]  # fmt: skip
    assert len(crashed) == 2 and crashed[0] != crashed[1]  # the retry ran in a new worker


def test_worker_that_never_answers_times_out_twice_and_the_run_ends(
    tmp_path: Path, run_eval: RunEval, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIMA_EVAL_ENV_TIMEOUT", "0.5")
    sleeper = _script(tmp_path, "sleeper", "exec sleep 1000")
    run = run_eval("oracle", *ARGS, "--episodes", "1", "--env", "vima-bench",
                   "--env-python", sleeper, "--out", tmp_path / "stall")  # fmt: skip
    assert run.code == 1
    (error,) = _errors(tmp_path / "stall")
    assert "gave no answer to reset within 1.5 s" in error["problem"]
    assert "exit code -9" in error["problem"]  # killed, not left behind
    assert not (tmp_path / "stall" / "episodes.parquet").exists() or not _rows(tmp_path / "stall")


def test_worker_stalling_mid_episode_is_killed_and_the_other_episodes_run(
    tmp_path: Path, run_eval: RunEval, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin("upstream")
    monkeypatch.setenv("VIMA_EVAL_ENV_TIMEOUT", "2")  # 6 s for the start, 2 s for a step
    monkeypatch.setenv("VIMA_BENCH_STANDIN_STALL_SEED", str(episode_seed(0, 1, "rotate", 0)))
    run = run_eval("oracle", *ARGS, "--episodes", "2", "--workers", "2", "--env", "vima-bench",
                   "--env-python", sys.executable, "--out", tmp_path / "stall")  # fmt: skip
    assert run.code == 1, run.err
    assert [r["episode"] for r in _rows(tmp_path / "stall")] == ["L1/rotate/1"], run.err
    (error,) = _errors(tmp_path / "stall")
    assert error["episode"] == "L1/rotate/0"
    assert "gave no answer to step within 2 s" in error["problem"]


def test_worker_writing_junk_is_detected_at_once(tmp_path: Path, run_eval: RunEval) -> None:
    junk = _script(tmp_path, "junk.sh", 'echo "Python 3.11.7 (main)"; exec sleep 1000')
    run = run_eval("oracle", *ARGS, "--episodes", "1", "--env", "vima-bench",
                   "--env-python", junk, "--out", tmp_path / "junk")  # fmt: skip
    assert run.code == 1
    (error,) = _errors(tmp_path / "junk")
    assert (
        "answered reset with garbage: not a frame: the stream starts with b'Pyth'"
        in (error["problem"])
    )


def test_worker_answering_a_malformed_observation_is_an_error_row(
    tmp_path: Path, run_eval: RunEval, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin("cogelot")
    monkeypatch.setenv("VIMA_BENCH_STANDIN_GARBAGE_SEED", str(episode_seed(0, 1, "rotate", 0)))
    run = run_eval("oracle", *ARGS, "--episodes", "1", "--env", "vima-bench",
                   "--env-python", sys.executable, "--out", tmp_path / "garbage")  # fmt: skip
    assert run.code == 1
    (error,) = _errors(tmp_path / "garbage")
    assert "obs/rgb/front is uint8 (3, 7, 256), not uint8 (3, 128, 256)" in error["problem"]


def test_frames_reject_garbage_and_round_trip() -> None:
    import io

    stream = io.BytesIO()
    arrays = {"a": np.arange(6, dtype=np.uint8).reshape(2, 3), "b": np.float32([1.5])}
    write_frame(stream, {"ok": True, "x": [1, 2]}, arrays)
    data = stream.getvalue()

    def reader(raw: bytes) -> Any:
        source = io.BytesIO(raw)

        def read_exact(size: int) -> bytes:
            chunk = source.read(size)
            if len(chunk) < size:
                raise EOFError
            return chunk

        return read_exact

    header, back = decode_frame(reader(data))
    assert header == {"ok": True, "x": [1, 2]}
    assert all(np.array_equal(back[k], arrays[k]) and back[k].dtype == arrays[k].dtype
               for k in arrays)  # fmt: skip
    with pytest.raises(ProtocolError, match="starts with"):
        decode_frame(reader(b"[INFO] 17 tasks loaded\n"))
    with pytest.raises(ProtocolError, match="is not JSON"):
        decode_frame(reader(b"\x00\x00\x00\x03abc"))
    with pytest.raises(ProtocolError, match="not a JSON object"):
        decode_frame(reader(b"\x00\x00\x00\x02[]"))
    bad = json.dumps({"arrays": [["a", "|O", [1]]]}).encode()
    with pytest.raises(ProtocolError, match="bad array entry"):
        decode_frame(reader(len(bad).to_bytes(4, "big") + bad))
    with pytest.raises(EOFError):
        decode_frame(reader(data[:-3]))


def test_timeouts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Timeouts().of("reset", first=True) == 180 and Timeouts().of("step", first=False) == 60
    monkeypatch.setenv("VIMA_EVAL_ENV_TIMEOUT", "2")
    assert Timeouts.from_environment().of("oracle", first=False) == 1
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv("VIMA_EVAL_ENV_TIMEOUT", bad)
        with pytest.raises(ValueError, match="VIMA_EVAL_ENV_TIMEOUT"):
            Timeouts.from_environment()


def test_a_reset_that_raises_moves_to_the_next_seed_like_vima_bench(
    tmp_path: Path, run_eval: RunEval, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin("cogelot")
    seed = episode_seed(0, 1, "rotate", 0)
    monkeypatch.setenv("VIMA_BENCH_STANDIN_RAISE_SEED", str(seed))
    run = run_eval("oracle", *ARGS, "--episodes", "1", "--env", "vima-bench",
                   "--env-python", sys.executable, "--out", tmp_path / "raise")  # fmt: skip
    assert run.code == 0, run.err
    (row,) = _rows(tmp_path / "raise")
    assert row["episode_seed"] == seed + SEED_STRIDE and row["success"]
