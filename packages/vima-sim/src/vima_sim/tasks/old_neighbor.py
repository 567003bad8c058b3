"""manipulate_old_neighbor (T16): put an object, then its former neighbour, into a base."""

from __future__ import annotations

from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import REGISTRY, Goal, ObjectAsset, TaskBase
from vima_sim.world import yaw_quaternion

#: (row, column) offset of each direction: north = smaller x, east = larger y.
DIRECTIONS = {"north": (-1, 0), "south": (1, 0), "west": (0, -1), "east": (0, 1)}


@REGISTRY.register
class ManipulateOldNeighbor(TaskBase):
    """T16: `First put {dragged_obj} into {base_obj} then put the object that was previously
    at its <direction> into the same {base_obj}.`"""

    task = Task.manipulate_old_neighbor

    def check(self) -> tuple[bool, bool]:
        """Failure if the neighbour goes in before the target; then TaskBase's checks."""
        if len(self.goals) == 2 and self.goal_achieved(self.goals[1]):
            return False, True
        return super().check()

    def reset_scene(self) -> None:
        """Grid of objects, a base, a target with a neighbour in the named direction."""
        r = self.rules
        rows, cols = r["rows"], r["cols"]
        scale = float(r["scale"])
        cells = [(i, j) for i in range(rows) for j in range(cols)]
        if r["empty_cell"]:
            cells.pop(int(self.rng.integers(len(cells))))
        base_obj = get_object(self.choice(self.base_shapes()))
        base_texture = get_texture(self.choice(self.settings.base_texture))
        bx, by = r["base_position"]
        base_size = self.random_size(base_obj)
        base = self.spawn(
            base_obj, base_texture, base_size, ((bx, by, base_size[2] / 2), yaw_quaternion(0.0)),
            fixed=True,
        )  # fmt: skip
        assert base is not None
        n = len(cells)
        shape_idx = self.rng.choice(len(self.settings.dragged_obj), size=n, replace=True)
        texture_idx = self.rng.choice(len(self.settings.dragged_texture), size=n, replace=True)
        bodies: dict[tuple[int, int], int] = {}
        for (i, j), s, t in zip(cells, shape_idx, texture_idx, strict=True):
            obj = get_object(self.settings.dragged_obj[int(s)])
            size = self.random_size(obj)
            x = 0.25 + (i + 1) * r["x_spacing"]
            y = -0.5 + (j + 1) * r["y_spacing"]
            item = self.spawn(
                obj, get_texture(self.settings.dragged_texture[int(t)]), size,
                ((x, y, size[2] * scale / 2), yaw_quaternion(0.0)), scaling=scale,
            )  # fmt: skip
            assert item is not None
            bodies[(i, j)] = item.body
        pairs = [
            (cell, name, (cell[0] + d[0], cell[1] + d[1]))
            for cell in bodies
            for name, d in DIRECTIONS.items()
            if (cell[0] + d[0], cell[1] + d[1]) in bodies
        ]
        cell, direction, neighbour = pairs[int(self.rng.integers(len(pairs)))]
        target, other = bodies[cell], bodies[neighbour]
        self.goals = [Goal.single(target, base.pose), Goal.single(other, base.pose)]
        self.distractors = [(b, 0) for b in bodies.values() if b not in (target, other)]
        spawned = {s.body: s for s in self.spawned}
        self.assets = {
            "dragged_obj": ObjectAsset(
                spawned[target].obj, spawned[target].texture, spawned[target].urdf
            ),
            "base_obj": ObjectAsset(base.obj, base.texture, base.urdf),
        }
        self.prompt = (
            "First put {dragged_obj} into {base_obj} then put the object that was previously "
            f"at its {direction} into the same {{base_obj}}."
        )
