"""The persistent rendering client: prompt images (objects alone, id 0 on background 255, and whole
scenes, ids from 2) and the observations of a `World` built with `textured=False`."""

from __future__ import annotations

import numpy as np
import pybullet as pb
from vima_schema.enums import PlaceholderType, View
from vima_schema.models import AssetObject, PromptAsset

from vima_sim.encyclopedia import ASSETS_ROOT
from vima_sim.tasks.base import ObjectAsset, SceneAsset
from vima_sim.world import (
    BACKDROP,
    VIEWS,
    Layer,
    Pose,
    VisibleBody,
    World,
    apply_texture,
    render,
    render_layer,
    yaw_quaternion,
)

OBJECT_POSITION = (0.5, 0.0, 0.0)
#: Depth-buffer values this close cannot be ordered: TinyRenderer tests its internal depths but
#: returns them rounded through a float transform that is monotonic only to within one unit in
#: the last place (checked over every float of the scene's depth range, `docs/SIMULATOR.md`).
DEPTH_TIE = 2e-7

#: A pixel where an object's depth ties with the backdrop's: (view, pixel, segmentation value,
#: depth, the object's pose). Its outcome is fixed while the object does not move.
TieKey = tuple[str, int, int, float, Pose]


class AssetRenderer:
    """A second pybullet client used only to photograph prompt assets and observations.

    No physics runs in it: each asset's bodies are loaded into an empty world (ids from 0),
    rendered, and removed again (highest id first, so the next asset gets the same ids), and
    textures are loaded once per client and reused.

    `observe` renders a world's observation here: the world's visible bodies are loaded once
    per scene under the same ids (invisible placeholders stand for the hidden robot, which
    TinyRenderer does not draw) and their poses copied from the world before each render.
    The plane and workspace (the backdrop: most of a render's cost, and they never move) are
    rendered once per client; they stay hidden and each observation renders the objects alone
    and puts them over the backdrop by depth (`_composite`), which gives the pixels a render
    of the whole scene gives. Where an object's depth ties with the backdrop's, the whole
    scene is rendered once and the outcome kept for that pixel while the object stays put.
    """

    def __init__(self) -> None:
        self.client = pb.connect(pb.DIRECT)
        self._textures: dict[str, int] = {}
        self._mirrored: list[VisibleBody] = []  # the world scene loaded here, if any
        self._backdrop: dict[str, Layer] = {}  # per view, rendered on first use
        self._colors: list[tuple[int, int, list[float]]] = []  # backdrop (body, link, rgba)
        self._ties: dict[TieKey, bool] = {}  # whether the object is in front, this scene

    def close(self) -> None:
        """Disconnect."""
        if self.client >= 0:
            pb.disconnect(physicsClientId=self.client)
            self.client = -1

    def _clear(self) -> None:
        """Remove every body, highest id first (so ids start from 0 again)."""
        c = self.client
        for body in sorted(range(pb.getNumBodies(physicsClientId=c)), reverse=True):
            pb.removeBody(pb.getBodyUniqueId(body, physicsClientId=c), physicsClientId=c)
        self._mirrored = []

    def _render_backdrop(self) -> None:
        """Render plane and workspace alone, once per client (this clears the client)."""
        if self._backdrop:
            return
        self._clear()
        for urdf, position in BACKDROP:
            pb.loadURDF(str(ASSETS_ROOT / urdf), position, physicsClientId=self.client)
        self._backdrop = {view: render_layer(self.client, view) for view in VIEWS}
        self._clear()

    def _mirror(self, world: World) -> None:
        """Load the world's visible bodies here under the same ids, the backdrop hidden."""
        self._render_backdrop()
        self._clear()
        c = self.client
        self._colors, self._ties = [], {}
        for item in world.visible:
            while pb.getNumBodies(physicsClientId=c) < item.body:
                pb.createMultiBody(baseMass=0, physicsClientId=c)  # a hidden robot part
            pos, orn = world.pose(item.body)
            body = pb.loadURDF(item.urdf, pos, orn, useFixedBase=int(item.fixed), physicsClientId=c)
            if body != item.body:
                raise RuntimeError(f"mirrored {item.urdf} got id {body}, not {item.body}")
            if item.texture is not None:
                apply_texture(c, body, item.texture, self._textures)
            if item.backdrop:
                shapes = pb.getVisualShapeData(body, physicsClientId=c)
                self._colors += [(body, shape[1], list(shape[7])) for shape in shapes]
        self._show_backdrop(False)
        self._mirrored = list(world.visible)

    def _show_backdrop(self, show: bool) -> None:
        """Give the backdrop its colours back, or alpha 0 (TinyRenderer then skips it)."""
        for body, link, rgba in self._colors:
            color = rgba if show else [*rgba[:3], 0.0]
            pb.changeVisualShape(body, link, rgbaColor=color, physicsClientId=self.client)

    def observe(self, world: World, view: str) -> tuple[np.ndarray, np.ndarray]:
        """`world.render(view)` of a textured world, rendered here with cached textures."""
        if self._mirrored != world.visible:
            self._mirror(world)
        poses: dict[int, Pose] = {}
        for item in world.visible:
            if not item.backdrop:
                poses[item.body] = world.pose(item.body)
                pb.resetBasePositionAndOrientation(
                    item.body, *poses[item.body], physicsClientId=self.client
                )
        objects = render_layer(self.client, view)
        layer = self._composite(view, objects, poses)
        if layer is None:  # a depth tie not seen before: render the whole scene once
            self._show_backdrop(True)
            layer = render_layer(self.client, view)
            self._show_backdrop(False)
            self._learn_ties(view, objects, layer, poses)
        return layer.observation()

    def _tie_keys(
        self, view: str, objects: Layer, poses: dict[int, Pose]
    ) -> tuple[np.ndarray, list[TieKey]]:
        """Pixels where objects and backdrop are too close in depth to order, with their keys."""
        drawn = objects.segm >= 0
        gap = np.abs(objects.depth - self._backdrop[view].depth)
        pixels = np.flatnonzero(drawn & (gap <= DEPTH_TIE))
        keys = []
        for pixel in pixels.tolist():
            value = int(objects.segm.flat[pixel])
            pose = poses.get(value & 0xFFFFFF)
            if pose is None or value >> 24 != 0:  # only base links of mirrored objects
                return pixels, []
            keys.append((view, pixel, value, float(objects.depth.flat[pixel]), pose))
        return pixels, keys

    def _composite(self, view: str, objects: Layer, poses: dict[int, Pose]) -> Layer | None:
        """The objects over the backdrop as one render of both draws them (the backdrop
        first); None when a tie's outcome is not known yet."""
        back = self._backdrop[view]
        front = (objects.segm >= 0) & (objects.depth < back.depth)
        pixels, keys = self._tie_keys(view, objects, poses)
        if len(keys) < len(pixels):
            return None
        for pixel, key in zip(pixels.tolist(), keys, strict=True):
            won = self._ties.get(key)
            if won is None:
                return None
            front.flat[pixel] = won
        return Layer(
            np.where(front[:, :, None], objects.rgba, back.rgba),
            np.where(front, objects.depth, back.depth),
            np.where(front, objects.segm, back.segm),
        )

    def _learn_ties(self, view: str, objects: Layer, whole: Layer, poses: dict[int, Pose]) -> None:
        """Remember which side won each tie in a render of the whole scene."""
        pixels, keys = self._tie_keys(view, objects, poses)
        for pixel, key in zip(pixels.tolist(), keys, strict=True):
            value = int(whole.segm.flat[pixel])
            if value == key[2]:
                self._ties[key] = True
            elif value == int(self._backdrop[view].segm.flat[pixel]):
                self._ties[key] = False

    def render(self, asset: ObjectAsset | SceneAsset) -> PromptAsset:
        """The prompt asset as a raw episode stores it."""
        if self._mirrored:
            self._clear()
        c = self.client
        if isinstance(asset, ObjectAsset):
            body = pb.loadURDF(
                asset.urdf, OBJECT_POSITION, yaw_quaternion(np.pi / 2),
                globalScaling=asset.global_scaling, physicsClientId=c,
            )  # fmt: skip
            apply_texture(c, body, asset.texture, self._textures)
            infos = [
                AssetObject(obj_id=body, obj_name=asset.obj.name, obj_color=asset.texture.name)
            ]
            views = (View.front, View.top)
            kind = PlaceholderType.object
        else:
            for urdf, position in BACKDROP:
                pb.loadURDF(str(ASSETS_ROOT / urdf), position, physicsClientId=c)
            infos = []
            for obj, texture, urdf, pose in asset.objects:
                body = pb.loadURDF(urdf, pose[0], pose[1], physicsClientId=c)
                apply_texture(c, body, texture, self._textures)
                infos.append(AssetObject(obj_id=body, obj_name=obj.name, obj_color=texture.name))
            views = (View.top, View.front)
            kind = PlaceholderType.scene
        rgb, segm = {}, {}
        for view in views:
            rgb[view], segm[view] = render(c, view.value)
        self._clear()
        return PromptAsset(placeholder_type=kind, rgb=rgb, segm=segm, obj_info=infos)
