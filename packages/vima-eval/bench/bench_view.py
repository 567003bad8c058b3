"""Episode viewer: time and extra disk of `vima-eval view` for a large run, and how long its
index takes to open in Chromium.

Synthesises a run of N episodes (default 1,000) from a real online run recorded with
`--record` (its result rows and recordings, cycled with new episode numbers, so every
synthetic episode has recorded frames), runs the exact command

    vima-eval view RUN --out SITE

as a subprocess, and reports its wall time, the extra disk the site takes (`du` of run and
site together minus the run alone: recorded frames are hard-linked, not copied), the site's
files, and the index's time to first page in headless Chromium (navigation start to the first
page of rows drawn, median of 5 loads; Debian's chromium and chromium-driver through
vima_schema.site.browser). Usage:

    uv run --all-packages vima-eval online CKPT --levels L1 --episodes 2 --record 2 \\
        --perturb noop --perturb gobbledygook_word --out SOURCE
    uv run --all-packages --all-extras python packages/vima-eval/bench/bench_view.py SOURCE \\
        [--episodes 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from vima_eval.online.recording import recording_folder
from vima_eval.results import RESULTS_FILE, write_results
from vima_schema.site.browser import chromium, wait_ready


def synthesise(source: Path, episodes: int, out: Path) -> int:
    """A run folder of `episodes` rows cycled from the recorded rows of `source`; returns the
    number of recorded frames it holds."""
    rows = [r for r in pq.read_table(source / RESULTS_FILE).to_pylist()
            if (recording_folder(source, r["perturbation"], r["episode"]) / "episode.json")
            .is_file()]  # fmt: skip
    if not rows:
        raise SystemExit(f"{source}: no recorded episodes (run it with --record K)")
    made, frames = [], 0
    for n in range(episodes):
        row = dict(rows[n % len(rows)])
        level, task, _ = row["episode"].split("/")
        recorded = recording_folder(source, row["perturbation"], row["episode"])
        row["episode"] = f"{level}/{task}/{n}"
        target = recording_folder(out, row["perturbation"], row["episode"])
        shutil.copytree(recorded, target)
        frames += len(json.loads((target / "episode.json").read_text())["frames"]) * 2
        made.append(row)
    write_results(out / RESULTS_FILE, made)
    return frames


def du_kib(*paths: Path) -> int:
    """Disk use of `paths` together (hard links counted once), KiB."""
    result = subprocess.run(["du", "-skc", *map(str, paths)], capture_output=True, text=True,
                            check=True)  # fmt: skip
    return int(result.stdout.strip().splitlines()[-1].split()[0])


def open_index(site: Path, loads: int = 5) -> list[float]:
    """Milliseconds from navigation start to the index's first page of rows, per load."""
    times = []
    with chromium() as driver:
        for _ in range(loads):
            driver.get("about:blank")
            driver.get((site / "index.html").as_uri())
            times.append(wait_ready(driver))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="an online run folder recorded with --record")
    parser.add_argument("--episodes", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.source.parent) as tmp:
        run, site = Path(tmp) / "run", Path(tmp) / "site"
        frames = synthesise(args.source, args.episodes, run)
        began = time.perf_counter()
        subprocess.run(["vima-eval", "view", str(run), "--out", str(site)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wall = time.perf_counter() - began
        extra = du_kib(run, site) - du_kib(run)
        files = sum(1 for p in site.rglob("*") if p.is_file())
        index = sum(p.stat().st_size for p in [site / "index.html", *site.glob("data/*.js")])
        print(f"episodes {args.episodes}, recorded frames {frames}, "
              f"recordings {du_kib(run) / 1024:.1f} MiB")  # fmt: skip
        print(f"vima-eval view: {wall:.2f} s wall (command, start-up included)")
        print(f"site: {files} files, extra disk {extra / 1024:.1f} MiB (site alone "
              f"{du_kib(site) / 1024:.1f} MiB; media hard-linked), index + row data "
              f"{index / 1024:.0f} KiB")  # fmt: skip
        times = open_index(site)
        print(f"index open in Chromium: median {statistics.median(times):.0f} ms "
              f"(loads: {', '.join(f'{t:.0f}' for t in times)})")  # fmt: skip


if __name__ == "__main__":
    main()
