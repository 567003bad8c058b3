"""A `vima-eval online` worker's environments: few kept open, rebuilt when asked again, and the
plan hands out jobs pair by pair so that one open environment serves most of them."""

from __future__ import annotations

from vima_eval.online.plan import Job, plan_jobs
from vima_eval.online.worker import ENVIRONMENTS_KEPT, Worker, WorkerConfig


def test_a_worker_keeps_few_environments_open() -> None:
    """A run over many pairs does not keep one environment per pair: beyond
    ENVIRONMENTS_KEPT the least recently used one is closed, and asked again it is rebuilt."""
    worker = Worker(WorkerConfig(checkpoint=None, difficulty="easy", seed=0))
    jobs = [Job(1, task, 0, 3, "noop") for task in ("rotate", "novel_noun", "visual_manipulation")]
    try:
        first = worker.env(jobs[0])
        worker.env(jobs[1])
        assert worker.env(jobs[0]) is first  # kept, and now the most recently used
        worker.env(jobs[2])  # closes novel_noun's, the least recently used
        assert len(worker.envs) == ENVIRONMENTS_KEPT == 2
        assert set(worker.envs) == {("rotate", jobs[0].partition),
                                    ("visual_manipulation", jobs[2].partition)}  # fmt: skip
        assert worker.env(jobs[0]) is first
        assert worker.env(jobs[1]) is not None and ("rotate", jobs[0].partition) in worker.envs
    finally:
        worker.close()
    assert worker.envs == {}


def test_jobs_come_pair_by_pair() -> None:
    jobs = plan_jobs([(1, "rotate"), (2, "rotate")], range(2), ["noop", "reworded"], 0, record=1)
    pairs = [(job.level, job.task) for job in jobs]
    assert pairs == [(1, "rotate")] * 4 + [(2, "rotate")] * 4
    assert [job.perturbation for job in jobs[:4]] == ["noop", "noop", "reworded", "reworded"]
    assert [job.record for job in jobs[:4]] == [True, False, True, False]
