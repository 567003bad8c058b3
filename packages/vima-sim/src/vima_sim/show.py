"""`vima-sim show`: one picture of a reset (prompt text, prompt images, both camera views)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from vima_schema.models import PromptAsset

MARGIN = 8
TEXT_HEIGHT = 16


def _tile(chw: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)), mode="RGB")


def reset_picture(obs: dict[str, Any], info: dict[str, Any]) -> Image.Image:
    """The prompt, each prompt asset (front and top) and the first observation (front and top)."""
    assets: dict[str, PromptAsset] = info["prompt_assets"]
    rows: list[tuple[str, list[Image.Image]]] = [
        (
            f"{{{name}}} ({asset.placeholder_type.value})",
            [_tile(asset.rgb[v]) for v in sorted(asset.rgb)],
        )
        for name, asset in assets.items()
    ]
    rows.append(
        ("observation (front, top)", [_tile(obs["rgb"]["front"]), _tile(obs["rgb"]["top"])])
    )
    width = 2 * 256 + 3 * MARGIN
    height = TEXT_HEIGHT * 2 + sum(TEXT_HEIGHT + 128 + MARGIN for _ in rows) + MARGIN
    canvas = Image.new("RGB", (max(width, 8 * len(info["prompt"]) + 2 * MARGIN), height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((MARGIN, MARGIN), info["prompt"], fill="black")
    y = TEXT_HEIGHT * 2
    for label, tiles in rows:
        draw.text((MARGIN, y), label, fill="black")
        y += TEXT_HEIGHT
        for k, tile in enumerate(tiles):
            canvas.paste(tile, (MARGIN + k * (256 + MARGIN), y))
        y += 128 + MARGIN
    return canvas
