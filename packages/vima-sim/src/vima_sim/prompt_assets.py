"""Rendering prompt images: objects alone (id 0 on background 255) and whole scenes (ids from 2)."""

from __future__ import annotations

import numpy as np
import pybullet as pb
from vima_schema.enums import PlaceholderType, View
from vima_schema.models import AssetObject, PromptAsset

from vima_sim.encyclopedia import ASSETS_ROOT
from vima_sim.tasks.base import ObjectAsset, SceneAsset
from vima_sim.world import PLANE_URDF, WORKSPACE_URDF, apply_texture, render, yaw_quaternion

OBJECT_POSITION = (0.5, 0.0, 0.0)


class AssetRenderer:
    """A second pybullet client used only to photograph prompt assets.

    No physics runs in it: each asset's bodies are loaded into an empty world (ids from 0),
    rendered, and removed again (highest id first, so the next asset gets the same ids), and
    textures are loaded once per client and reused.
    """

    def __init__(self) -> None:
        self.client = pb.connect(pb.DIRECT)
        self._textures: dict[str, int] = {}

    def close(self) -> None:
        """Disconnect."""
        if self.client >= 0:
            pb.disconnect(physicsClientId=self.client)
            self.client = -1

    def render(self, asset: ObjectAsset | SceneAsset) -> PromptAsset:
        """The prompt asset as a raw episode stores it."""
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
        for body in sorted(range(pb.getNumBodies(physicsClientId=c)), reverse=True):
            pb.removeBody(pb.getBodyUniqueId(body, physicsClientId=c), physicsClientId=c)
        return PromptAsset(placeholder_type=kind, rgb=rgb, segm=segm, obj_info=infos)
