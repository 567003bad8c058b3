"""Exact structural equality for episode data (arrays compared bit for bit)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel


def exactly_equal(a: Any, b: Any) -> bool:
    """True when `a` and `b` hold the same data, types, key order and array bits.

    Arrays must match in dtype, shape and raw bytes (so -0.0 differs from 0.0); `1` differs
    from `1.0`; dict key order counts.
    """
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return all(exactly_equal(getattr(a, f), getattr(b, f)) for f in type(a).model_fields)
    if isinstance(a, dict):
        return list(a) == list(b) and all(exactly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(exactly_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
