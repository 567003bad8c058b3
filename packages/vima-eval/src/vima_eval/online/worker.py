"""Worker processes: each owns its simulators and its policy (the checkpoint's memory-mapped
weights, shared with the other workers' through the page cache) or, with `policy_server`, a
connection to the one policy process (`vima_eval.online.policy_server`), and runs the episodes
it is sent.

`WorkerPool.run` hands out one job at a time per worker (`vima_schema.processes`). A job whose
episode raises, or whose worker process dies (a simulator crash, SIGKILL), is retried once on a
fresh simulator (a dead worker is replaced); a second failure is reported to `on_error` and the
run goes on. An environment error (a full disk, a read-only run folder) is no episode's fault:
it stops the run (`OutputError`), as does a policy server that went away
(`PolicyServerError`). Every worker uses one torch thread, and every episode depends only on
its job, so results do not depend on the number of workers.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vima_schema.processes import Died, ProcessPool, default_context, serve
from vima_schema.runner import OutputError, environment_problem

from vima_eval.online.plan import Job

if TYPE_CHECKING:
    from vima_eval.online.policy_server import ServerAddress

#: Attempts per job (the first try and one retry).
ATTEMPTS = 2


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs to build its agent and environments."""

    checkpoint: str | None  # None: the simulator's oracle acts
    difficulty: str
    seed: int  # perturbation seed
    device: str = "cpu"
    env: str = "builtin"  # or "vima-bench"
    env_python: str | None = None
    same_shape_bases: str = "cogelot"  # the builtin simulator's variant (`SameShapeBases`)
    time_limit: str = "vima"
    videos: str | None = None  # folder for GIFs of jobs marked `record`
    recordings: str | None = None  # run folder whose `recordings/` keeps jobs marked `record`
    patch_image_mask: str = "mask"  # what the visual masks do to patch models (or "ignore")
    out: str | None = None  # the run folder: an environment error writing there stops the run
    policy_server: bool = False  # one policy process answers every worker (`policy_server`)
    server: ServerAddress | None = None  # where it listens (set by `WorkerPool.run`)


@dataclass
class Done:
    """A finished episode as a worker reports it."""

    job: Job
    seed: int
    success: bool
    failure: bool
    steps: int
    minimum_steps: int | None
    prompt: str
    timing: dict[str, float]
    applies: bool = True  # the perturbation changed the model's input


#: Environments a worker keeps open (the most recently used): jobs come pair by pair, so one is
#: in use at a time; each holds simulator clients and textures (a VIMA-Bench one, a server
#: process of its own), so a run over every pair must not keep one per pair.
ENVIRONMENTS_KEPT = 2


