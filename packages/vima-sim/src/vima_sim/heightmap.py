"""Top-down height and object-id maps of the workspace (the oracle's privileged view)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as pb

from vima_sim.world import CAMERAS, Camera, _camera_matrices

PIXEL = 0.003125  # metres per heightmap pixel
X_RANGE = (0.25, 0.75)
Y_RANGE = (-0.5, 0.5)
SHAPE = (160, 320)  # rows follow x, columns follow y
_CAMERA = Camera((0.5, 0.0, 1000.0), CAMERAS["top"].rotation, 1000.0 / PIXEL, (999.7, 1001.0))
_MATRICES = _camera_matrices(_CAMERA, SHAPE)


@dataclass(frozen=True)
class TopDown:
    """Heights (m) and object ids per pixel; row i is x = 0.25 + i * PIXEL, column j is y."""

    height: np.ndarray
    ids: np.ndarray


def capture(client: int) -> TopDown:
    """Render the top-down maps with a far, narrow camera (near-orthographic)."""
    rows, cols = SHAPE
    _, _, _, depth, segm = pb.getCameraImage(
        cols, rows, _MATRICES[0], _MATRICES[1], renderer=pb.ER_TINY_RENDERER,
        physicsClientId=client,
    )  # fmt: skip
    near, far = _CAMERA.zrange
    zbuf = np.asarray(depth, dtype=np.float64).reshape(rows, cols)
    distance = far * near / (far - (far - near) * zbuf)
    height = np.clip(_CAMERA.position[2] - distance, 0.0, None)
    ids = np.asarray(segm).reshape(rows, cols).astype(np.int64) & ((1 << 24) - 1)
    return TopDown(height=height, ids=ids)


def pixel_to_xy(row: int, col: int) -> tuple[float, float]:
    """World (x, y) of a heightmap pixel."""
    return X_RANGE[0] + row * PIXEL, Y_RANGE[0] + col * PIXEL


def erode(mask: np.ndarray, size: int) -> np.ndarray:
    """Binary erosion with a size x size square (outside counts as set, anchor at the centre)."""
    if size <= 1:
        return mask.copy()
    before, after = size // 2, size - 1 - size // 2
    padded = np.pad(mask.astype(np.int64), ((before, after), (before, after)), constant_values=1)
    table = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1), dtype=np.int64)
    table[1:, 1:] = padded.cumsum(0).cumsum(1)
    rows, cols = mask.shape
    window = (
        table[size : size + rows, size : size + cols]
        - table[:rows, size : size + cols]
        - table[size : size + rows, :cols]
        + table[:rows, :cols]
    )
    return (window == size * size).astype(mask.dtype)


def sample_pixel(mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A uniformly random set pixel of `mask`."""
    flat = np.flatnonzero(mask.ravel())
    index = int(flat[rng.integers(len(flat))])
    return divmod(index, mask.shape[1])
