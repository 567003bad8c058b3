"""pick_in_order_then_restore (T17): visit two bases in order, then return to the start."""

from __future__ import annotations

from vima_schema.enums import Task

from vima_sim.encyclopedia import get_object, get_texture
from vima_sim.tasks.base import REGISTRY, Goal, ObjectAsset, Spawned, TaskBase
from vima_sim.world import yaw_quaternion


@REGISTRY.register
class PickInOrderThenRestore(TaskBase):
    """T17: `Put {dragged_obj} into {base_obj_1} then {base_obj_2}. Finally restore it into its
    original container.`"""

    task = Task.pick_in_order_then_restore

    def check(self) -> tuple[bool, bool]:
        """Failure when a later goal is reached before the current one; distractor check."""
        original = self.all_goals[-1]
        future = self.goals[1:-1] if self.goal_achieved(original) else self.goals[1:]
        if any(self.goal_achieved(goal) for goal in future):
            return False, True
        return super().check()

    def reset_scene(self) -> None:
        """A 2 x 3 grid of bases with distinct textures, the object on one of them."""
        r = self.rules
        n_targets, n_distractors = r["n_targets"], r["n_distractors"]
        cells = self._shuffled_cells(r["rows"], r["cols"])
        if r["same_bases"]:
            base_names = [self.choice(self.settings.base_obj)] * len(cells)
        else:
            base_names = [self.choice(self.settings.base_obj) for _ in cells]
        n_objects = 1 + n_distractors
        shape_idx = self.rng.choice(len(self.settings.dragged_obj), size=n_objects)
        tex_idx = self.rng.choice(len(self.settings.dragged_texture), size=n_objects, replace=False)
        base_tex = self.rng.choice(len(self.settings.base_texture), size=len(cells), replace=False)
        shapes = [self.settings.dragged_obj[int(i)] for i in shape_idx]
        textures = [self.settings.dragged_texture[int(i)] for i in tex_idx]
        dragged_size = self.random_size(get_object(shapes[0]))
        base_size = self.random_size(get_object(base_names[0]))

        def base_at(k: int) -> Spawned:
            texture = self.settings.base_texture[int(base_tex[k])]
            return self._place(base_names[k], texture, base_size, cells[k], fixed=True)

        lift = 2 if base_names[0] in ("bowl", "pallet") else 0.5
        dragged = self._place(shapes[0], textures[0], dragged_size, cells[0], lift=lift)
        start = base_at(0)
        targets = [base_at(k) for k in range(1, 1 + n_targets)]
        for base in targets:
            x, y = base.pose[0][:2]
            target = ((x, y, dragged_size[2] / 2), yaw_quaternion(0.0))
            self.goals.append(Goal.single(dragged.body, target))
        self.goals.append(Goal.single(dragged.body, start.pose))
        self.all_goals = list(self.goals)
        for d in range(1, 1 + n_distractors):
            base_at(n_targets + d)
            item = self._place(shapes[d], textures[d], dragged_size, cells[n_targets + d])
            self.distractors.append((item.body, 0))
        for k in range(1 + n_targets + n_distractors, len(cells)):
            base_at(k)
        self._describe(dragged, targets)

    def _shuffled_cells(self, rows: int, cols: int) -> list[tuple[float, float]]:
        """Centres (x, y) of a `rows` x `cols` grid over the workspace, in a random order."""
        spacing = 1.0 / (1 + cols)
        centres = [
            (0.25 + 0.5 * fraction, -0.5 + (1 + c) * spacing)
            for fraction in (0.25, 0.75)[:rows]
            for c in range(cols)
        ]
        order = self.rng.choice(len(centres), size=len(centres), replace=False)
        return [centres[int(i)] for i in order]

    def _place(
        self,
        name: str,
        texture: str,
        size: tuple[float, ...],
        cell: tuple[float, float],
        *,
        lift: float = 0.5,
        fixed: bool = False,
    ) -> Spawned:
        """Object `name` unrotated at `cell`, its centre `lift` times its height above the table."""
        x, y = cell
        pose = ((x, y, size[2] * lift), yaw_quaternion(0.0))
        item = self.spawn(get_object(name), get_texture(texture), size, pose, fixed=fixed)
        assert item is not None
        return item

    def _describe(self, dragged: Spawned, targets: list[Spawned]) -> None:
        """The prompt and its assets: the dragged object, then the target bases in order."""
        self.assets = {"dragged_obj": ObjectAsset(dragged.obj, dragged.texture, dragged.urdf)}
        for i, base in enumerate(targets, start=1):
            self.assets[f"base_obj_{i}"] = ObjectAsset(base.obj, base.texture, base.urdf)
        names = " then ".join(f"{{base_obj_{i}}}" for i in range(1, len(targets) + 1))
        self.prompt = (
            f"Put {{dragged_obj}} into {names}. Finally restore it into its original container."
        )
