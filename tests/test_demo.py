"""The demo: ``amplifier demo`` publishes the bundled calendar with the real daemon in
under a minute and leaves the workspace's own database and outbox alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder``: (size, modification time in ns)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_the_demo_publishes_everything_in_under_a_minute_and_touches_no_workspace_file(
    tmp_path: Path,
) -> None:
    before = snapshot(REPO / ".amplifier")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPLIFIER_")}
    started = time.monotonic()
    command = [sys.executable, "-m", "amplifier", "-w", str(REPO), "demo"]
    done = subprocess.run(
        [*command, "--folder", str(tmp_path), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert took < 60
    result = json.loads(done.stdout)
    planned = result["planned"]["variants"]
    assert planned > 1000
    assert result["statuses"] == {"published": planned}
    assert result["outcomes"] == {"published": planned}
    assert result["database_url"] == f"sqlite:///{tmp_path / 'demo.db'}"
    assert any((tmp_path / "outbox").rglob("*.txt"))
    assert snapshot(REPO / ".amplifier") == before  # the workspace's database and outbox
