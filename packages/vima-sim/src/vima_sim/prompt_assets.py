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
    PLANE_URDF,
    WORKSPACE_URDF,
    VisibleBody,
    World,
    apply_texture,
    render,
    yaw_quaternion,
)

OBJECT_POSITION = (0.5, 0.0, 0.0)


class AssetRenderer:
    """A second pybullet client used only to photograph prompt assets.

    No physics runs in it: each asset's bodies are loaded into an empty world (ids from 0),
    rendered, and removed again (highest id first, so the next asset gets the same ids), and
    textures are loaded once per client and reused.

    `observe` renders a world's observation here: the world's visible bodies are loaded once
    per scene under the same ids (invisible placeholders stand for the hidden robot, which
    TinyRenderer does not draw) and their poses copied from the world before each render.
    """

    def __init__(self) -> None:
        self.client = pb.connect(pb.DIRECT)
        self._textures: dict[str, int] = {}
        self._mirrored: list[VisibleBody] = []  # the world scene loaded here, if any

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

    def observe(self, world: World, view: str) -> tuple[np.ndarray, np.ndarray]:
        """`world.render(view)` of a textured world, rendered here with cached textures."""
        c = self.client
        if self._mirrored != world.visible:
            self._clear()
            for item in world.visible:
                while pb.getNumBodies(physicsClientId=c) < item.body:
                    pb.createMultiBody(baseMass=0, physicsClientId=c)  # a hidden robot part
                pos, orn = world.pose(item.body)
                body = pb.loadURDF(
                    item.urdf, pos, orn, useFixedBase=int(item.fixed), physicsClientId=c
                )
                if body != item.body:
                    raise RuntimeError(f"mirrored {item.urdf} got id {body}, not {item.body}")
                if item.texture is not None:
                    apply_texture(c, body, item.texture, self._textures)
            self._mirrored = list(world.visible)
        for item in world.visible:
            pos, orn = world.pose(item.body)
            pb.resetBasePositionAndOrientation(item.body, pos, orn, physicsClientId=c)
        return render(c, view)

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
            pb.loadURDF(str(ASSETS_ROOT / PLANE_URDF), [0, 0, -0.001], physicsClientId=c)
            pb.loadURDF(str(ASSETS_ROOT / WORKSPACE_URDF), [0.5, 0, 0], physicsClientId=c)
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
