"""The workshop page in a real headless browser (Debian's chromium, driven by Playwright)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False", "SOLARA_CHECK_VERSION": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "improvesim", "app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the workshop page did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def page(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        pg = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server, wait_until="load")
        pg.wait_for_selector(".school-tile", timeout=30_000)
        yield pg
        assert not errors, errors
        browser.close()


def step(pg, times: int) -> None:
    """Press Step ``times`` times, waiting for the page to show each month."""
    button = pg.get_by_role("button", name="Step")
    for _ in range(times):
        before = summary(pg)
        button.click()
        pg.wait_for_function(
            "before => document.querySelector('.district-summary').innerText !== before", arg=before, timeout=10_000
        )


def summary(pg, index: int = 0) -> str:
    return pg.locator(".district-summary").nth(index).inner_text()


def test_the_page_loads_with_one_tile_per_school(page):
    assert page.locator(".school-tile").count() == 40
    assert "Before the start" in summary(page)
    page.screenshot(path=str(ARTIFACTS / "app_loaded.png"))


def test_stepping_moves_the_district_on(page):
    step(page, 14)
    assert "Year 2, September" in summary(page)
    page.screenshot(path=str(ARTIFACTS / "app_stepped.png"))


def choose(pg, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` (a Vuetify select)."""
    pg.locator(".v-select", has_text=label).first.click()
    pg.locator(".v-list-item", has_text=option).first.click()
    pg.wait_for_timeout(300)


def test_moving_a_control_changes_the_run(page):
    step(page, 12)
    before = summary(page)
    choose(page, "Participation", "required")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function("() => document.querySelector('.district-summary').innerText.startsWith('Before')")
    step(page, 12)
    after = summary(page)
    assert before != after  # under a mandate no school declines or opts out
    assert "Year 1, July" in after and "40 of 40 schools engaged" not in before
    page.screenshot(path=str(ARTIFACTS / "app_mandate.png"))


def test_side_by_side_shows_two_districts_on_one_seed(page):
    choose(page, "Side by side with", "plans/integrated_time")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(".district >> nth=1", timeout=10_000)
    step(page, 6)
    assert page.locator(".district").count() == 2
    assert page.locator(".school-tile").count() == 80
    assert "Plan B: Protected time in PLCs" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "app_side_by_side.png"), full_page=True)


def test_clicking_a_school_shows_its_story(page):
    step(page, 13)
    page.locator(".school-tile").nth(5).click()
    page.wait_for_selector(".school-story", timeout=10_000)
    story = page.locator(".school-story").inner_text()
    assert "The story of school 5" in story and "Year 1, August: the school was invited" in story
    page.screenshot(path=str(ARTIFACTS / "app_story.png"))


def test_a_sweep_run_replays_exactly(tmp_path):
    from improvesim.analysis.store import load_sweep
    from improvesim.app import WorkshopModel
    from improvesim.experiments.spec import load_experiment
    from improvesim.experiments.sweep import run_sweep

    exp = tmp_path / "exp.toml"
    exp.write_text(
        f'scenario = "{(ROOT / "scenarios/baseline.toml").as_posix()}"\ndesign = "grid"\nreplicates = 2\n'
        'seed = 9\n[set]\n"run.years" = 3\n[parameters]\n"coaching.coaches" = [2, 6]\n'
    )
    run_sweep(load_experiment(exp), tmp_path / "store", progress=False)
    outcomes = load_sweep(tmp_path / "store").outcomes.set_index("run_id")
    model = WorkshopModel(replay=f"{tmp_path / 'store'}:3")
    while model.running:
        model.step()
    assert model.a.latest("authentic_share") == outcomes.loc[3, "authentic_share"]
    assert model.a.latest("engaged_share") == outcomes.loc[3, "engaged_share"]
    assert model.a.params["coaching.coaches"] == outcomes.loc[3, "coaching.coaches"]
