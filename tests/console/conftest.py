"""Fixtures for the web console's tests: a real headless Chromium (Debian's package) driven by Playwright.

Nothing is downloaded: Playwright drives /usr/bin/chromium. Without it the browser tests skip with a
reason, except under SATEDGE_REQUIRE_BROWSER=1 (CI, .ci/run), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("SATEDGE_CHROMIUM", "/usr/bin/chromium"))
# --headless and a fresh profile (--user-data-dir in a new temporary folder) are Playwright's own for launch().
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session; each test opens its own page."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            missing = "Playwright for Python is not installed (make venv)"
    if missing is not None:
        if os.environ.get("SATEDGE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SATEDGE_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh page (its own context: no shared storage); `page.errors` collects its uncaught JS errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()
