"""Headless Chromium for the episode viewers' tests (vima_schema.site.browser): a test that
needs it is skipped, with the reason, where none can be driven (`.ci/run` installs Debian's
`chromium` and `chromium-driver` when it can)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from vima_schema.site import browser
from vima_schema.site.browser import broken_images, wait_ready

__all__ = ["broken_images", "chromium", "wait_ready"]


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium WebDriver, or the test is skipped saying why there is none."""
    with ExitStack() as stack:
        try:
            driver = stack.enter_context(browser.chromium(width, height))
        except browser.BrowserMissing as missing:
            pytest.skip(f"no headless Chromium: {missing}")
        yield driver
