"""Benchmark (issues: workshop mode; 20): how long a step takes to show on the workshop page.

Starts `improvesim app` on a free local port, opens it in headless chromium
at 1280x720 (Debian's /usr/bin/chromium), and presses Step STEPS times with
plan A alone, then again with plan B side by side; each time from the click
to the page showing the new month on the step counter and the chart.  Prints
the median, 95th percentile and slowest step of each (timed in the page, from
the click event to the first frame showing the new month), with the machine's load
average before and after (the target, on an otherwise idle machine: the 95th
percentile under 0.3 s).

    .venv/bin/python benchmarks/app.py [--steps 60] [--plan-b plans/integrated_time]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Milliseconds from the click on Step (as the page received it) to the page showing the new
#: month on the step counter and the chart, or null while it does not show it yet.
SHOWN = """([months, chart]) =>
    document.querySelector('.step-months').innerText !== months
    && document.querySelector('.chart').innerHTML !== chart
    && performance.now() - window.clickedAt"""
#: Before a step: note when the page next receives a click; what the page shows now.
ARM = """() => {
    window.clickedAt = undefined;
    document.addEventListener('click', () => { window.clickedAt = performance.now(); }, {once: true, capture: true});
    return [document.querySelector('.step-months').innerText, document.querySelector('.chart').innerHTML];
}"""


def step_times(page, steps: int) -> tuple[list[float], list[float]]:
    """Seconds from each click on Step to the page showing its month: timed in the page itself
    (from the click event to the frame that shows the change), and as Playwright sees it (from
    its click call, so with its own work: the benchmark's figure before issue 20)."""
    button = page.get_by_role("button", name="Step")
    in_page, seen = [], []
    for _ in range(steps):
        before = page.evaluate(ARM)
        start = time.perf_counter()
        button.click()
        shown = page.wait_for_function(SHOWN, arg=before, timeout=30_000, polling="raf")
        seen.append(time.perf_counter() - start)
        in_page.append(shown.json_value() / 1e3)
    return in_page, seen


def side_by_side(page, plan: str) -> None:
    """Choose ``plan`` as plan B and press Reset."""
    lever = page.locator(".lever", has=page.locator(".lever-label", has_text="Side by side with")).first
    lever.locator(".v-select").click()
    page.locator(".v-list-item:visible", has_text=plan).first.click()
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(".district >> nth=1", timeout=30_000)


def report(label: str, times: list[float]) -> str:
    """The median, 95th percentile and slowest of ``times`` (seconds), in milliseconds."""
    ms = sorted(t * 1e3 for t in times)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[-1]
    return f"{label}: median {statistics.median(ms):.0f} ms, 95th percentile {p95:.0f} ms, slowest {ms[-1]:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="steps measured per case (default 60)")
    parser.add_argument("--plan-b", default="plans/integrated_time", help="plan B of the side-by-side case")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "improvesim", "app", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    load_before = os.getloadavg()
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url, wait_until="load")
            page.wait_for_selector(".school-tile", timeout=60_000)
            step_times(page, 3)  # warm-up: first renders, compiled kernels
            alone = step_times(page, args.steps)
            side_by_side(page, args.plan_b)
            step_times(page, 3)
            both = step_times(page, args.steps)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    load_after = os.getloadavg()
    print(f"step shown on the page (click to new month on the counter and chart; {args.steps} steps each, 40 schools):")
    for label, (in_page, seen) in (("plan A alone", alone), (f"side by side with {args.plan_b}", both)):
        print(f"  {label}:")
        print("    " + report("in the page", in_page))
        print("    " + report("with Playwright's click", seen))
    print(
        f"  load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs (other work on the machine slows the steps)"
    )


if __name__ == "__main__":
    main()
