"""The pybullet world: scene loading, template objects, textures and the two observation cameras."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as pb

from vima_sim.encyclopedia import ASSETS_ROOT, ObjectEntry, TextureEntry
from vima_sim.scratch import process_folder

IMAGE_SIZE = (128, 256)
TIME_STEP = 1.0 / 240.0
PLANE_URDF = "plane/plane.urdf"
WORKSPACE_URDF = "ur5/workspace.urdf"
UR5_URDF = "ur5/ur5.urdf"
SUCTION_BASE_URDF = "ur5/suction/suction-base.urdf"
SUCTION_HEAD_URDF = "ur5/suction/suction-head.urdf"
SPATULA_URDF = "ur5/spatula/spatula-base.urdf"
#: The static backdrop of every scene, loaded first (ids 0 and 1): (urdf, position).
BACKDROP = ((PLANE_URDF, (0.0, 0.0, -0.001)), (WORKSPACE_URDF, (0.5, 0.0, 0.0)))
HOME_JOINTS = np.array([-1, -0.5, 0.5, -0.5, -0.5, 0]) * np.pi
Z_SHRINK, XY_SHRINK = 1.1, 1

Pose = tuple[tuple[float, float, float], tuple[float, float, float, float]]


@dataclass(frozen=True)
class VisibleBody:
    """A body that observations show: how to load it again elsewhere (see `AssetRenderer`)."""

    body: int
    urdf: str
    fixed: bool
    texture: TextureEntry | None
    backdrop: bool = False  # plane or workspace: static, in every scene at the same pose


@dataclass(frozen=True)
class Camera:
    """A near-orthographic camera far above the workspace (VIMA-Bench's observation cameras)."""

    position: tuple[float, float, float]
    rotation: tuple[float, float, float, float]
    focal: float
    zrange: tuple[float, float]


CAMERAS: dict[str, Camera] = {
    "front": Camera(
        (1000 + 0.5 - 0.09, 0.0, 1000.0),
        tuple(pb.getQuaternionFromEuler((np.pi / 4, np.pi, -np.pi / 2))),
        640000 // 1.80,
        (900.0, 10001.0),
    ),
    "top": Camera(
        (0.5, 0.0, 1000.0),
        tuple(pb.getQuaternionFromEuler((0, np.pi, -np.pi / 2))),
        640000 // 2.55,
        (900.0, 1001.0),
    ),
}
VIEWS = ("front", "top")


def _camera_matrices(camera: Camera, size: tuple[int, int]) -> tuple[list[float], list[float]]:
    rot = np.asarray(pb.getMatrixFromQuaternion(camera.rotation), dtype=np.float32).reshape(3, 3)
    look = rot @ np.asarray([0, 0, 1], dtype=np.float32)
    up = rot @ np.asarray([0, -1, 0], dtype=np.float32)
    target = np.asarray(camera.position) + look
    view = pb.computeViewMatrix(camera.position, target, up)
    fov = 180 * np.arctan((size[0] / 2) / camera.focal) * 2 / np.pi
    proj = pb.computeProjectionMatrixFOV(fov, size[1] / size[0], *camera.zrange)
    return view, proj


_MATRICES = {view: _camera_matrices(cam, IMAGE_SIZE) for view, cam in CAMERAS.items()}


@dataclass(frozen=True)
class Layer:
    """One TinyRenderer image: RGBA (H, W, 4) uint8, depth buffer (H, W) float32 (smaller is
    nearer) and segmentation (H, W) int32 (object id + (link + 1) << 24; -1 where nothing)."""

    rgba: np.ndarray
    depth: np.ndarray
    segm: np.ndarray

    def observation(self) -> tuple[np.ndarray, np.ndarray]:
        """RGB (3, H, W) uint8 and segmentation (H, W) uint8 (object id, low 8 bits)."""
        rgb = np.ascontiguousarray(self.rgba[:, :, :3].transpose(2, 0, 1))
        return rgb, self.segm.astype(np.int64).astype(np.uint8)


def render_layer(client: int, view: str) -> Layer:
    """Render one observation view of a client with its depth buffer."""
    view_m, proj_m = _MATRICES[view]
    height, width = IMAGE_SIZE
    _, _, color, depth, segm = pb.getCameraImage(
        width=width,
        height=height,
        viewMatrix=view_m,
        projectionMatrix=proj_m,
        flags=pb.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX,
        renderer=pb.ER_TINY_RENDERER,
        physicsClientId=client,
    )
    return Layer(
        np.asarray(color, dtype=np.uint8).reshape(height, width, 4),
        np.asarray(depth, dtype=np.float32).reshape(height, width),
        np.asarray(segm, dtype=np.int32).reshape(height, width),
    )


def render(client: int, view: str) -> tuple[np.ndarray, np.ndarray]:
    """RGB (3, 128, 256) uint8 and segmentation (128, 256) uint8 (object id, low 8 bits)."""
    return render_layer(client, view).observation()


def _fmt(value: float) -> str:
    return str(value)


def template_replacements(
    obj: ObjectEntry, size: tuple[float, ...], scaling: float | tuple[float, ...]
) -> dict[str, list[str]]:
    """Placeholder values of a template URDF, computed as VIMA-Bench's replace functions do."""
    scale_vec = [scaling] * 3 if isinstance(scaling, float | int) else list(scaling)
    fn = None if obj.replace_fn is None else obj.replace_fn["name"]
    if fn in ("_kit_obj_common", "_google_scanned_obj_common"):
        assert obj.mesh is not None and obj.mesh_scale is not None
        if isinstance(scaling, float | int):
            scale = [s * scaling for s in obj.mesh_scale]
        else:
            scale = [s1 * s2 for s1, s2 in zip(scale_vec, obj.mesh_scale, strict=True)]
        return {
            "FNAME": [str(asset_path(obj.mesh))],
            "SCALE": [
                _fmt(scale[0] / XY_SHRINK),
                _fmt(scale[1] / XY_SHRINK),
                _fmt(scale[2] / Z_SHRINK),
            ],
        }
    dims = list(size)
    if fn == "container_replace_fn":
        dims = [v / XY_SHRINK if i < 2 else v / Z_SHRINK for i, v in enumerate(dims)]
    if isinstance(scaling, float | int):
        dims = [s * scaling for s in dims]
    else:
        dims = [s1 * s2 for s1, s2 in zip(scale_vec, dims, strict=True)]
    out = {"DIM": [_fmt(d) for d in dims]}
    if fn == "container_replace_fn":
        out["HALF"] = [str(h) for h in np.asarray(dims, dtype=np.float32) / 2]
    return out


class World:
    """One pybullet DIRECT client with VIMA-Bench's workspace, arm and suction cup.

    With `textured=False` image textures are not loaded into this client and the plane and
    workspace are hidden: its own renders are then only good for the objects' depth and
    segmentation, which is what the oracle's top-down map and the placement sampler read
    (the bare workspace reads as height 0 either way, its id as 2**24 - 1 instead of 0 or 1).
    The environment renders observations in a persistent second client from `visible`,
    where each texture image is decoded once per process instead of once per reset.
    """

    def __init__(self, *, textured: bool = True) -> None:
        self.client = -1
        self.textured = textured
        self.visible: list[VisibleBody] = []
        self._tmp = Path(tempfile.mkdtemp(prefix="world-", dir=process_folder()))
        # the template folder goes away with the world, also when close() is never called
        # (and with the process's folder at exit: `vima_sim.scratch`)
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        self.ur5 = -1
        self.suction_base = -1
        self.suction_head = -1
        self.joints: list[int] = []
        self.rigid: list[int] = []
        self.fixed: list[int] = []
        self.ticks = 0

    def close(self) -> None:
        """Disconnect and remove the template files."""
        if self.client >= 0:
            pb.disconnect(physicsClientId=self.client)
            self.client = -1
        self._cleanup()

    # -- scene ------------------------------------------------------------------------------
    def reset(self, *, with_robot: bool = True, spatula: bool = False) -> None:
        """A fresh world: plane (id 0), workspace (1), arm (2), suction (3, 4) or spatula (3).

        `resetSimulation` replaces the dynamics world (bodies, constraints, solver caches,
        broadphase), so an episode never depends on earlier ones, at a sixtieth of the cost of
        a new client. Image textures would not survive it, which is why a `textured` world
        reconnects instead (and why `VimaEnv` renders observations elsewhere).
        """
        if self.client >= 0 and not self.textured:
            pb.resetSimulation(physicsClientId=self.client)
        else:
            if self.client >= 0:
                pb.disconnect(physicsClientId=self.client)
            self.client = pb.connect(pb.DIRECT)
        c = self.client
        pb.setAdditionalSearchPath(str(ASSETS_ROOT), physicsClientId=c)
        pb.setGravity(0, 0, -9.8, physicsClientId=c)
        pb.setTimeStep(TIME_STEP, physicsClientId=c)
        self.rigid, self.fixed, self.ticks = [], [], 0
        self.visible = []
        for urdf, position in BACKDROP:
            body = pb.loadURDF(str(ASSETS_ROOT / urdf), position, physicsClientId=c)
            self.visible.append(VisibleBody(body, str(ASSETS_ROOT / urdf), False, None, True))
            if not self.textured:
                _hide(body, c)  # a twelfth of the top-down map's cost; heights stay 0 there
        if not with_robot:
            return
        self.ur5 = pb.loadURDF(self._without_visuals(UR5_URDF), physicsClientId=c)
        if spatula:
            self.suction_base, _ = self._mount(SPATULA_URDF, (0.487, 0.109, 0.438), 0.01)
            self.suction_head = -1
            self._finish_robot((self.ur5, self.suction_base))
            return
        self.suction_base, _ = self._mount(SUCTION_BASE_URDF, (0.487, 0.109, 0.438), 0.01)
        self.suction_head, head = self._mount(SUCTION_HEAD_URDF, (0.487, 0.109, 0.347), -0.08)
        pb.changeConstraint(head, maxForce=50, physicsClientId=c)
        self._finish_robot((self.ur5, self.suction_base, self.suction_head))

    def _without_visuals(self, relative: str) -> str:
        """A copy of a packaged URDF without its visual elements, meshes by absolute path.

        For the arm, which is hidden (TinyRenderer skips it): its 4.7 MB of visual meshes made
        up 95 % of the cost of loading it; collision shapes and inertia are unchanged.
        """
        path = self._tmp / f"{Path(relative).stem}.no-visuals.urdf"
        if not path.exists():
            source = asset_path(relative)
            text = re.sub(r"\s*<visual>.*?</visual>", "", source.read_text("utf-8"), flags=re.S)
            text = re.sub(
                r'filename="([^"/][^"]*)"', lambda m: f'filename="{source.parent / m[1]}"', text
            )
            path.write_text(text, encoding="utf-8")
        return str(path)

    def _mount(
        self, urdf: str, position: tuple[float, float, float], offset: float
    ) -> tuple[int, int]:
        """(body, constraint): a tool facing down, fixed to the arm's last link at z `offset`."""
        c = self.client
        down = pb.getQuaternionFromEuler((np.pi, 0, 0))
        body = pb.loadURDF(str(ASSETS_ROOT / urdf), position, down, physicsClientId=c)
        constraint = pb.createConstraint(
            self.ur5, 9, body, -1, pb.JOINT_FIXED, (0, 0, 0), (0, 0, 0), (0, 0, offset),
            physicsClientId=c,
        )  # fmt: skip
        return body, constraint

    def _finish_robot(self, bodies: tuple[int, ...]) -> None:
        """Hide the robot and put the arm at its home joints."""
        c = self.client
        for body in bodies:
            _hide(body, c)
        n = pb.getNumJoints(self.ur5, physicsClientId=c)
        infos = [pb.getJointInfo(self.ur5, i, physicsClientId=c) for i in range(n)]
        self.joints = [info[0] for info in infos if info[2] == pb.JOINT_REVOLUTE]
        for joint, value in zip(self.joints, HOME_JOINTS, strict=True):
            pb.resetJointState(self.ur5, joint, value, physicsClientId=c)

    def urdf_for(
        self, obj: ObjectEntry, size: tuple[float, ...], scaling: float | tuple[float, ...] = 1.0
    ) -> str:
        """Path of the URDF of `obj` at `size` (a filled template, cached by content)."""
        source = asset_path(obj.assets)
        if not obj.from_template:
            return str(source)
        text = source.read_text(encoding="utf-8")
        for key, values in template_replacements(obj, size, scaling).items():
            for i, value in enumerate(values):
                text = text.replace(f"{key}{i}", value)
        digest = hashlib.sha1(text.encode()).hexdigest()[:16]
        path = self._tmp / f"{Path(obj.assets).name}.{digest}.urdf"
        if not path.exists():
            path.write_text(text, encoding="utf-8")
        return str(path)

    def add_object(
        self,
        obj: ObjectEntry,
        texture: TextureEntry,
        size: tuple[float, ...],
        pose: Pose,
        *,
        fixed: bool,
        scaling: float | tuple[float, ...] = 1.0,
    ) -> int:
        """Load an object with its texture; return its body id."""
        urdf = self.urdf_for(obj, size, scaling)
        body = pb.loadURDF(
            urdf, pose[0], pose[1], useFixedBase=int(fixed), physicsClientId=self.client
        )
        if self.textured:
            apply_texture(self.client, body, texture)
        (self.fixed if fixed else self.rigid).append(body)
        self.visible.append(VisibleBody(body, urdf, fixed, texture))
        return body

    def render(self, view: str) -> tuple[np.ndarray, np.ndarray]:
        """Render one observation view."""
        return render(self.client, view)

    def pose(self, body: int) -> Pose:
        """Base position and orientation of a body."""
        pos, orn = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
        return tuple(pos), tuple(orn)  # type: ignore[return-value]


def asset_path(relative: str) -> Path:
    """Absolute path of a packaged asset; FileNotFoundError naming it if it is missing."""
    path = ASSETS_ROOT / relative
    if not path.is_file():
        raise FileNotFoundError(f"vima-sim asset {relative!r} is missing (looked for {path})")
    return path


def _hide(body: int, client: int) -> None:
    for shape in pb.getVisualShapeData(body, physicsClientId=client):
        pb.changeVisualShape(body, shape[1], rgbaColor=[*shape[7][:3], 0], physicsClientId=client)


def apply_texture(
    client: int, body: int, texture: TextureEntry, cache: dict[str, int] | None = None
) -> None:
    """Colour or texture link -1 of a body as VIMA-Bench does (image ids cached in `cache`)."""
    if texture.color is not None:
        pb.changeVisualShape(body, -1, rgbaColor=[*texture.color, 1], physicsClientId=client)
    else:
        assert texture.asset is not None
        tex = None if cache is None else cache.get(texture.asset)
        if tex is None:
            tex = pb.loadTexture(str(asset_path(texture.asset)), physicsClientId=client)
            if cache is not None:
                cache[texture.asset] = tex
        pb.changeVisualShape(body, -1, textureUniqueId=tex, physicsClientId=client)


def yaw_quaternion(theta: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a rotation by `theta` about z (pybullet's convention)."""
    return tuple(pb.getQuaternionFromEuler((0.0, 0.0, theta)))  # type: ignore[return-value]
