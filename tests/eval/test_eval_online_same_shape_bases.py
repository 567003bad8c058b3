"""`vima-eval online` / `oracle --same-shape-bases`: the builtin simulator's same_shape variant
reaches the workers' environments, is pinned in run.json (older runs read as cogelot) and is
refused where VIMA-Bench's checkout decides."""

from __future__ import annotations

import json
from pathlib import Path

from vima_eval.online.plan import Job
from vima_eval.online.worker import Worker, WorkerConfig

from .conftest import RunEval

ARGS = ("oracle", "--levels", "L1", "--tasks", "same_shape", "--episodes", "1",
        "--wandb", "disabled")  # fmt: skip


def test_the_workers_build_the_chosen_variant() -> None:
    job = Job(1, "same_shape", 0, 3, "noop")
    for bases in ("cogelot", "upstream"):
        worker = Worker(WorkerConfig(checkpoint=None, difficulty="easy", seed=0,
                                     same_shape_bases=bases))  # fmt: skip
        env = worker.env(job)
        try:
            assert env.task.same_shape_bases == bases
        finally:
            env.close()


def test_the_variant_is_pinned_and_resumed(tmp_path: Path, run_eval: RunEval) -> None:
    out = tmp_path / "run"
    first = run_eval(*ARGS, "--same-shape-bases", "upstream", "--out", out)
    assert first.code == 0, first.err
    assert json.loads((out / "run.json").read_text())["same_shape_bases"] == "upstream"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["same_shape_bases"] == "upstream"
    other = run_eval(*ARGS, "--out", out, "--resume")
    assert other.code == 2 and "same_shape_bases: 'upstream' -> 'cogelot'" in other.err
    # a run.json from before the option: the builtin simulator's bases were cogelot's
    stored = json.loads((out / "run.json").read_text())
    del stored["same_shape_bases"]
    (out / "run.json").write_text(json.dumps(stored))
    legacy = run_eval(*ARGS, "--out", out, "--resume")
    assert legacy.code == 0 and "0 episodes, 1 already done" in legacy.err
    assert json.loads((out / "run.json").read_text())["same_shape_bases"] == "cogelot"


def test_the_variant_is_refused_where_it_does_not_apply(tmp_path: Path, run_eval: RunEval) -> None:
    python = tmp_path / "python"
    python.write_text("")
    cases = [
        (("--same-shape-bases", "scaled"), "must be one of cogelot, upstream"),
        (("--same-shape-bases", "upstream", "--env", "vima-bench", "--env-python", python),
         "the checkout decides"),
    ]  # fmt: skip
    for extra, message in cases:
        result = run_eval(*ARGS, *extra, "--out", tmp_path / "out")
        assert result.code == 2 and message in result.err, (extra, result.err)
    assert not (tmp_path / "out").exists()
