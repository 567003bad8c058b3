"""`vima-eval view`: the episode site of evaluation runs, what `--record` keeps for it, the W&B
tables of an online run, and the site in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from vima_eval.cli import main
from vima_schema.site import browser

from .browser import broken_images, chromium, index_rows, wait_ready
from .conftest import RunEval

TASKS = "visual_manipulation,follow_order"
COMMON = ["--levels", "L1", "--tasks", TASKS, "--episodes", "2", "--workers", "2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> dict[str, Path]:
    """Oracle runs with and without `--record 1` (W&B offline) and a policy run under two
    perturbations with `--record 2`, on the same scenes; and the site of the recorded ones."""
    root = tmp_path_factory.mktemp("view")
    folders = {name: root / name for name in ("oracle", "plain", "policy", "site")}
    assert main(["oracle", *COMMON, "--record", "1", "--wandb", "offline",
                 "--out", str(folders["oracle"])]) == 0  # fmt: skip
    assert main(["oracle", *COMMON, "--wandb", "disabled", "--out", str(folders["plain"])]) == 0
    assert main(["online", str(tiny_checkpoint), *COMMON, "--perturb", "noop",
                 "--perturb", "gobbledygook_word", "--record", "2", "--time-limit", "2",
                 "--wandb", "disabled", "--out", str(folders["policy"])]) == 0  # fmt: skip
    assert main(["view", str(folders["oracle"]), str(folders["policy"]),
                 "--out", str(folders["site"])]) == 0  # fmt: skip
    return folders


def _rows(folder: Path) -> list[dict[str, Any]]:
    return pq.read_table(folder / "episodes.parquet").drop(["time_s"]).to_pylist()


def test_recording_keeps_frames_actions_and_oracle_without_changing_the_episode(
    runs: dict[str, Path],
) -> None:
    assert _rows(runs["oracle"]) == _rows(runs["plain"])  # recording changes no result
    recorded = sorted((runs["oracle"] / "recordings" / "noop").iterdir())
    assert [p.name for p in recorded] == ["L1-follow_order-0", "L1-visual_manipulation-0"]
    for folder in recorded:
        doc = json.loads((folder / "episode.json").read_text())
        assert doc["ended"] == "success" and len(doc["frames"]) == doc["steps"] + 1
        # the oracle's hint drew from a restored generator: the oracle then did exactly that
        assert doc["oracle"] == doc["actions"] and len(doc["actions"]) == doc["steps"]
        for frame in doc["frames"]:
            assert (folder / frame["front"]).read_bytes()[:2] == b"\xff\xd8"
        assert set(doc["assets"]) == set(re.findall(r"\{(\w+)\}", doc["original_prompt"]))
    policy = json.loads(
        (runs["policy"] / "recordings/gobbledygook_word/L1-follow_order-1/episode.json").read_text()
    )
    assert policy["prompt"] != policy["original_prompt"]
    assert policy["ended"] in {"time limit", "failure", "success"} and policy["limit"] == 2


def test_site_lists_every_episode_failures_first_and_pairs_scenes(runs: dict[str, Path]) -> None:
    site = runs["site"]
    meta = json.loads((site / "site.json").read_text())
    assert meta["episodes"] == 4 + 8 and meta["pages"] == 4
    index = index_rows(site)
    assert len(index) == 12
    success = [row[4] for row in index]
    assert success == sorted(success)  # "no" before "yes": failures first
    assert {row[3].split("@")[0] for row in index} == {"oracle", "last.ckpt"}
    page = site / "pages" / "L1-visual_manipulation-0-easy-s"  # the scene's page
    [path] = site.glob(f"pages/{page.name}*.html")
    html = path.read_text()
    assert html.count('class="take"') == 3  # the oracle and both perturbations, side by side
    assert html.count("original prompt") == 1  # beside the gobbledygook prompt only
    for src in re.findall(r'src="([^"]+)"', html):
        target = (path.parent / src).resolve()
        assert target.is_file(), src
        assert os.stat(target).st_nlink >= 2  # hard-linked from the run's recordings
    oracle_take = html.split('<section class="take"')[1]
    frames = oracle_take.count('class="frame top"')
    assert frames >= 2 and oracle_take.count("marker pick action") == frames - 1
    assert oracle_take.count("marker pick oracle") == frames - 1
    [second] = site.glob("pages/L1-visual_manipulation-1-*.html")
    assert "not recorded" in second.read_text()  # the oracle run recorded episode 0 only


def test_wandb_logs_the_episode_and_success_tables(runs: dict[str, Path]) -> None:
    [table] = runs["oracle"].glob("wandb/offline-run-*/files/media/table/episodes_table*.json")
    doc = json.loads(table.read_text())
    assert doc["columns"] == ["task", "level", "perturbation", "episode", "prompt", "success",
                              "steps", "video"]  # fmt: skip
    videos = {row[3]: row[7] for row in doc["data"]}
    assert len(videos) == 4
    assert [k for k, v in sorted(videos.items()) if v] == [
        "L1/follow_order/0", "L1/visual_manipulation/0"]  # fmt: skip
    [success] = runs["oracle"].glob("wandb/offline-run-*/files/media/table/success_table*.json")
    rows = json.loads(success.read_text())["data"]
    assert sorted((r[2], r[3], r[4]) for r in rows) == [
        ("follow_order", 2, 2), ("visual_manipulation", 2, 2)]  # fmt: skip


def test_report_links_the_viewer_and_bad_input(
    tmp_path: Path, run_eval: RunEval, runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_eval("report", runs["oracle"], "--view", "--out", tmp_path / "report")
    assert report.code == 0, report.err
    assert "(view/index.html)" in (tmp_path / "report" / "report.md").read_text()
    assert (tmp_path / "report" / "view" / "index.html").is_file()
    missing = run_eval("view", tmp_path / "nothing", "--out", tmp_path / "site")
    assert missing.code == 2
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    busy = run_eval("view", runs["oracle"], "--out", tmp_path / "busy")
    assert busy.code == 2 and "not an episode site" in busy.err
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    again = run_eval("view", runs["oracle"], "--out", tmp_path / "report" / "view")
    assert again.code == 0 and again.last_line == str(tmp_path / "report" / "view")
    monkeypatch.setattr(browser, "browser_missing", lambda: "no chromium here")
    shots = run_eval("view", runs["oracle"], "--screenshot", tmp_path / "shots",
                     "--out", tmp_path / "site")  # fmt: skip
    assert shots.code == 2 and "no chromium here" in shots.err
    assert not (tmp_path / "site").exists()


def test_in_chromium_filter_open_an_episode_and_see_it(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chromium() as driver:
        driver.get((runs["site"] / "index.html").as_uri())
        wait_ready(driver)
        assert driver.find_element(By.ID, "count").text == "12 of 12 episodes"
        Select(driver.find_element(By.NAME, "success")).select_by_value("yes")
        Select(driver.find_element(By.NAME, "task")).select_by_value("follow_order")
        shown = driver.find_elements(By.CSS_SELECTOR, "#episodes tbody tr")
        assert len(shown) == 2 and driver.find_element(By.ID, "count").text.startswith("2 of")
        assert all(row.find_element(By.CSS_SELECTOR, "td.task").text == "follow_order"
                   for row in shown)  # fmt: skip
        assert "task=follow_order" in driver.current_url  # the filter survives going back
        assert broken_images(driver) == []
        driver.save_screenshot(str(tmp_path / "index.png"))
        shown[0].find_element(By.LINK_TEXT, "open").click()
        assert "/pages/L1-follow_order-" in driver.current_url
        assert broken_images(driver) == []  # prompt images and frames loaded
        prompts = driver.find_elements(By.CSS_SELECTOR, "img.prompt-image")
        assert len(prompts) >= 3 and all(p.is_displayed() for p in prompts)
        frames = driver.find_elements(By.CSS_SELECTOR, "img.frame")
        assert len(frames) >= 4 and all(f.size["width"] == 256 for f in frames)
        picks = driver.find_elements(By.CSS_SELECTOR, "svg .marker.pick.action")
        assert picks and all(p.rect["width"] > 0 and p.rect["height"] > 0 for p in picks)
        assert "success" in driver.find_element(By.CSS_SELECTOR, ".outcome.success").text
        driver.save_screenshot(str(tmp_path / "episode.png"))
        driver.back()
        wait_ready(driver)
        assert Select(driver.find_element(By.NAME, "task")).first_selected_option.text == (
            "follow_order"
        )
    assert (tmp_path / "episode.png").stat().st_size > 10_000
    shots = main(["view", str(runs["oracle"]), "--out", str(tmp_path / "again"),
                  "--screenshot", str(tmp_path / "shots")])  # fmt: skip
    assert shots == 0
    assert {p.name for p in (tmp_path / "shots").iterdir()} == {"index.png", "episode.png"}
    assert all(p.stat().st_size > 10_000 for p in (tmp_path / "shots").iterdir())


def test_merged_shards_keep_their_recordings_for_the_viewer(
    tmp_path: Path, run_eval: RunEval
) -> None:
    args = ["oracle", "--levels", "L1", "--tasks", "rotate", "--episodes", "1", "--record", "1",
            "--wandb", "disabled"]  # fmt: skip
    for start in ("0", "1"):
        shard = run_eval(*args, "--start", start, "--out", tmp_path / f"shard{start}")
        assert shard.code == 0, shard.err
    merged = run_eval("merge", tmp_path / "shard0", tmp_path / "shard1", "--out", tmp_path / "m")
    assert merged.code == 0, merged.err
    kept = sorted(p.name for p in (tmp_path / "m" / "recordings" / "noop").iterdir())
    assert kept == ["L1-rotate-0", "L1-rotate-1"]
    assert len(list((tmp_path / "m" / "videos").glob("*.gif"))) == 2
    frame = tmp_path / "m" / "recordings" / "noop" / "L1-rotate-1" / "top-000.jpg"
    assert frame.stat().st_nlink >= 2  # linked, not copied
    site = run_eval("view", tmp_path / "m", "--out", tmp_path / "site")
    assert site.code == 0, site.err
    pages = [p.read_text() for p in (tmp_path / "site" / "pages").glob("*.html")]
    assert len(pages) == 2 and all('class="frame top"' in page for page in pages)
