"""The CLI over the workspace: init, sync, units, db; clean errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amplifier.cli.app import run
from tests.conftest import MINIMAL_ORG, WorkspaceFactory


def test_init_scaffold_is_accepted_by_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "baru"
    assert run(["init", str(target)]) == 0
    assert (target / "org.yaml").is_file() and (target / ".gitignore").is_file()
    assert run(["-w", str(target), "sync", "--format", "json"]) == 0
    capsys.readouterr()
    assert run(["-w", str(target), "sync", "--format", "json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["changed"] is False
    assert run(["-w", str(target), "units", "--format", "json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree[0]["code"] == "PUSAT" and tree[0]["accounts"][0]["platform"] == "x"


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init", str(tmp_path)]) == 0
    assert run(["init", str(tmp_path)]) == 2
    assert "not overwriting existing files" in capsys.readouterr().err


def test_units_json_tree(
    make_workspace: WorkspaceFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_workspace()
    assert run(["-w", str(root), "sync"]) == 0
    capsys.readouterr()
    assert run(["-w", str(root), "units", "-f", "json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert [c["code"] for c in tree[0]["children"]] == ["KANWIL-BALI"]
    assert tree[0]["children"][0]["timezone"] == "Asia/Makassar"
    assert run(["-w", str(root), "units"]) == 0
    shown = capsys.readouterr().out
    assert (
        "KANWIL-BALI" in shown
        and "Asia/Makassar" in shown
        and "instagram:@kptd.kanwil.bali" in shown
    )


def test_workspace_error_exits_2_without_traceback(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(
        org=MINIMAL_ORG.replace("timezone: Asia/Makassar", "timzone: Asia/Makassar")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "amplifier", "-w", str(root), "sync"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert (
        "org.yaml:18:5: units[1].timzone: unknown key 'timzone' (did you mean 'timezone'?)"
        in proc.stderr
    )
    assert "nothing was changed" in proc.stderr


def test_db_status_and_upgrade(
    make_workspace: WorkspaceFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_workspace()
    assert run(["-w", str(root), "db", "upgrade"]) == 0
    assert "upgraded from empty" in capsys.readouterr().out
    assert run(["-w", str(root), "db", "upgrade"]) == 0
    assert "already at" in capsys.readouterr().out
    assert run(["-w", str(root), "db", "status", "-f", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["up_to_date"] is True


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["units", "--format", "yaml"]) == 2


def test_messages_with_brackets_are_printed_whole(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(org=MINIMAL_ORG.replace("code: PUSAT\n", "code: '[PUSAT]'\n", 1))
    proc = subprocess.run(
        [sys.executable, "-m", "amplifier", "-w", str(root), "sync"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "[A-Za-z0-9]" in proc.stderr


def test_bad_files_create_no_database(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(org="units: 3\n", settings='[database]\nurll = "x"\n')
    assert run(["-w", str(root), "sync"]) == 2
    assert not (root / ".amplifier").exists()


def test_settings_and_file_problems_are_reported_together(
    make_workspace: WorkspaceFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_workspace(org="units: 3\n", settings="[platforms.instagram]\nmax_hashtag = 10\n")
    assert run(["-w", str(root), "units"]) == 2
    errors = capsys.readouterr().err
    assert (
        "amplifier.toml:2:1: platforms.instagram.max_hashtag: unknown key 'max_hashtag'" in errors
    )
    assert "(did you mean 'max_hashtags'?)" in errors
    assert "org.yaml" in errors


def test_explicit_database_url_beats_the_environment(
    make_workspace: WorkspaceFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from amplifier.workspace import Workspace

    monkeypatch.setenv("AMPLIFIER_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    ws = Workspace.open(make_workspace(), database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    assert ws.database_url.endswith("cli.db")


def test_unreachable_database_is_a_clean_error(
    make_workspace: WorkspaceFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    assert run(["-w", str(make_workspace()), "--database-url", url, "sync"]) == 2
    assert "cannot open the database" in capsys.readouterr().err
