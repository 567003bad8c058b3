"""W&B logging of an online run: running success per (perturbation, level, task) while it
runs; at the end the final numbers in the summary, a table of episodes (task, level,
perturbation, prompt, success, steps, and the video of each recorded episode) and the success
table (per perturbation, level and task)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from vima_eval.online.recording import VIDEOS, video_name_of

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

    def finish(
        self, summary: dict[str, float], rows: list[dict[str, Any]], out: Path | None = None
    ) -> None:
        """Store the final numbers in the run summary, log the episode table of `rows` (with
        the GIFs of run folder `out`) and the success table, and close the run."""
        if self.run is None:
            return
        import wandb

        for key, value in summary.items():
            self.run.summary[key] = value
        self.run.log({"episodes_table": episode_table(rows, out), "success_table": self.table()})
        self.run.finish()
        # Release wandb's process-wide state: a later run in this process (a Lightning
        # WandbLogger, which sets WANDB_MODE) then reads its settings afresh.
        wandb.teardown()

    def table(self) -> Any:
        """The success table: successes, episodes and rate per perturbation, level and task."""
        import wandb

        columns: list[str | int] = [
            "perturbation",
            "level",
            "task",
            "successes",
            "episodes",
            "success_rate",
        ]
        data = []
        for key, (wins, total) in sorted(self.counts.items()):
            _, perturbation, level, task = key.split("/")
            data.append([perturbation, level, task, wins, total, wins / total])
        return wandb.Table(columns=columns, data=data)


EPISODE_COLUMNS: list[str | int] = [
    "task",
    "level",
    "perturbation",
    "episode",
    "prompt",
    "success",
    "steps",
    "video",
]


def episode_table(rows: list[dict[str, Any]], out: Path | None) -> Any:
    """A `wandb.Table` of episodes; `video` holds the GIF of a recorded one (None otherwise)."""
    import wandb

    data = []
    for row in rows:
        number = int(row["episode"].rsplit("/", 1)[-1])
        name = video_name_of(row["perturbation"], row["level"], row["task"], number)
        gif = out / VIDEOS / name if out is not None else None
        video = wandb.Video(str(gif), format="gif") if gif is not None and gif.is_file() else None
        data.append([row["task"], f"L{row['level']}", row["perturbation"], row["episode"],
                     row["prompt"], bool(row["success"]), row["steps"], video])  # fmt: skip
    return wandb.Table(columns=EPISODE_COLUMNS, data=data)
