"""Seeded, non-trivial random weights for a reference network, by parameter name (numpy only).

The fixture script (in the reference code's own environment) and the tests (in the project's)
both build the same weights from this file, so the weights need not be shipped. Each tensor
comes from its own `numpy.random.Generator(PCG64)` seeded by a CRC32 of its name; numpy keeps
that stream stable across versions. Scales keep activations of order one, so the logits are far
from uniform and a wrong wiring shows.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

SEED = 20261207


def _fan_in(name: str, shape: tuple[int, ...]) -> int:
    transposed = name.endswith(("c_attn.weight", "c_fc.weight", "c_proj.weight")) and (
        ".h." in name
    )
    if name.endswith("projection") or transposed:
        return shape[0]
    return int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]


def seeded_array(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The float32 array of parameter `name` (its name decides its scale)."""
    rng = np.random.Generator(np.random.PCG64([SEED, zlib.crc32(name.encode())]))
    last = name.rsplit(".", 1)[-1]
    if "norm" in name or name.split(".")[-2].startswith(("ln", "layernorm", "layer_norm")):
        values = (1.0 if last == "weight" else 0.0) + 0.1 * rng.standard_normal(shape)
    elif last == "bias" or len(shape) == 1:
        values = 0.1 * rng.standard_normal(shape)
    elif "embed" in name or "shared" in name or "relative_attention_bias" in name:
        values = 0.5 * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape) / np.sqrt(_fan_in(name, shape))
    return values.astype(np.float32)


def state_keys(module: Any) -> list[dict[str, Any]]:
    """Every state-dict key of a torch module with its shape, dtype and the parameter name its
    seeded weights are drawn under (None for buffers); the fixtures' sidecar records this."""
    owner = {id(p): name for name, p in module.named_parameters()}
    return [
        {
            "key": key,
            "shape": list(value.shape),
            "dtype": str(value.dtype).removeprefix("torch."),
            "seeded_as": owner.get(id(value)),
        }
        for key, value in module.state_dict(keep_vars=True).items()
    ]
