"""A real headless Chromium for the episode viewers' tests (Debian's `chromium` and
`chromium-driver`, driven by Selenium; `.ci/run` installs them when missing)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def browser_missing() -> str | None:
    """Why no browser test can run here (None when one can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (vima-eval's 'browser' extra)"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no Chromium (apt-get install chromium chromium-driver; .ci/run does it)"
    if shutil.which(DRIVER) is None:
        return "no chromedriver (apt-get install chromium-driver; .ci/run does it)"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium WebDriver (the test is skipped when none can start)."""
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(p for n in CHROMIUM if (p := shutil.which(n)))
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--allow-file-access-from-files"):  # fmt: skip
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(shutil.which(DRIVER)), options=options)
    except WebDriverException as error:
        pytest.skip(f"Chromium does not start here: {error.msg}")
    try:
        yield driver
    finally:
        driver.quit()


def wait_ready(driver: Any, timeout: float = 20.0) -> None:
    """Wait until the index has rendered its first page of rows."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'true'")
    )


def broken_images(driver: Any) -> list[str]:
    """Sources of the page's images that did not load (after waiting for them)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return [...document.images].every(i => i.complete)")
    )
    return driver.execute_script(
        "return [...document.images].filter(i => !i.naturalWidth).map(i => i.src)"
    )
