"""Headless Chromium for episode sites: screenshots (`view --screenshot`), the browser tests and
the viewer benchmark. Drives Debian's `chromium` with its `chromium-driver` through Selenium
(vima-schema's `browser` extra); nothing is downloaded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vima_schema.atomic import atomic_write_bytes

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"
#: How long a page may take to render its rows or load its images, in seconds.
TIMEOUT_S = 60.0


class BrowserMissing(RuntimeError):
    """No headless Chromium can be driven here (the message says why)."""


def browser_missing() -> str | None:
    """Why no headless Chromium can be driven here (None when one can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (vima-schema's 'browser' extra)"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no Chromium (apt-get install chromium chromium-driver)"
    if shutil.which(DRIVER) is None:
        return "no chromedriver (apt-get install chromium-driver)"
    return None


def require_browser(option: str = "--screenshot") -> None:
    """ValueError (a usage error) naming `option` when no headless Chromium can be driven."""
    missing = browser_missing()
    if missing:
        raise ValueError(f"{option} needs a headless Chromium: {missing}")


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium WebDriver; `BrowserMissing` when none can start."""
    missing = browser_missing()
    if missing:
        raise BrowserMissing(missing)
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(p for n in CHROMIUM if (p := shutil.which(n)))
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):  # fmt: skip
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(shutil.which(DRIVER)), options=options)
    except WebDriverException as error:
        raise BrowserMissing(f"Chromium does not start here: {error.msg}") from None
    try:
        yield driver
    finally:
        driver.quit()


def wait_ready(driver: Any, timeout: float = TIMEOUT_S) -> float:
    """Wait until a site's index has drawn its first page of rows; the milliseconds from
    navigation start to then."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'true'")
    )
    return float(driver.execute_script("return document.body.dataset.readyMs"))


def broken_images(driver: Any, timeout: float = TIMEOUT_S) -> list[str]:
    """Sources of the page's images that did not load (once every image has settled)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return [...document.images].every(i => i.complete)")
    )
    return driver.execute_script(
        "return [...document.images].filter(i => !i.naturalWidth).map(i => i.src)"
    )


def screenshots(site: Path, out: Path) -> list[Path]:
    """`index.png` of the site's index and `episode.png` of its first row's page in `out`
    (PNG, full width of the columns side by side)."""
    from selenium.webdriver.common.by import By

    written = []
    with chromium(1600, 1000) as driver:
        driver.get((site / "index.html").as_uri())
        wait_ready(driver)
        broken_images(driver)
        atomic_write_bytes(out / "index.png", driver.get_screenshot_as_png())
        written.append(out / "index.png")
        links = driver.find_elements(By.CSS_SELECTOR, "#episodes tbody a")
        if links:
            links[0].click()
            broken_images(driver)
            width = driver.execute_script("return document.documentElement.scrollWidth")
            driver.set_window_size(max(1600, int(width) + 40), 1000)
            atomic_write_bytes(out / "episode.png", driver.get_screenshot_as_png())
            written.append(out / "episode.png")
    return written
