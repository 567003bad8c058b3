"""A single-node SLURM cluster on localhost for tests (Debian's slurm-wlm and munge).

munged, slurmctld and slurmd run as root from a private temporary folder with their own key,
socket, ports, state and logs; clients reach them through `SLURM_CONF`. Closing the cluster
cancels its jobs, stops the daemons and every process that carries the cluster's `SLURM_CONF`
(the jobs' and the daemons' descendants), and removes the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "scontrol", "scancel", "sinfo")
#: Job states after which a job does not change any more (squeue(1), JOB STATE CODES).
FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "TIMEOUT",
    }
)
#: Seconds between SIGTERM and SIGKILL when a job is cancelled (SLURM's default is 30).
KILL_WAIT = 10


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def unavailable() -> str | None:
    """Why a local cluster cannot run here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "SLURM's daemons run on Linux only"
    missing = [name for name in (*DAEMONS, *CLIENTS) if _which(name) is None]
    if missing:
        return (
            f"{', '.join(missing)} not installed (Debian: apt-get install slurmctld slurmd "
            "slurm-client munge, as .ci/run does when it runs as root)"
        )
    if os.geteuid() != 0:
        return "slurmd starts jobs as their owner and must run as root"
    return None


@dataclass(frozen=True)
class Job:
    """One job (or array task) as scontrol reports it."""

    id: str
    state: str
    exit_code: str
    output: Path | None

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Job:
        """From `scontrol show job --oneliner`'s KEY=VALUE fields."""
        task = fields.get("ArrayTaskId")
        name = f"{fields['ArrayJobId']}_{task}" if task else fields["JobId"]
        output = fields.get("StdOut")
        return cls(name, fields["JobState"], fields["ExitCode"], Path(output) if output else None)

    @property
    def ended(self) -> bool:
        """In a state that does not change any more."""
        return self.state in FINAL_STATES

    @property
    def succeeded(self) -> bool:
        """Completed with exit code 0."""
        return self.state == "COMPLETED" and self.exit_code == "0:0"

    def log(self) -> str:
        """The job's output file, or a note that there is none."""
        if self.output is None or not self.output.is_file():
            return f"(no output file {self.output})"
        return self.output.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _memory_mb() -> int:
    text = Path("/proc/meminfo").read_text()
    found = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) // 1024 if found else 1024


