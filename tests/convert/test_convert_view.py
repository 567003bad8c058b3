"""`vima-convert view`: the episode site of a built dataset (variants side by side, statistics
figure) and of raw episode folders, and the site in a real headless Chromium."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from vima_schema.dataset_layout import list_shards

from ..eval.browser import broken_images, chromium, index_rows, wait_ready
from .conftest import RAW_SAMPLES, RunCli


@pytest.fixture
def dataset_site(tmp_path: Path, dataset_copy: Path, run_cli: RunCli) -> Path:
    assert run_cli("reword", dataset_copy).code == 0
    result = run_cli("view", dataset_copy, "--per-task", "2", "--out", tmp_path / "site")
    assert result.code == 0, result.err
    assert result.last_line == str(tmp_path / "site")
    return tmp_path / "site"


def test_dataset_site_shows_variants_side_by_side_with_oracle_actions(
    dataset_site: Path, dataset_copy: Path
) -> None:
    episodes = Counter()
    for shard in list_shards(dataset_copy, stage="parsed"):
        episodes[(shard.variant, shard.task, shard.split)] += pq.ParquetFile(
            shard.path
        ).metadata.num_rows
    expected = sum(min(count, 2) for count in episodes.values())
    index = index_rows(dataset_site)
    assert len(index) == expected
    assert {row[2] for row in index} == {"original", "reworded"}
    assert {row[1] for row in index} == {"train", "valid"}
    html = (dataset_site / "index.html").read_text()
    assert 'src="assets/stats.png"' in html and (dataset_site / "assets/stats.png").is_file()
    pages = sorted((dataset_site / "pages").glob("*.html"))
    assert len(pages) == expected // 2
    for page in pages:
        text = page.read_text()
        assert text.count('class="take"') == 2  # original and reworded of the same episode
        for src in re.findall(r'src="([^"]+)"', text):
            assert (page.parent / src).resolve().is_file(), src
        for take in text.split('<section class="take"')[1:]:
            steps = int(re.search(r"(\d+) oracle action", take)[1])  # type: ignore[index]
            assert take.count('class="frame top"') == steps + 1
            assert take.count("marker pick oracle") == steps


def test_raw_episodes_site_and_bad_input(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("view", RAW_SAMPLES, "--out", tmp_path / "raw-site")
    assert result.code == 0, result.err
    index = index_rows(tmp_path / "raw-site")
    assert len(index) == len(list(RAW_SAMPLES.glob("*/0*")))
    assert {row[1] for row in index} == {"raw"}
    assert "stats.png" not in (tmp_path / "raw-site" / "index.html").read_text()
    (tmp_path / "empty").mkdir()
    assert run_cli("view", tmp_path / "empty", "--out", tmp_path / "x").code == 2
    assert run_cli("view", RAW_SAMPLES, "--per-task", "-1", "--out", tmp_path / "x").code == 2
    assert not (tmp_path / "x").exists()


def test_in_chromium_browse_by_split_and_see_an_episode(dataset_site: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chromium() as driver:
        driver.get((dataset_site / "index.html").as_uri())
        wait_ready(driver)
        assert broken_images(driver) == []  # the statistics figure
        assert driver.find_element(By.CSS_SELECTOR, "img.figure").size["width"] > 300
        Select(driver.find_element(By.NAME, "split")).select_by_value("valid")
        Select(driver.find_element(By.NAME, "variant")).select_by_value("reworded")
        rows = driver.find_elements(By.CSS_SELECTOR, "#episodes tbody tr")
        assert rows and all(
            [r.find_element(By.CSS_SELECTOR, f"td.{k}").text for k in ("split", "variant")]
            == ["valid", "reworded"]
            for r in rows
        )
        rows[0].find_element(By.LINK_TEXT, "open").click()
        assert driver.current_url.endswith("#take-1")  # the reworded column
        assert broken_images(driver) == []
        assert driver.find_elements(By.CSS_SELECTOR, "img.prompt-image")
        assert len(driver.find_elements(By.CSS_SELECTOR, ".take")) == 2
        picks = driver.find_elements(By.CSS_SELECTOR, "svg .marker.pick.oracle")
        assert picks and all(p.rect["width"] > 0 for p in picks)
