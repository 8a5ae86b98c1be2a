"""The workshop page in a real headless browser (Debian's chromium, driven by Playwright)."""

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
#: The screen of a projector in a meeting room (issue 20).
ROOM = {"width": 1280, "height": 720}
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict, log=subprocess.DEVNULL, *args: str) -> tuple[subprocess.Popen, str]:
    """`improvesim app` on a free local port, as a user starts it; (process, url) once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "improvesim", "app", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail("the workshop page did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server():
    proc, url = start_app(dict(os.environ))
    yield url
    stop(proc)


def open_page(p):
    """(browser, page): headless chromium with no proxy and no background networking of its own."""
    browser = p.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-proxy-server"],
    )
    pg = browser.new_page(viewport=ROOM)
    return browser, pg


@pytest.fixture
def page(server):
    with playwright.sync_playwright() as p:
        browser, pg = open_page(p)
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server, wait_until="load")
        pg.wait_for_selector(".school-tile", timeout=30_000)
        yield pg
        assert not errors, errors
        browser.close()


def step(pg, times: int) -> None:
    """Press Step ``times`` times, waiting for the step counter to show each month."""
    button = pg.get_by_role("button", name="Step")
    for _ in range(times):
        before = counter(pg)
        button.click()
        pg.wait_for_function(
            "before => document.querySelector('.step-months').innerText !== before", arg=before, timeout=10_000
        )


def counter(pg) -> str:
    """The step counter's months line ("month 14 of 120")."""
    return pg.locator(".step-months").inner_text()


def summary(pg, index: int = 0) -> str:
    return pg.locator(".district-summary").nth(index).inner_text()


def now(pg) -> str:
    """The step counter's month in words ("Year 2, September", or "Before the start")."""
    return pg.locator(".step-counter").inner_text()


def test_the_page_loads_with_one_tile_per_school(page, artifacts):
    assert page.locator(".school-tile").count() == 40
    assert now(page) == "Before the start" and counter(page) == "month 0 of 120"
    page.screenshot(path=str(artifacts / "app_loaded.png"))


def test_stepping_moves_the_district_on(page, artifacts):
    step(page, 14)
    assert now(page) == "Year 2, September" and counter(page) == "month 14 of 120"
    page.screenshot(path=str(artifacts / "app_stepped.png"))


def lever(pg, label: str):
    """The field of the control labelled ``label``."""
    return pg.locator(".lever", has=pg.locator(".lever-label", has_text=label)).first


