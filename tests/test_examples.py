"""The documented examples run as written."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_fanout_example_runs_on_the_bundled_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(
        REPO, root, ignore=shutil.ignore_patterns(".venv*", ".git", ".amplifier", "*.db")
    )
    example = runpy.run_path(str(REPO / "docs" / "examples" / "fanout.py"))
    assert example["main"](str(root), f"sqlite:///{tmp_path / 'ex.db'}") == 0
    out = capsys.readouterr().out
    assert "accounts, e.g." in out and "chain:" in out and "plan: {'created':" in out
