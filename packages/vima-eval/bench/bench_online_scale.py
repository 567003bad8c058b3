"""Online evaluation at scale: episodes/s and memory per process, per-worker policies vs the
batched policy server (issue 30 item 2). Appends one JSON line per run to RECORD:

    uv run --all-packages python packages/vima-eval/bench/bench_online_scale.py CKPT \\
        --label tiny [--policy-server] --record docs/measurements/online-scale.jsonl

Runs `vima-eval online CKPT --tasks visual_manipulation,follow_order --levels L1 --episodes 3
--workers 2` in-process (W&B disabled) while a thread samples /proc/PID/smaps_rollup of every
child process every 0.2 s: the peaks of RSS (shared pages counted in full), PSS (shared pages
divided among the processes sharing them) and USS (pages of the process alone). Episodes/s is
given with start-up (the wall time of the run, which includes loading the policy) and without
it: (episodes - workers) / (time from the workers-th finished episode to the last), the first
episode of each worker carrying its start-up. The load average (`/proc/loadavg`) before and
after goes with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from vima_eval.online import closed_loop, policy_server
from vima_eval.online.closed_loop import OnlineSettings, run_online

FIELDS = {"Rss": "rss", "Pss": "pss", "Private_Clean": "uss", "Private_Dirty": "uss"}


def smaps(pid: int) -> dict[str, int]:
    """RSS, PSS and USS of a process in KiB (empty if it is gone)."""
    found = {"rss": 0, "pss": 0, "uss": 0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            found[FIELDS[name]] += int(rest.split()[0])
    return found


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
    """Peak RSS / PSS / USS per child process and of the PSS summed over all of them."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, dict[str, int]] = {}
        self.total_pss = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            total = 0
            for pid in children(os.getpid()):
                now = smaps(pid)
                if not now:
                    continue
                peak = self.peaks.setdefault(pid, dict.fromkeys(now, 0))
                for key, value in now.items():
                    peak[key] = max(peak[key], value)
                total += now["pss"]
            self.total_pss = max(self.total_pss, total)


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


def measure(checkpoint: Path, server: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One run; its figures."""
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
    sampler = Sampler()
    load = Path("/proc/loadavg").read_text().split()[:3]
    sampler.start()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run_online(settings, Path(tmp) / "run")
        metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
    wall = time.perf_counter() - began
    sampler.stop.set()
    sampler.join()
    closed_loop._Progress.done = done  # type: ignore[method-assign]
    policy_server.act = act
    sizes = [int(n) for n in batches.read_text().split()]
    timing = metrics["timing"]
    settled = finished[args.workers - 1 :]
    steady = (len(settled) - 1) / (settled[-1] - settled[0]) if len(settled) > 1 else None
    mib = [{k: round(v / 1024) for k, v in peak.items()} for peak in sampler.peaks.values()]
    return {
        "label": args.label, "mode": "policy server" if server else "per-worker policies",
        "checkpoint_bytes": checkpoint.resolve().stat().st_size, "tasks": args.tasks,
        "episodes": int(timing["episodes_run"]), "workers": args.workers, "wall_s": round(wall, 1),
        "episodes_per_s": round(timing["episodes_run"] / wall, 4),
        "episodes_per_s_steady": round(steady, 4) if steady else None,
        "sim_s": round(timing["sim_s"], 1), "tokenize_s": round(timing["tokenize_s"], 1),
        "model_s": round(timing["model_s"], 1),
        "processes_mib": sorted(mib, key=lambda p: -p["uss"]),
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
