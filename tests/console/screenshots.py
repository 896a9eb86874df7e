"""The console's screenshots for docs/console.md, taken from the demo run (`make demo`'s scenario):

    .venv/bin/python -m tests.console.screenshots --out docs/img

`satedge sim` runs sim/default.toml with the ground's console on (SATEDGE_CONSOLE_* variables reach the
ground it starts); once a window is open with summaries in, a `set-min-class 3` (the scenario's own value,
so the run is unchanged) is queued from the operations page and its answer awaited; both pages are
captured in the window that brings the eighth of the twelve scenes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from satedge.processes import free_port
from tests.conftest import REPO
from tests.console.conftest import CHROMIUM, FLAGS


def operations(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/operations", timeout=10) as response:
        return json.loads(response.read())


def wait(url: str, condition, proc: subprocess.Popen, what: str) -> None:
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the run ended before {what}")
        try:
            if condition(operations(url)):
                return
        except OSError:
            pass   # the console is not up yet
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="console-shots-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SATEDGE_CONSOLE_BIND=f"127.0.0.1:{port}", SATEDGE_CONSOLE_WRITE="true",
               SATEDGE_CONSOLE_TOKEN_FILE=str(work / "console.token"))
    proc = subprocess.Popen([sys.executable, "-m", "satedge.cli", "sim", "--config", "sim/default.toml",
                             "--out", str(work / "run")], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(work / "sim.log", "w"))
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            wait(url, lambda ops: ops["live"] and ops["live"]["window"] and ops["summaries"] >= 4, proc,
                 "a window with summaries")
            page.goto(f"{url}/operations")
            page.fill("#token", (work / "console.token").read_text().strip())
            page.select_option("#command-name", "set-min-class")
            page.fill("#command-value", "3")
            page.click("#command-send")
            page.wait_for_selector("#command-result.ok", timeout=30_000)
            cmd_id = page.locator("#command-result").inner_text().split()[2].rstrip(":")
            page.locator(f"#commands tr[data-cmd='{cmd_id}'] .answers .yes").wait_for(timeout=120_000)
            wait(url, lambda ops: ops["live"]["window"] and ops["summaries"] >= 8, proc, "eight summaries")
            page.wait_for_timeout(1500)   # the page's next update
            page.screenshot(path=str(args.out / "console-operations.png"), full_page=True)
            page.goto(f"{url}/map")
            page.wait_for_selector("#building-count:not([data-count='0'])", timeout=30_000)
            page.wait_for_timeout(1500)   # the next update, and the fitted view settled
            page.locator("path.building.cls-4").nth(20).click(force=True)   # one destroyed building's popup
            page.wait_for_selector(".leaflet-popup-content")
            page.wait_for_timeout(800)    # the popup's fade-in
            page.screenshot(path=str(args.out / "console-map.png"))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(120)
    print(f"screenshots in {args.out}; run folder {work}")


if __name__ == "__main__":
    main()