class LocalSlurm:
    """A running cluster: `sbatch`, `wait`, `cancel` and `env` for commands of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.cpus = len(os.sched_getaffinity(0))
        self.env: dict[str, str] = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._daemons: list[subprocess.Popen[bytes]] = []

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[LocalSlurm]:
        """Start a cluster in a new temporary folder; stop it and remove the folder after."""
        with tempfile.TemporaryDirectory(prefix="vima-slurm-") as folder:
            cluster = cls(Path(folder))
            try:
                cluster._start()
                yield cluster
            finally:
                cluster._stop()

    def client(
        self, *command: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command against this cluster (SLURM_CONF set, `env` added)."""
        return subprocess.run(
            list(command),
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def sbatch(self, *args: str | Path, cwd: Path, env: Mapping[str, str] | None = None) -> str:
        """Submit; the job id (AssertionError with sbatch's message when it refuses)."""
        done = self.client("sbatch", "--parsable", *map(str, args), cwd=cwd, env=env)
        assert done.returncode == 0, f"sbatch {' '.join(map(str, args))}: {done.stderr}"
        return done.stdout.strip().split(";")[0]

    def cancel(self, job_id: str) -> None:
        """scancel the job (SIGTERM to its steps, SIGKILL `KILL_WAIT` s later)."""
        done = self.client("scancel", job_id)
        assert done.returncode == 0, done.stderr

    def jobs(self, job_id: str) -> list[Job]:
        """A job now: one entry per array task (one for a pending array)."""
        done = self.client("scontrol", "show", "job", "--oneliner", job_id)
        assert done.returncode == 0, done.stderr
        lines = [line for line in done.stdout.splitlines() if line]
        return [Job.from_fields(dict(re.findall(r"(\w+)=(\S*)", line))) for line in lines]

    def wait(self, *job_ids: str, timeout: float = 600) -> list[Job]:
        """Wait until every job (and array task) has ended; their final states."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = [job for job_id in job_ids for job in self.jobs(job_id)]
            if all(job.ended for job in jobs):
                return jobs
            if time.monotonic() > deadline:
                states = {job.id: job.state for job in jobs}
                raise TimeoutError(f"jobs still running after {timeout} s: {states}")
            time.sleep(0.5)

    def _write_conf(self) -> None:
        root = self.root
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=vimatest",
                    "SlurmctldHost=localhost",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={root / 'munge' / 'socket'}",
                    f"StateSaveLocation={root / 'state'}",
                    f"SlurmdSpoolDir={root / 'spool'}",
                    f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={root / 'slurmctld.log'}",
                    f"SlurmdLogFile={root / 'slurmd.log'}",
                    # no cgroups in a container: processes tracked by parent id, no binding
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    f"KillWait={KILL_WAIT}",
                    # the node is what this file says, whatever slurmd -C finds
                    "SlurmdParameters=config_overrides",
                    f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} "
                    f"RealMemory={_memory_mb()} State=UNKNOWN",
                    "PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _daemon(self, name: str, *args: str) -> None:
        log = (self.root / f"{name}.out").open("wb")
        self._daemons.append(
            subprocess.Popen(
                [str(_which(name)), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.root,
                start_new_session=True,
            )
        )
        log.close()

    def _until(self, ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            exited = [d.args[0] for d in self._daemons if d.poll() is not None]
            if exited or time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
                    for path in sorted(self.root.glob("*.out")) + sorted(self.root.glob("*.log"))
                )
                why = f"{', '.join(exited)} exited" if exited else f"not after {timeout} s"
                raise RuntimeError(f"local SLURM: {what}: {why}\n{logs}")
            time.sleep(0.2)

    def _start(self) -> None:
        root = self.root
        root.chmod(0o755)  # munged wants its socket's folders searchable by everyone
        for folder in ("munge", "state", "spool"):
            (root / folder).mkdir()
        key = root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._write_conf()
        munge = root / "munge"
        self._daemon(
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={munge / 'socket'}",
            f"--pid-file={munge / 'munged.pid'}",
            f"--seed-file={munge / 'munged.seed'}",
            f"--log-file={munge / 'munged.log'}",
        )
        self._until((munge / "socket").exists, "munged's socket")
        self._daemon("slurmctld", "-D", "-f", str(self.conf))
        self._daemon("slurmd", "-D", "-N", "localhost", "-f", str(self.conf))

        def idle() -> bool:
            done = self.client("sinfo", "--noheader", "--nodes=localhost", "--format=%T")
            return done.returncode == 0 and done.stdout.strip() == "idle"

        self._until(idle, "node localhost idle")

    def _ours(self) -> list[int]:
        """Processes other than this one whose environment holds this cluster's SLURM_CONF."""
        marker = f"SLURM_CONF={self.conf}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environment = (entry / "environ").read_bytes()
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if marker in environment.split(b"\0"):
                found.append(int(entry.name))
        return found

    def _stop(self) -> None:
        self.client("scancel", "--user=root")
        deadline = time.monotonic() + KILL_WAIT + 20
        while time.monotonic() < deadline:
            listed = self.client("squeue", "--noheader", "--format=%i")
            if listed.returncode != 0 or not listed.stdout.strip():
                break
            time.sleep(0.5)
        for daemon in reversed(self._daemons):
            daemon.terminate()
        for daemon in reversed(self._daemons):
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        deadline = time.monotonic() + 10
        while (left := self._ours()) and time.monotonic() < deadline:
            for pid in left:  # slurmstepd and job processes that outlived their daemons
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
