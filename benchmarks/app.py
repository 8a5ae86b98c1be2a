"""Benchmark (issue: workshop mode): how long a step takes to show on the page.

Starts `improvesim app` on a free local port, opens it in headless
chromium, presses Step 24 times and prints the median and slowest time from
the click to the page showing the new month (40 schools; plan A alone).

    .venv/bin/python benchmarks/app.py
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
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
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url, wait_until="load")
            page.wait_for_selector(".school-tile", timeout=60_000)
            button = page.get_by_role("button", name="Step")
            times = []
            for _ in range(24):
                before = page.locator(".district-summary").first.inner_text()
                start = time.perf_counter()
                button.click()
                page.wait_for_function("b => document.querySelector('.district-summary').innerText !== b", arg=before)
                times.append(time.perf_counter() - start)
            browser.close()
    finally:
        server.terminate()
    print(
        f"step shown on the page: median {statistics.median(times) * 1e3:.0f} ms, slowest {max(times) * 1e3:.0f} ms "
        f"(40 schools, {len(times)} steps)"
    )


if __name__ == "__main__":
    main()
