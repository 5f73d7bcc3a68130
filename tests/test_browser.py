"""The browser harness itself: it sees console errors, page errors and network requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import file_url


def _write(tmp_path: Path, body: str) -> str:
    page_file = tmp_path / "p.html"
    page_file.write_text(f"<!doctype html><html><body>{body}</body></html>", encoding="utf-8")
    return file_url(page_file)


def test_a_clean_page_has_no_errors(page: Any, tmp_path: Path) -> None:
    page.goto(_write(tmp_path, "<p id=x>siap</p><script>console.log('ok')</script>"))
    assert page.inner_text("#x") == "siap"
    page.errors.assert_none()


def test_console_errors_and_exceptions_are_caught(page: Any, tmp_path: Path) -> None:
    page.goto(_write(tmp_path, "<script>console.error('rusak'); null.x;</script>"))
    assert page.errors.console == ["rusak"]
    assert len(page.errors.uncaught) == 1
    with pytest.raises(AssertionError):
        page.errors.assert_none()


def test_network_requests_are_refused_and_reported(page: Any, tmp_path: Path) -> None:
    page.goto(_write(tmp_path, "<img src='http://127.0.0.1:9/x.png'>"))
    page.wait_for_timeout(100)
    assert any("network request to http://127.0.0.1:9/x.png" in e for e in page.errors.uncaught)
