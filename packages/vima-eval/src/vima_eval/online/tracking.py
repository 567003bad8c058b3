"""W&B logging of an online run: running success per (perturbation, level, task)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

WANDB_MODES = ("offline", "online", "disabled")
PROJECT = "vima-eval-online"


class Tracker:
    """Logs `success/<perturbation>/L<level>/<task>` (running mean) after every episode."""

    def __init__(self, mode: str, out: Path, name: str, config: dict[str, Any]) -> None:
        if mode not in WANDB_MODES:
            raise ValueError(f"--wandb must be one of {', '.join(WANDB_MODES)}")
        self.counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.run: Any = None
        if mode == "disabled":
            return
        import wandb

        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            project=PROJECT,
            name=name,
            dir=str(out),
            mode=mode,  # type: ignore[arg-type]
            config=config,
            reinit=True,
        )

    def count(self, row: dict[str, Any]) -> tuple[str, list[int]]:
        """Count one finished episode (e.g. of an earlier, resumed run) without logging."""
        key = f"success/{row['perturbation']}/L{row['level']}/{row['task']}"
        count = self.counts[key]
        count[0] += int(bool(row["success"]))
        count[1] += 1
        return key, count

    def episode(self, row: dict[str, Any]) -> None:
        """Count one finished episode and log the running success of its cell."""
        key, count = self.count(row)
        if self.run is not None:
            total = sum(c[1] for c in self.counts.values())
            self.run.log({key: count[0] / count[1], "episodes": total})

    def finish(self, summary: dict[str, float]) -> None:
        """Store the final numbers in the run summary and close the run."""
        if self.run is None:
            return
        for key, value in summary.items():
            self.run.summary[key] = value
        self.run.finish()
