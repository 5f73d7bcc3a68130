"""Headless Chromium for the HTML pages, through Playwright and the system browser.

Playwright drives Debian's ``chromium`` (``executable_path``); it never downloads a browser.
Tests that use the ``page`` fixture are marked ``browser``. Without Chromium they skip,
unless ``AMPLIFIER_REQUIRE_BROWSER=1`` (CI sets it), in which case they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REQUIRE_BROWSER = "AMPLIFIER_REQUIRE_BROWSER"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("AMPLIFIER_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{REQUIRE_BROWSER}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions seen by one page."""

    console: list[str] = field(default_factory=list)
    uncaught: list[str] = field(default_factory=list)

    def assert_none(self) -> None:
        assert not self.console, f"console errors: {self.console}"
        assert not self.uncaught, f"page errors: {self.uncaught}"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One browser for the session."""
    path = chromium_path()
    if path is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extra missing
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh page (1280×900) with ``page.errors`` collecting console and page errors.

    Any network request other than ``file:`` and ``data:`` is aborted and recorded as an
    error: the pages must work offline.
    """
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors = PageErrors()
    pg.on("console", lambda m: errors.console.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.uncaught.append(str(exc)))

    def offline(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            errors.uncaught.append(f"network request to {url}")
            route.abort()

    pg.route("**/*", offline)
    pg.errors = errors
    try:
        yield pg
    finally:
        context.close()


def file_url(path: Path) -> str:
    return path.resolve().as_uri()