class Worker:
    """The in-process side: environments per (task, partition) and agents per perturbation."""

    def __init__(self, config: WorkerConfig) -> None:
        import torch

        torch.set_num_threads(1)
        self.config = config
        self.envs: dict[tuple[str, str], Any] = {}  # least recently used first
        self.agents: dict[str, Any] = {}
        self.model: Any = None  # the policy (here or the server's), shared by every agent

    def env(self, job: Job) -> Any:
        """The environment of the job's task and level (created on first use; beyond
        `ENVIRONMENTS_KEPT`, the least recently used one is closed: episodes carry no state
        from one to the next, so a new environment gives the same episodes)."""
        key = (job.task, job.partition)
        if key in self.envs:
            self.envs[key] = self.envs.pop(key)  # most recently used last
        else:
            while len(self.envs) >= ENVIRONMENTS_KEPT:
                self.envs.pop(next(iter(self.envs))).close()
            if self.config.env == "vima-bench":
                from vima_eval.online.vima_bench_env import VimaBenchEnv

                assert self.config.env_python is not None
                self.envs[key] = VimaBenchEnv(
                    self.config.env_python, job.task, job.partition, self.config.difficulty
                )
            else:
                from vima_sim.env import VimaEnv

                self.envs[key] = VimaEnv(job.task, job.partition, self.config.difficulty,
                                         same_shape_bases=self.config.same_shape_bases)  # fmt: skip
        return self.envs[key]

    def agent(self, perturbation: str) -> Any:
        """The agent acting under `perturbation` (one policy, or one connection to the policy
        server, shared by all of them)."""
        if perturbation not in self.agents:
            from vima_schema.perturbations import get_perturbation

            from vima_eval.model_input import PatchImageMask
            from vima_eval.online.agents import OracleAgent, PolicyAgent

            if self.config.checkpoint is None:
                self.agents[perturbation] = OracleAgent()
            else:
                if self.model is None and self.config.server is not None:
                    from vima_eval.online.policy_server import RemoteModel

                    self.model = RemoteModel(self.config.server)
                agent = PolicyAgent(
                    Path(self.config.checkpoint),
                    get_perturbation(perturbation),
                    self.config.seed,
                    self.config.device,
                    patch_image_mask=PatchImageMask(self.config.patch_image_mask),
                    model=self.model,
                )
                self.model = agent.model
                self.agents[perturbation] = agent
        return self.agents[perturbation]

    def run(self, job: Job) -> Done:
        """Run one episode (the job's environment is dropped if it raises)."""
        from vima_eval.online.episode import run_episode

        env = self.env(job)
        try:
            out = run_episode(env, self.agent(job.perturbation), job, self.config.time_limit)
        except BaseException:
            self.envs.pop((job.task, job.partition), None)
            with contextlib.suppress(Exception):
                env.close()
            raise
        if job.record and self.config.recordings:
            from vima_eval.online.recording import write_recording

            write_recording(Path(self.config.recordings), job, out)
        if job.record and self.config.videos:
            from vima_eval.online.recording import video_name
            from vima_eval.online.video import write_episode_gif

            name = video_name(job)
            verdict = "success" if out.success else ("failure" if out.failure else "no success")
            write_episode_gif(
                Path(self.config.videos) / name,
                out.frames,
                out.prompt,
                f"{job.key} seed {out.seed}: {verdict} after {out.steps} actions",
            )
        return Done(job, out.seed, out.success, out.failure, out.steps, out.minimum_steps,
                    out.prompt, out.timing, out.applies)  # fmt: skip

    def answer(self, job: Job) -> tuple[str, Any]:
        """("done", Done), ("error", text) for a failed episode, ("stop", text) for an
        environment error (a full disk, a read-only run folder) or ("server", text) for a
        policy server that went away, both of which stop the run."""
        from vima_eval.online.policy_server import PolicyServerError

        try:
            return "done", self.run(job)
        except PolicyServerError as error:
            return "server", str(error)
        except Exception as error:
            problem = environment_problem(error, Path(self.config.out) if self.config.out else None)
            if problem is not None:
                return "stop", str(problem)
            return "error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"

    def close(self) -> None:
        """Close every environment."""
        for env in self.envs.values():
            env.close()
        self.envs.clear()


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """Process entry point: answer each job (`Worker.answer`) until the pool stops it."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    worker = Worker(config)
    try:
        serve(conn, worker.answer)
    finally:
        worker.close()


class WorkerPool:
    """N worker processes running jobs with one retry per failed job.

    Workers are forked where the platform allows it, after the parent has imported the
    simulator and the model code (importing torch and Lightning takes seconds per process);
    elsewhere they are spawned.
    """

    def __init__(self, config: WorkerConfig, workers: int) -> None:
        if workers < 1:
            raise ValueError("--workers must be >= 1")
        self.config = config
        self.size = workers
        self.context = default_context()
        if self.context.get_start_method() == "fork":
            import vima_sim.env  # noqa: F401

            if config.checkpoint is not None:
                import vima_eval.online.agents
                import vima_eval.online.policy_server  # noqa: F401

    def run(
        self,
        jobs: list[Job],
        on_done: Callable[[Done], None],
        on_error: Callable[[Job, str], None],
    ) -> None:
        """Run `jobs`; `on_done` / `on_error` are called in the parent as results arrive.
        A worker's environment error (a full disk) raises its `OutputError` here."""
        with contextlib.ExitStack() as stack:
            config = self.config
            if config.policy_server and config.checkpoint is not None:
                from vima_eval.online.policy_server import policy_server

                _, address = stack.enter_context(
                    policy_server(config.checkpoint, config.device, self.context)
                )
                config = replace(config, server=address)
            pool = stack.enter_context(
                ProcessPool(self.size, worker_main, (config,), context=self.context)
            )
            for answer in pool.answers(jobs):
                value: Any = answer.value
                kind, value = ("error", str(value)) if isinstance(value, Died) else value
                if kind == "done":
                    on_done(value)
                elif kind in ("stop", "server"):
                    raise _stopped(kind, value)
                elif answer.attempt < ATTEMPTS:
                    pool.retry(answer)
                else:
                    on_error(answer.item, value)


def _stopped(kind: str, text: str) -> Exception:
    """The error that stops the run for a worker's "stop" or "server" answer."""
    if kind == "stop":
        return OutputError(text)
    from vima_eval.online.policy_server import PolicyServerError

    return PolicyServerError(f"{text}; rerun with --resume to continue")
