"""What an online evaluation runs: the (level, task, episode, perturbation) jobs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vima_schema.enums import Partition, Task
from vima_sim import available

from vima_eval.online.seeds import episode_seed

#: Evaluation level -> simulator partition (L1 placement ... L4 novel task).
LEVEL_PARTITIONS: dict[int, Partition] = {
    1: Partition.placement_generalization,
    2: Partition.combinatorial_generalization,
    3: Partition.novel_object_generalization,
    4: Partition.novel_task_generalization,
}


@dataclass(frozen=True)
class Job:
    """One episode to evaluate under one perturbation."""

    level: int
    task: str
    episode: int
    seed: int
    perturbation: str
    record: bool = False

    @property
    def partition(self) -> str:
        """The simulator partition of the level."""
        return LEVEL_PARTITIONS[self.level].name

    @property
    def key(self) -> str:
        """Identity of the episode, equal across runs on the same scene: `L1/rotate/7`."""
        return episode_key(self.level, self.task, self.episode)


def episode_key(level: int, task: str, episode: int) -> str:
    """The `episode` column of a result row: `L<level>/<task>/<episode>`."""
    return f"L{level}/{task}/{episode}"


def parse_levels(text: str | None) -> list[int]:
    """`"L1,L3"` or `"1,3"` -> [1, 3]; None -> all four levels."""
    if not text:
        return sorted(LEVEL_PARTITIONS)
    levels = []
    for item in text.split(","):
        name = item.strip().upper().removeprefix("L")
        if not name.isdigit() or int(name) not in LEVEL_PARTITIONS:
            raise ValueError(f"unknown level {item.strip()!r} (valid: L1, L2, L3, L4)")
        levels.append(int(name))
    return sorted(set(levels))


def level_tasks(levels: Sequence[int], tasks: Sequence[str] | None) -> list[tuple[int, str]]:
    """(level, task) pairs: the given tasks (default: every implemented task) in each given level
    where the simulator defines them. ValueError for an unknown or unimplemented task, or a
    selection that leaves no pair."""
    implemented = available()
    if tasks:
        for name in tasks:
            try:
                canonical = Task.from_name(name).name
            except (KeyError, ValueError):
                raise ValueError(f"unknown task {name!r}") from None
            if canonical not in implemented:
                raise ValueError(
                    f"task {canonical!r} is not implemented by the simulator "
                    f"(implemented: {', '.join(implemented)})"
                )
        chosen = [Task.from_name(name).name for name in tasks]
    else:
        chosen = list(implemented)
    chosen = sorted(dict.fromkeys(chosen), key=lambda name: Task[name].value)
    pairs = [
        (level, task)
        for level in levels
        for task in chosen
        if LEVEL_PARTITIONS[level].name in implemented[task]["partitions"]
    ]
    if not pairs:
        raise ValueError(f"none of the tasks {chosen} exists in levels {list(levels)}")
    return pairs


def plan_jobs(
    pairs: Sequence[tuple[int, str]],
    episodes: range,
    perturbations: Sequence[str],
    run_seed: int,
    record: int = 0,
) -> list[Job]:
    """Every job, (level, task)-major then perturbation and episode, so that a worker's next
    job mostly needs the environment it has open; the first `record` episodes of each (level,
    task, perturbation) are marked for video."""
    return [
        Job(level, task, episode, episode_seed(run_seed, level, task, episode), name,
            record=episode - episodes.start < record)
        for level, task in pairs
        for name in perturbations
        for episode in episodes
    ]  # fmt: skip
