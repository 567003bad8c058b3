"""Episode videos for a person to watch: both views side by side under the prompt (GIF)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from vima_schema.atomic import atomic_write_bytes

BANNER_LINE_PX = 12
FRAME_MS = 800


def episode_gif(frames: Sequence[dict[str, np.ndarray]], prompt: str, caption: str) -> bytes:
    """GIF bytes: one frame per observation, front | top views (CHW uint8) under the prompt
    and a caption line (e.g. the outcome); the last frame is held three times as long."""
    if not frames:
        raise ValueError("an episode video needs at least one frame")
    lines = [*textwrap.wrap(prompt, 80), caption]
    images = []
    for step, views in enumerate(frames):
        row = np.concatenate([views["front"], views["top"]], axis=2).transpose(1, 2, 0)
        height = BANNER_LINE_PX * len(lines) + 6
        canvas = Image.new("RGB", (row.shape[1], row.shape[0] + height), "white")
        canvas.paste(Image.fromarray(np.ascontiguousarray(row)), (0, height))
        draw = ImageDraw.Draw(canvas)
        for i, line in enumerate([*lines[:-1], f"{lines[-1]}  step {step}/{len(frames) - 1}"]):
            draw.text((4, 2 + i * BANNER_LINE_PX), line, fill="black")
        images.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE))
    buffer = io.BytesIO()
    durations = [FRAME_MS] * (len(images) - 1) + [FRAME_MS * 3]
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
    )
    return buffer.getvalue()


def write_episode_gif(
    path: Path, frames: Sequence[dict[str, np.ndarray]], prompt: str, caption: str
) -> Path:
    """Write `episode_gif` atomically to `path`."""
    atomic_write_bytes(path, episode_gif(frames, prompt, caption))
    return path
