"""Synthetic corpora made from real episodes: test and benchmark support, not shipped (tests import
it through pytest's `pythonpath`, benchmarks put `tests/support` on `sys.path`).

Copies are re-indexed; with `vary=True` every image of a copy is also shifted sideways by a
few pixels (JPEG frames re-encoded with Pillow defaults, as the VIMA generator does), so no
two copies share bytes and compression figures stay realistic.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from vima_schema.enums import View
from vima_schema.jpeg import decode_jpeg
from vima_schema.models import Episode
from vima_schema.writer import write_episode


def _shift_jpeg(data: bytes, shift: int) -> bytes:
    pixels = np.roll(decode_jpeg(data), shift, axis=2).transpose(1, 2, 0)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(out, format="JPEG")
    return out.getvalue()


def varied_copy(episode: Episode, index: int, shift: int) -> Episode:
    """A copy of `episode` with a new index and every image shifted `shift` pixels sideways."""
    if shift == 0:
        return episode.model_copy(update={"index": index})
    frames = {v: [_shift_jpeg(f, shift) for f in fs] for v, fs in episode.frames.items()}
    segm: dict[View, np.ndarray] = {
        v: np.ascontiguousarray(np.roll(a, shift, axis=2)) for v, a in episode.segm.items()
    }
    assets = {
        name: asset.model_copy(
            update={
                "rgb": {
                    v: np.ascontiguousarray(np.roll(a, shift, axis=2)) for v, a in asset.rgb.items()
                },
                "segm": {
                    v: np.ascontiguousarray(np.roll(a, shift, axis=1))
                    for v, a in asset.segm.items()
                },
            }
        )
        for name, asset in episode.prompt_assets.items()
    }
    return episode.model_copy(
        update={"index": index, "frames": frames, "segm": segm, "prompt_assets": assets}
    )


def write_corpus(
    samples: Sequence[Episode], root: Path, episodes: int, *, vary: bool = True, start: int = 0
) -> list[Path]:
    """Write `episodes` copies of `samples` (round-robin) under `root/<task>/<NNNNNN>/`."""
    folders = []
    for number in range(episodes):
        sample = samples[number % len(samples)]
        shift = (number // len(samples)) % 97 + 1 if vary else 0
        folders.append(write_episode(varied_copy(sample, start + number, shift), root))
    return folders
