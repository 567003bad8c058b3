"""Shared fixtures of the vima-sim tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vima_sim import VimaEnv


@pytest.fixture(scope="module")
def vm_env() -> Iterator[VimaEnv]:
    env = VimaEnv("visual_manipulation")
    yield env
    env.close()