def choose(pg, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` (a Vuetify select)."""
    lever(pg, label).locator(".v-select").click()
    item = pg.locator(".v-list-item:visible", has_text=option).first
    for _ in range(20):  # a long list shows its first items only: scroll the open menu as a user would
        if item.count():
            break
        pg.locator(".v-list-item:visible").last.hover()
        pg.mouse.wheel(0, 200)
        pg.wait_for_timeout(200)
    item.click()
    pg.wait_for_timeout(300)


def test_moving_a_control_changes_the_run(page, artifacts):
    step(page, 12)
    before = summary(page)
    choose(page, "Participation", "required")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function("() => document.querySelector('.step-counter').innerText.startsWith('Before')")
    step(page, 12)
    after = summary(page)
    assert before != after  # under a mandate no school declines or opts out
    assert now(page) == "Year 1, July" and "40 of 40 engaged" not in before
    page.screenshot(path=str(artifacts / "app_mandate.png"))


def test_side_by_side_shows_two_districts_on_one_seed(page, artifacts):
    choose(page, "Side by side with", "plans/integrated_time")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(".district >> nth=1", timeout=10_000)
    step(page, 6)
    assert page.locator(".district").count() == 2
    assert page.locator(".school-tile").count() == 80
    assert "Plan B: Protected time in PLCs" in page.inner_text("body")
    page.screenshot(path=str(artifacts / "app_side_by_side.png"), full_page=True)


def test_clicking_a_school_shows_its_story(page, artifacts):
    step(page, 13)
    page.locator(".school-tile").nth(5).click()
    page.wait_for_selector(".school-story", timeout=10_000)
    story = page.locator(".school-story").inner_text()
    assert "The story of school 5" in story and "Year 1, August: the school was invited" in story
    page.screenshot(path=str(artifacts / "app_story.png"))


# --- issue 20: a page a facilitator can run in a room ----------------------------------------

#: Every visible element of the page, with what the checks below need: its box, the box of the
#: nearest element marked .box around it, and of the nearest scrolling element around it (whose
#: contents may lie outside the screen until scrolled to); whether its text is cut off (wider than
#: its box with overflow hidden); and, for an element with text of its own, the text, its size in
#: pixels as drawn (CSS size times any scaling, e.g. of Vuetify's floating labels or of the SVG
#: chart), its weight, its colour and the background colours behind it, nearest first.
LAYOUT_JS = """() => {
  const box = r => r && {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowY);
  const out = [];
  const shown = '.workshop, .workshop *, .v-overlay--active .v-list, .v-overlay--active .v-list *';
  for (const el of document.querySelectorAll(shown)) {
    const cs = getComputedStyle(el), r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || cs.visibility !== 'visible' || +cs.opacity === 0) continue;
    if (el.closest('defs, clipPath')) continue;
    let scroller = el.parentElement;
    const scrolling = e => scrolls(e) && e.clientHeight > 0;  // (Vuetify's empty overlay container: no)
    while (scroller && !scroller.classList.contains('workshop') && !scrolling(scroller)) scroller = scroller.parentElement;
    if (scroller === document.documentElement || scroller === document.body) scroller = null;
    if (scroller && scroller.classList.contains('workshop')) scroller = null;
    const holder = el.parentElement && el.parentElement.closest('.box');
    const texts = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim());
    const own = texts.map(n => n.textContent).join('').trim();
    const spills = texts.some(n => {  // text drawn outside its element (e.g. a 40 px box's label)
      const range = document.createRange(); range.selectNodeContents(n); const t = range.getBoundingClientRect();
      return t.width > 0 && (t.left < r.left - 0.5 || t.right > r.right + 0.5);
    });
    const svg = el instanceof SVGElement;
    let scale = 1;
    if (svg && el.getScreenCTM()) { const m = el.getScreenCTM(); scale = Math.hypot(m.a, m.b); }
    else if (!svg && el.offsetHeight) scale = r.height / el.offsetHeight;
    const backs = [];
    for (let a = el; a; a = a.parentElement) backs.push(getComputedStyle(a).backgroundColor);
    out.push({
      name: (el.className && el.className.baseVal !== undefined ? el.className.baseVal : el.className) || el.tagName,
      rect: box(r), holder: box(holder && holder.getBoundingClientRect()),
      scroller: box(scroller && scroller.getBoundingClientRect()),
      cut: spills || (!scrolls(el) && cs.overflowX !== 'visible' && !svg && !!el.innerText.trim()
        && el.scrollWidth > el.clientWidth + 1),
      text: own, px: parseFloat(cs.fontSize) * scale, weight: +cs.fontWeight,
      colour: svg ? cs.fill : cs.color, backs,
      disabled: !!el.closest('[disabled], .v-btn--disabled, .v-input--is-disabled'),
    });
  }
  return out;
}"""


def inside(inner: dict, outer: dict, vertical: bool = True) -> bool:
    """Whether box ``inner`` lies within ``outer`` (to half a pixel), or only across when not ``vertical``."""
    across = inner["left"] >= outer["left"] - 0.5 and inner["right"] <= outer["right"] + 0.5
    return across and (
        not vertical or (inner["top"] >= outer["top"] - 0.5 and inner["bottom"] <= outer["bottom"] + 0.5)
    )


def contrast(colour: str, backs: list[str]) -> float:
    """WCAG 2.1 contrast of text ``colour`` over the first opaque background of ``backs`` (nearest
    first), each colour composited over the ones behind it (the page is white behind everything)."""
    from coloraide import Color

    layers = [Color(b) for b in backs if Color(b).alpha() > 0] + [Color("white")]
    behind = Color.layer(layers)
    return Color.layer([Color(colour), behind]).contrast(behind, method="wcag21")


def room_problems(pg) -> list[str]:
    """What a room at 1280x720 could not see or read on the page as it is now (empty: nothing)."""
    screen = {"left": 0, "top": 0, "right": ROOM["width"], "bottom": ROOM["height"]}
    problems = []
    for el in pg.evaluate(LAYOUT_JS):
        what = f"{el['name']!s:.60} {el['text']!r:.60}"
        if el["holder"] and not inside(el["rect"], el["holder"], vertical=el["scroller"] is None):
            problems.append(f"outside its card: {what} {el['rect']} in {el['holder']}")
        if el["scroller"] is None and not inside(el["rect"], screen):
            problems.append(f"off the screen: {what} {el['rect']}")
        if el["scroller"] is not None and not inside(el["rect"], el["scroller"], vertical=False):
            problems.append(f"outside its scrolling panel: {what}")
        if el["cut"]:
            problems.append(f"text cut off: {what}")
        if el["text"] and el["px"] < 18 - 0.01:
            problems.append(f"text below 18 px ({el['px']:.1f}): {what}")
        if el["text"] and not el["disabled"]:
            large = el["px"] >= 24 or (el["px"] >= 18.66 and el["weight"] >= 700)
            ratio = contrast(el["colour"], el["backs"])
            if ratio < (3 if large else 4.5):
                problems.append(f"contrast {ratio:.2f} below WCAG AA: {what} {el['colour']} on {el['backs'][:3]}")
    return problems


def test_the_room_sees_and_reads_everything_at_1280x720(page, artifacts):
    """Both plans' tiles, the chart, its legend and a story are on one 1280x720 screen, nothing is
    cut off or outside its card, text is at least 18 px and meets WCAG AA contrast; the levers'
    column scrolls on its own, and each lever is whole when scrolled to."""
    choose(page, "Side by side with", "plans/deep_bench")  # the longest plan name
    reset(page)
    page.wait_for_selector(".district >> nth=1", timeout=10_000)
    step(page, 30)
    page.locator(".school-tile").nth(12).click()
    page.wait_for_selector(".school-story", timeout=10_000)
    page.screenshot(path=str(artifacts / "room_side_by_side.png"))
    assert room_problems(page) == []
    for name in ("Story", "chart", "tile-legend", "chart-legend"):
        assert page.locator(f".{name.lower()}, .{name.lower()}-box").first.is_visible()
    from improvesim.app import CONTROLS

    levers = page.locator(".lever")
    assert levers.count() == len(CONTROLS)
    for i in range(levers.count()):  # each lever, scrolled to, is whole on the screen
        levers.nth(i).scroll_into_view_if_needed()
        box = levers.nth(i).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= ROOM["height"], i
    page.screenshot(path=str(artifacts / "room_levers_scrolled.png"))
    assert room_problems(page) == []
    lever(page, "Side by side with").locator(".v-select").click()  # an open list of choices
    page.wait_for_selector(".v-overlay--active .v-list-item", timeout=10_000)
    page.wait_for_timeout(500)  # the list's opening transition
    page.screenshot(path=str(artifacts / "room_choices_open.png"))
    assert room_problems(page) == []
    assert page.locator(".v-overlay--active .v-list-item", has_text="plans/deep_bench").is_visible()


def test_one_plan_alone_fits_too(page, artifacts):
    choose(page, "Scenario", "viano2024_case")  # the longest scenario name
    reset(page)
    page.wait_for_function("() => document.querySelector('.district-label').innerText.includes('viano')")
    step(page, 3)
    page.locator(".school-tile").nth(3).click()
    page.wait_for_selector(".school-story", timeout=10_000)
    page.screenshot(path=str(artifacts / "room_plan_a.png"))
    assert room_problems(page) == []


def test_every_slider_shows_its_value(page, artifacts):
    from improvesim.app import CONTROLS

    sliders = {spec["label"]: spec for spec in CONTROLS.values() if spec["type"].startswith("Slider")}
    for label, spec in sliders.items():
        assert lever(page, label).locator(".lever-value").inner_text() == (
            f"{spec['value']:.0f}" if float(spec["step"]).is_integer() else f"{spec['value']:.1f}"
        ), label
        track = lever(page, label).locator(".v-slider").bounding_box()
        assert track["width"] >= 200, label  # a track the room can see, not a 4 px sliver
    deep = lever(page, "Deep bench")
    deep.locator(".v-slider").click(position={"x": 1, "y": 8})  # the track's left end: 0
    page.wait_for_function("() => [...document.querySelectorAll('.lever-value')].some(e => e.innerText === '0.0')")
    assert deep.locator(".lever-value").inner_text() == "0.0"
    deep.get_by_role("slider").focus()
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => [...document.querySelectorAll('.lever-value')].some(e => e.innerText === '0.9')")
    page.screenshot(path=str(artifacts / "room_deep_bench_0.9.png"))
    assert deep.locator(".lever-value").inner_text() == "0.9"
    assert lever(page, "Coaches").locator(".lever-value").inner_text() == "4"
    assert page.get_by_text(CONTROLS["pandemic"]["label"]).count() == 1  # the checkbox's label, once


def test_the_side_by_side_chart_draws_both_plans(page, artifacts):
    """Each metric is a line for plan A and one for plan B, each as long as the months run."""
    from improvesim.app import CHART_LINES

    choose(page, "Side by side with", "plans/deep_bench")
    reset(page)
    page.wait_for_selector(".district >> nth=1", timeout=10_000)
    step(page, 8)
    page.screenshot(path=str(artifacts / "room_chart_both_plans.png"))
    for plan in ("A", "B"):
        for metric in CHART_LINES:
            line = page.locator(f".chart #line-{plan}-{metric} path")
            assert line.count() == 1, (plan, metric)
            assert line.get_attribute("d").count("L") == 7, (plan, metric)  # 8 months: 8 points
    legend = page.locator(".chart-legend").inner_text()
    assert "Plan A" in legend and "Plan B" in legend and "authentic" in legend and "_share" not in legend


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


# --- issue 19: safe to serve ------------------------------------------------------------------

#: Run in the watched server's processes (through PYTHONPATH): an audit hook writes the path of
#: every .toml file the server opens to IMPROVESIM_TEST_OPENS, and the bundled scenario
#: "mandate" is replaced by the broken file IMPROVESIM_TEST_BROKEN.
SITECUSTOMIZE = """
import os, sys
from pathlib import Path

_opens = os.open(os.environ["IMPROVESIM_TEST_OPENS"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)


def _record(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if path.endswith(".toml"):
            os.write(_opens, (path + "\\n").encode())


sys.addaudithook(_record)

from improvesim.sim import bundled

_real = bundled.bundled_scenario_path
bundled.bundled_scenario_path = lambda name: Path(os.environ["IMPROVESIM_TEST_BROKEN"]) if name == "mandate" else _real(name)
"""


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """A server whose file opens and log are watched: (url, opens file, log file, sentinel file)."""
    tmp = tmp_path_factory.mktemp("watched")
    (tmp / "site").mkdir()
    (tmp / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    sentinel = tmp / "outside" / "evil.toml"
    sentinel.parent.mkdir()
    sentinel.write_text('[run]\nyears = "SECRET-MARKER"\n')
    broken = tmp / "broken" / "mandate.toml"
    broken.parent.mkdir()
    broken.write_text('[coaching]\ncoaches = "SECRET-MARKER"\n')
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp / "site"),
        "IMPROVESIM_TEST_OPENS": str(tmp / "opens.txt"),
        "IMPROVESIM_TEST_BROKEN": str(broken),
    }
    log = tmp / "server.log"
    with log.open("w") as out:
        proc, url = start_app(env, out)
    yield url, tmp / "opens.txt", log, sentinel
    stop(proc)


def crafted(rewrites: dict[str, str]):
    """A websocket route that sends the server ``rewrites[v]`` whenever the page sends a widget value v."""

    def route(ws):
        server = ws.connect_to_server()

        def to_server(message):
            if isinstance(message, str):
                msg = json.loads(message)
                state = msg.get("content", {}).get("data", {}).get("state", {})
                if state.get("v_model") in rewrites:
                    state["v_model"] = rewrites[state["v_model"]]
                    message = json.dumps(msg)
            server.send(message)

        ws.on_message(to_server)

    return route


def reset(pg) -> None:
    pg.wait_for_timeout(500)
    pg.get_by_role("button", name="Reset").click()


def test_a_crafted_select_value_is_refused_without_opening_a_file(watched, artifacts):
    url, opens, log, sentinel = watched
    evil = os.path.relpath(sentinel.with_suffix(""), ROOT / "scenarios")  # what joined under scenarios/ reached it
    with playwright.sync_playwright() as p:
        browser, pg = open_page(p)
        pg.route_web_socket("**", crafted({"grant_cliff": evil, "plans/deep_bench": evil}))
        pg.goto(url, wait_until="load")
        pg.wait_for_selector(".school-tile", timeout=30_000)
        choose(pg, "Scenario", "grant_cliff")
        choose(pg, "Side by side with", "plans/deep_bench")
        reset(pg)
        notice = pg.wait_for_selector(".page-notice", timeout=10_000).inner_text()
        assert notice == "Scenario: refused; allowed: one of the listed choices."
        assert pg.locator(".school-tile").count() == 0
        assert "Traceback" not in pg.inner_text("body") and "SECRET-MARKER" not in pg.inner_text("body")
        pg.screenshot(path=str(artifacts / "app_refused.png"))
        # the server's side: the refusal is logged, and the sentinel was never opened
        assert f"refused scenario_file from the browser: {evil!r}" in log.read_text()
        assert not [line for line in opens.read_text().splitlines() if sentinel.parent.name in line]
        # the watch works: a listed scenario chosen the ordinary way is opened, and seen
        choose(pg, "Scenario", "high_churn")
        choose(pg, "Side by side with", "none")
        reset(pg)
        pg.wait_for_selector(".school-tile", timeout=10_000)
        assert pg.locator(".page-notice").count() == 0
        assert any(line.endswith("high_churn.toml") for line in opens.read_text().splitlines())
        browser.close()


def test_a_scenario_that_fails_to_load_shows_no_traceback(watched, artifacts):
    url, _, log, _ = watched
    with playwright.sync_playwright() as p:
        browser, pg = open_page(p)
        pg.goto(url, wait_until="load")
        pg.wait_for_selector(".school-tile", timeout=30_000)
        choose(pg, "Scenario", "mandate")
        reset(pg)
        notice = pg.wait_for_selector(".page-notice", timeout=10_000).inner_text()
        assert notice == 'The scenario "mandate" could not be loaded; the details are in the server\'s log.'
        body = pg.inner_text("body")
        for detail in ("Traceback", "SECRET-MARKER", "mandate.toml", "File "):
            assert detail not in body
        pg.screenshot(path=str(artifacts / "app_load_failed.png"))
        browser.close()
    details = log.read_text()
    assert "could not load the scenario mandate" in details and "Traceback" in details and "SECRET-MARKER" in details


class Listener(socketserver.ThreadingTCPServer):
    """A stand-in proxy on 127.0.0.1 that records the first line of every connection and closes it."""

    daemon_threads = True

    def __init__(self):
        self.seen: list[str] = []
        listener = self

        class Record(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(2)
                try:
                    listener.seen.append(self.request.recv(200).split(b"\r\n")[0].decode(errors="replace"))
                except OSError:
                    listener.seen.append("(a connection that sent nothing)")

        super().__init__(("127.0.0.1", 0), Record)


def test_the_page_makes_no_outside_connection():
    """With HTTP(S)_PROXY at a local listener and no Solara variables set, nothing connects to it
    while the page loads and runs; and the page's browser asks only the server for anything."""
    listener = Listener()
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{listener.server_address[1]}"
    unset = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SOLARA_") and k.lower() not in unset}
    env |= {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy}
    try:
        # the listener sees what a process in this environment tries to fetch from outside
        probe = (
            "import requests\ntry: requests.get('https://pypi.org/pypi/solara/json', timeout=2)\nexcept Exception: pass"
        )
        subprocess.run([sys.executable, "-c", probe], env=env, timeout=60, check=True)
        assert listener.seen == ["CONNECT pypi.org:443 HTTP/1.1"]
        listener.seen.clear()
        proc, url = start_app(env)
        try:
            with playwright.sync_playwright() as p:
                browser, pg = open_page(p)
                asked = []
                pg.on("request", lambda r: asked.append(r.url))
                pg.goto(url, wait_until="load")
                pg.wait_for_selector(".school-tile", timeout=30_000)
                step(pg, 6)
                pg.wait_for_timeout(2000)
                browser.close()
        finally:
            stop(proc)
        assert listener.seen == []
        assert [u for u in asked if not u.startswith((url, "data:", "blob:"))] == []
    finally:
        listener.shutdown()
        listener.server_close()
