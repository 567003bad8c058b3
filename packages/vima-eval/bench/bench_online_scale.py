"""Online evaluation at scale: episodes/s and memory per process, per-worker policies vs the
batched policy server (issue 30 item 2). Appends one JSON line per run to RECORD:

    uv run --all-packages python packages/vima-eval/bench/bench_online_scale.py CKPT \\
        --label tiny [--policy-server | --legacy-loading] [--whole-history] \\
        --record docs/measurements/online-scale.jsonl

Runs `vima-eval online CKPT --tasks visual_manipulation,follow_order --levels L1
--episodes 3 --workers 2` in-process (W&B disabled) while a thread samples
/proc/PID/smaps_rollup of every child process every 0.2 s: the peaks of RSS (shared pages
counted in full), PSS (shared pages divided among the processes sharing them), USS (pages of
the process alone, file pages only it maps included) and private dirty memory (pages it wrote:
its own copies, such as a policy's weights copied in), and the peak of the PSS summed over
the children. `--legacy-loading` loads
each worker's policy as before issue 30 (a randomly initialised network, the weights copied
in); `--whole-history` decodes each step from the whole history as before incremental
decoding (`LocalModel.incremental` and `PolicyServer.incremental` off). Episodes/s is given with
start-up (the wall time of the run, which includes loading the
policy) and without it: (episodes - workers) / (time from the workers-th finished episode to
the last), the first episode of each worker carrying its start-up; the CPU seconds of all
children (/proc/PID/stat) in that window per episode are what the CPU-hour projection uses (less
sensitive to other jobs than the wall time). The policy server's batch sizes are counted. The
load average (`/proc/loadavg`) before and after goes with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from vima_eval.online import agents, closed_loop, model, policy_server
from vima_eval.online.closed_loop import OnlineSettings, run_online

FIELDS = {"Rss": "rss", "Pss": "pss", "Private_Clean": "uss", "Private_Dirty": "uss"}


def smaps(pid: int) -> dict[str, int]:
    """RSS, PSS, USS and private dirty memory of a process in KiB (empty if it is gone)."""
    found = {"rss": 0, "pss": 0, "uss": 0, "dirty": 0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            found[FIELDS[name]] += int(rest.split()[0])
        if name == "Private_Dirty":
            found["dirty"] += int(rest.split()[0])
    return found


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (None if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    """Direct children of `pid`."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class Sampler(threading.Thread):
    """Peak RSS / PSS / USS per child process and of the PSS summed over all of them, and the
    CPU seconds of all children so far at each sample (`cpu`: (time, seconds))."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, dict[str, int]] = {}
        self.total_pss = 0
        self.used: dict[int, float] = {}  # last CPU seconds seen per child
        self.cpu: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def cpu_at(self, when: float) -> float:
        """CPU seconds of all children at the last sample before `when`."""
        return max([used for at, used in self.cpu if at <= when], default=0.0)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            total = 0
            for pid in children(os.getpid()):
                used = cpu_seconds(pid)
                if used is not None:
                    self.used[pid] = used
                now = smaps(pid)
                if not now:
                    continue
                peak = self.peaks.setdefault(pid, dict.fromkeys(now, 0))
                for key, value in now.items():
                    peak[key] = max(peak[key], value)
                total += now["pss"]
            self.total_pss = max(self.total_pss, total)
            self.cpu.append((time.perf_counter(), sum(self.used.values())))


def count_batches(record: Path) -> Any:
    """Make the policy server (forked: it inherits this) append each batch's size to
    `record`; the original `act`."""
    act = policy_server.act

    def counted(policy: Any, cache: Any, observations: Any, *rest: Any) -> Any:
        with record.open("a") as handle:
            handle.write(f"{observations.step_mask.shape[0]}\n")
        return act(policy, cache, observations, *rest)

    policy_server.act = counted
    return act


def legacy_load_policy(path: Any, map_location: Any = "cpu") -> Any:
    """`load_policy` as it was before issue 30: a randomly initialised network, the weights
    copied into it (a private copy per process)."""
    from vima_train.checkpoint import checkpoint_config, policy_state, read_checkpoint
    from vima_train.policies import build_policy

    checkpoint = read_checkpoint(path, map_location)
    meta = checkpoint["vima_train"]
    policy = build_policy(checkpoint_config(meta, path).model, int(meta["vocab_size"]))
    policy.load_state_dict(policy_state(checkpoint), strict=True)
    policy.checkpoint_meta = dict(meta)
    return policy.to(map_location).eval()


def note_server(pids: list[int]) -> Any:
    """Make `WorkerPool.run` put the policy server's pid in `pids`; the original."""
    start = policy_server.policy_server

    @contextlib.contextmanager
    def noted(*args: Any) -> Iterator[Any]:
        with start(*args) as (proc, address):
            pids.append(proc.pid)
            yield proc, address

    policy_server.policy_server = noted
    return start


