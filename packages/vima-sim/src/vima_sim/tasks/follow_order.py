"""follow_order (T11): restack same-shape blocks as the prompt's frames show."""

from __future__ import annotations

from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import (
    REGISTRY,
    Goal,
    OneGoalPerAction,
    SceneAsset,
    Spawned,
)
from vima_sim.world import yaw_quaternion

ROW_X = 0.5
N_MOVES = 2


def _row(n: int) -> list[float]:
    """y of the n bases of the row (y = -0.25, 0, 0.25 for three)."""
    spacing = 0.25 if n <= 3 else 0.8 / (n - 1)
    return [(k - (n - 1) / 2) * spacing for k in range(n)]


@REGISTRY.register
class FollowOrder(OneGoalPerAction):
    """T11: `Stack objects in this order {frame_0} {frame_1} {frame_2}.`"""

    task = Task.follow_order

    def reset_scene(self) -> None:
        """The row of blocks, a random 2-move restacking, its frames and a distractor."""
        n = self.rules["n_blocks"]
        shape = get_object(self.choice(self.settings.dragged_obj))
        picked = self.rng.choice(len(self.settings.dragged_texture), size=n, replace=False)
        textures = [get_texture(self.settings.dragged_texture[int(i)]) for i in picked]
        size = self.random_size(shape)
        ys = _row(n)
        blocks: list[Spawned] = []
        for y, texture in zip(ys, textures, strict=True):
            pose = ((ROW_X, y, size[2] / 2), yaw_quaternion(0.0))
            item = self.spawn(shape, texture, size, pose)
            assert item is not None
            blocks.append(item)
        stacks: list[list[int]] = [[k] for k in range(n)]
        frames = [self._frame(stacks, blocks, size)]
        for _ in range(N_MOVES):
            options = [(a, b) for a in range(n) for b in range(n) if a != b and stacks[a]]
            src, dst = options[int(self.rng.integers(len(options)))]
            block = stacks[src].pop()
            stacks[dst].append(block)
            target = ((ROW_X, ys[dst], size[2] * (len(stacks[dst]) - 0.5)), yaw_quaternion(0.0))
            self.goals.append(Goal.single(blocks[block].body, target))
            frames.append(self._frame(stacks, blocks, size))
        self.all_goals = list(self.goals)
        others = [s for s in self.settings.dragged_obj if s != shape.name]
        self.spawn_distractors_of(others, self.rules["n_distractors"])
        self.distractors = []  # shown in the workspace only; VIMA-Bench does not check them
        self.assets = {f"frame_{i}": frame for i, frame in enumerate(frames)}
        self.prompt = (
            "Stack objects in this order "
            + " ".join(f"{{frame_{i}}}" for i in range(len(frames)))
            + "."
        )

    def _frame(
        self, stacks: list[list[int]], blocks: list[Spawned], size: tuple[float, ...]
    ) -> SceneAsset:
        objects = []
        for k, stack in enumerate(stacks):
            for level, block in enumerate(stack):
                item = blocks[block]
                pose = ((ROW_X, _row(len(stacks))[k], size[2] * (level + 0.5)), yaw_quaternion(0.0))
                objects.append((item.obj, item.texture, item.urdf, pose))
        return SceneAsset(objects)
