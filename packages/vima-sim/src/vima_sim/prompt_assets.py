"""The persistent rendering client: prompt images (objects alone, id 0 on background 255, and whole
scenes, ids from 2) and the observations of a `World` built with `textured=False`."""

from __future__ import annotations

from collections.abc import Hashable

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
    VisibleBody,
    World,
    apply_texture,
    render_layer,
    yaw_quaternion,
)

OBJECT_POSITION = (0.5, 0.0, 0.0)
#: Depth-buffer values this close cannot be ordered: TinyRenderer tests its internal depths but
#: returns them rounded through a float transform that is monotonic only to within one unit in
#: the last place (checked over every float of the scene's depth range, `docs/SIMULATOR.md`).
DEPTH_TIE = 2e-7
#: Remembered tie outcomes kept at most (then forgotten and learnt again).
MAX_TIES = 20_000

#: A pixel where an object's depth ties with the backdrop's: (view, pixel, segmentation value,
#: depth, the object's identity: how it was placed, its URDF and pose). Its outcome is fixed
#: while the object does not move.
TieKey = tuple[str, int, int, float, Hashable]


class AssetRenderer:
    """A second pybullet client used only to photograph prompt assets and observations.

    No physics runs in it. Plane and workspace (the backdrop) stay loaded as bodies 0 and 1,
    hidden; each asset's bodies are loaded after them (ids from 2), rendered, and removed
    again (highest id first, so the next asset gets the same ids), and textures are loaded
    once per client and reused. An object asset's image shows its id as 0, as a client with
    nothing else in it would.

    `observe` renders a world's observation here: the world's visible bodies are loaded once
    per scene under the same ids (invisible placeholders stand for the hidden robot, which
    TinyRenderer does not draw) and their poses copied from the world before each render.

    The backdrop (most of a render's cost, and it never moves) is rendered once per client.
    Observations and prompt scenes render the objects alone and put them over it by depth
    (`_composite`): the pixels a render of the whole scene gives. Where an object's depth ties
    with the backdrop's, the whole scene is rendered once and the outcome kept for that pixel
    while the object stays put.
    """

    def __init__(self) -> None:
        self.client = pb.connect(pb.DIRECT)
        self._textures: dict[str, int] = {}
        self._mirrored: list[VisibleBody] = []  # the world scene loaded here, if any
        self._colors: list[tuple[int, int, list[float]]] = []  # backdrop (body, link, rgba)
        self._ties: dict[TieKey, bool] = {}  # whether the object is in front
        for urdf, position in BACKDROP:
            body = pb.loadURDF(str(ASSETS_ROOT / urdf), position, physicsClientId=self.client)
            shapes = pb.getVisualShapeData(body, physicsClientId=self.client)
            self._colors += [(body, shape[1], list(shape[7])) for shape in shapes]
        self._backdrop = {view: render_layer(self.client, view) for view in VIEWS}
        self._show_backdrop(False)

    def close(self) -> None:
        """Disconnect."""
        if self.client >= 0:
            pb.disconnect(physicsClientId=self.client)
            self.client = -1

    def _clear(self) -> None:
        """Remove every body but the backdrop, highest id first (so ids start from 2 again)."""
        c = self.client
        for body in sorted(range(len(BACKDROP), pb.getNumBodies(physicsClientId=c)), reverse=True):
            pb.removeBody(pb.getBodyUniqueId(body, physicsClientId=c), physicsClientId=c)
        self._mirrored = []

    def _show_backdrop(self, show: bool) -> None:
        """Give the backdrop its colours, or alpha 0 (TinyRenderer then skips it)."""
        for body, link, rgba in self._colors:
            color = rgba if show else [*rgba[:3], 0.0]
            pb.changeVisualShape(body, link, rgbaColor=color, physicsClientId=self.client)

    def _mirror(self, world: World) -> None:
        """Load the world's visible bodies here under the same ids (its backdrop is ours)."""
        self._clear()
        c = self.client
        for item in world.visible:
            if item.backdrop:
                if item.body >= len(BACKDROP):
                    raise RuntimeError(f"backdrop body {item.body} is not among the first")
                continue
            while pb.getNumBodies(physicsClientId=c) < item.body:
                pb.createMultiBody(baseMass=0, physicsClientId=c)  # a hidden robot part
            pos, orn = world.pose(item.body)
            body = pb.loadURDF(item.urdf, pos, orn, useFixedBase=int(item.fixed), physicsClientId=c)
            if body != item.body:
                raise RuntimeError(f"mirrored {item.urdf} got id {body}, not {item.body}")
            if item.texture is not None:
                apply_texture(c, body, item.texture, self._textures)
        self._mirrored = list(world.visible)

    def observe(self, world: World, view: str) -> tuple[np.ndarray, np.ndarray]:
        """`world.render(view)` of a textured world, rendered here with cached textures."""
        if self._mirrored != world.visible:
            self._mirror(world)
        identities: dict[int, Hashable] = {}
        for item in world.visible:
            if not item.backdrop:
                pose = world.pose(item.body)
                pb.resetBasePositionAndOrientation(item.body, *pose, physicsClientId=self.client)
                identities[item.body] = ("world", item.urdf, pose)
        return self._draw(view, identities)

    def _draw(self, view: str, identities: dict[int, Hashable]) -> tuple[np.ndarray, np.ndarray]:
        """Render the loaded objects over the backdrop (`identities`: body -> identity)."""
        objects = render_layer(self.client, view)
        layer = self._composite(view, objects, identities)
        if layer is None:  # a depth tie not seen before: render the whole scene once
            self._show_backdrop(True)
            layer = render_layer(self.client, view)
            self._show_backdrop(False)
            self._learn_ties(view, objects, layer, identities)
        return layer.observation()

    def _tie_keys(
        self, view: str, objects: Layer, identities: dict[int, Hashable]
    ) -> tuple[list[int], list[TieKey]]:
        """Pixels where objects and backdrop are too close in depth to order, with their keys
        (fewer keys than pixels when a pixel's body has no identity)."""
        drawn = objects.segm >= 0
        gap = np.abs(objects.depth - self._backdrop[view].depth)
        pixels = np.flatnonzero(drawn & (gap <= DEPTH_TIE)).tolist()
        keys: list[TieKey] = []
        for pixel in pixels:
            value = int(objects.segm.flat[pixel])
            identity = identities.get(value & 0xFFFFFF)
            if identity is None or value >> 24 != 0:  # only base links of known bodies
                break
            keys.append((view, pixel, value, float(objects.depth.flat[pixel]), identity))
        return pixels, keys

    def _composite(
        self, view: str, objects: Layer, identities: dict[int, Hashable]
    ) -> Layer | None:
        """The objects over the backdrop as one render of both draws them (the backdrop
        first, so an object wins a tie of internal depths); None when a tie's outcome is
        not known yet."""
        back = self._backdrop[view]
        front = (objects.segm >= 0) & (objects.depth < back.depth)
        pixels, keys = self._tie_keys(view, objects, identities)
        if len(keys) < len(pixels):
            return None
        for pixel, key in zip(pixels, keys, strict=True):
            won = self._ties.get(key)
            if won is None:
                return None
            front.flat[pixel] = won
        return Layer(
            np.where(front[:, :, None], objects.rgba, back.rgba),
            np.where(front, objects.depth, back.depth),
            np.where(front, objects.segm, back.segm),
        )

    def _learn_ties(
        self, view: str, objects: Layer, whole: Layer, identities: dict[int, Hashable]
    ) -> None:
        """Remember which side won each tie in a render of the whole scene."""
        if len(self._ties) > MAX_TIES:
            self._ties.clear()
        back = self._backdrop[view]
        pixels, keys = self._tie_keys(view, objects, identities)
        for pixel, key in zip(pixels, keys, strict=False):
            value = int(whole.segm.flat[pixel])
            if value == key[2]:
                self._ties[key] = True
            elif value == int(back.segm.flat[pixel]):
                self._ties[key] = False

    def render(self, asset: ObjectAsset | SceneAsset) -> PromptAsset:
        """The prompt asset as a raw episode stores it."""
        if isinstance(asset, SceneAsset):
            return self._render_scene(asset)
        self._clear()
        c = self.client
        body = pb.loadURDF(
            asset.urdf, OBJECT_POSITION, yaw_quaternion(np.pi / 2),
            globalScaling=asset.global_scaling, physicsClientId=c,
        )  # fmt: skip
        apply_texture(c, body, asset.texture, self._textures)
        infos = [AssetObject(obj_id=0, obj_name=asset.obj.name, obj_color=asset.texture.name)]
        rgb, segm = {}, {}
        for view in (View.front, View.top):
            layer = render_layer(c, view.value)
            ours = (layer.segm >= 0) & ((layer.segm & 0xFFFFFF) == body)
            renumbered = Layer(
                layer.rgba, layer.depth, np.where(ours, layer.segm - body, layer.segm)
            )
            rgb[view], segm[view] = renumbered.observation()
        self._clear()
        return PromptAsset(
            placeholder_type=PlaceholderType.object, rgb=rgb, segm=segm, obj_info=infos
        )

    def _render_scene(self, asset: SceneAsset) -> PromptAsset:
        """A workspace scene: the backdrop (ids 0, 1) and the objects (ids from 2)."""
        self._clear()
        c = self.client
        infos, identities = [], {}
        for obj, texture, urdf, pose in asset.objects:
            body = pb.loadURDF(urdf, pose[0], pose[1], physicsClientId=c)
            apply_texture(c, body, texture, self._textures)
            infos.append(AssetObject(obj_id=body, obj_name=obj.name, obj_color=texture.name))
            identities[body] = ("scene", urdf, pose)
        rgb, segm = {}, {}
        for view in (View.top, View.front):
            rgb[view], segm[view] = self._draw(view.value, identities)
        self._clear()
        return PromptAsset(
            placeholder_type=PlaceholderType.scene, rgb=rgb, segm=segm, obj_info=infos
        )
