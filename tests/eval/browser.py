"""Headless Chromium for the episode viewers' tests (vima_schema.site.browser): a test that
needs it is skipped, with the reason, where none can be driven (`.ci/run` installs Debian's
`chromium` and `chromium-driver` when it can)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
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


def index_rows(site: Path) -> list[list[Any]]:
    """Every row of a viewer site's index (its `data/index-*.js` pages, in order)."""
    rows: list[list[Any]] = []
    for path in sorted((site / "data").glob("index-*.js")):
        text = path.read_text()
        rows += json.loads(text[text.index("(") + 1 : text.rindex(")")])
    return rows
