"""Cheap structural checks of JPEG frames, and full decoding on request."""

from __future__ import annotations

import io

import numpy as np

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def jpeg_problem(data: bytes, width: int, height: int) -> str | None:
    """Return what is wrong with a JPEG without decoding its pixels, or None.

    Checks the start and end markers and reads the frame header for size and components.
    """
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return "is not a JPEG (no start-of-image marker)"
    if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
        return "is truncated (no end-of-image marker)"
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return f"has a corrupt header (byte {pos} is not a marker)"
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_MARKERS:
            if pos + 10 > len(data):
                break
            rows = int.from_bytes(data[pos + 5 : pos + 7], "big")
            cols = int.from_bytes(data[pos + 7 : pos + 9], "big")
            components = data[pos + 9]
            if (cols, rows) != (width, height) or components != 3:
                return f"is {cols}x{rows} with {components} channels, expected {width}x{height} RGB"
            return None
        if marker == 0xDA:
            break
        pos += 2 + length
    return "has no frame header"


def decode_jpeg(data: bytes) -> np.ndarray:
    """Decode a stored JPEG frame to a uint8 array (3, H, W), channels first."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).transpose(2, 0, 1)


def jpeg_decode_problem(data: bytes, width: int, height: int) -> str | None:
    """Decode the whole JPEG with Pillow; return the problem or None."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode != "RGB" or image.size != (width, height):
                return f"decodes to {image.mode} {image.size[0]}x{image.size[1]}, expected RGB"
    except Exception as error:  # Pillow raises several types for corrupt data
        return f"does not decode ({error})"
    return None