def measure(checkpoint: Path, server: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One run; its figures."""
    servers: list[int] = []
    start = note_server(servers)
    finished: list[float] = []
    batches = Path(tempfile.mkdtemp()) / "batches"
    batches.touch()
    act = count_batches(batches)
    done = closed_loop._Progress.done

    def timed(progress: Any, result: Any) -> None:
        finished.append(time.perf_counter())
        done(progress, result)

    closed_loop._Progress.done = timed  # type: ignore[method-assign]
    settings = OnlineSettings(
        checkpoint=checkpoint, levels=[1], tasks=args.tasks.split(","), episodes=args.episodes,
        workers=args.workers, wandb="disabled", policy_server=server,
    )  # fmt: skip
    if args.legacy_loading:
        agents.load_policy = legacy_load_policy
    # the workers and the server fork: they inherit the switch
    model.LocalModel.incremental = policy_server.PolicyServer.incremental = not args.whole_history
    sampler = Sampler()
    load = Path("/proc/loadavg").read_text().split()[:3]
    sampler.start()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run_online(settings, Path(tmp) / "run")
        metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        steps = pq.read_table(Path(tmp) / "run" / "episodes.parquet")["steps"].to_pylist()
    wall = time.perf_counter() - began
    sampler.stop.set()
    sampler.join()
    closed_loop._Progress.done = done  # type: ignore[method-assign]
    policy_server.act = act
    policy_server.policy_server = start
    sizes = [int(n) for n in batches.read_text().split()]
    timing = metrics["timing"]
    settled = finished[args.workers - 1 :]
    steady = (len(settled) - 1) / (settled[-1] - settled[0]) if len(settled) > 1 else None
    window = sampler.cpu_at(settled[-1]) - sampler.cpu_at(settled[0]) if steady else None
    mib = [{"role": "server" if pid in servers else "worker"}
           | {k: round(v / 1024) for k, v in peak.items()}
           for pid, peak in sampler.peaks.items()]  # fmt: skip
    mode = "policy server" if server else "per-worker policies"
    mode += ", whole history each step" if args.whole_history else ", incremental decoding"
    return {
        "label": args.label,
        "mode": mode + (", loading before issue 30" if args.legacy_loading else ""),
        "checkpoint_bytes": checkpoint.resolve().stat().st_size, "tasks": args.tasks,
        "episodes": int(timing["episodes_run"]), "workers": args.workers, "wall_s": round(wall, 1),
        "episodes_per_s": round(timing["episodes_run"] / wall, 4),
        "episodes_per_s_steady": round(steady, 4) if steady else None,
        "cpu_s_per_episode_steady": round(window / (len(settled) - 1), 2) if window else None,
        "actions_per_episode": round(sum(steps) / len(steps), 2),
        "sim_s": round(timing["sim_s"], 1), "tokenize_s": round(timing["tokenize_s"], 1),
        "model_s": round(timing["model_s"], 1),
        "processes_mib": sorted(mib, key=lambda p: (p["role"], -p["dirty"])),
        "total_pss_mib": round(sampler.total_pss / 1024),
        "server_batches": {str(n): sizes.count(n) for n in sorted(set(sizes))},
        "load_before": load, "load_after": Path("/proc/loadavg").read_text().split()[:3],
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--label", required=True, help="what the checkpoint is, e.g. tiny")
    parser.add_argument("--policy-server", action="store_true")
    parser.add_argument(
        "--legacy-loading", action="store_true", help="load_policy as before issue 30"
    )
    parser.add_argument(
        "--whole-history", action="store_true", help="each step decoded from the whole history"
    )
    parser.add_argument("--tasks", default="visual_manipulation,follow_order")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--record", type=Path, help="JSON-lines file the figures are added to")
    args = parser.parse_args()
    figures = measure(args.checkpoint, args.policy_server, args)
    line = json.dumps(figures)
    print(line)
    if args.record:
        with args.record.open("a") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
