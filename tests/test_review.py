"""Review workflow: auto-approval, bulk approve/reject with who/when/note, blocking refusals,
and a changed text returning to review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amplifier.cli.app import run
from amplifier.errors import InvalidOperation
from amplifier.review import initial_state, review_variants
from amplifier.vocab import ReviewState
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory

CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT
    period: {start: 2027-10-01, end: 2027-10-31}
    review: REVIEW
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: Pos pertama.
"""


def make(make_workspace: WorkspaceFactory, tmp_path: Path, review: str = "auto") -> Workspace:
    root = make_workspace(calendars={"hut.yaml": CALENDAR.replace("REVIEW", review)})
    ws = Workspace.open(root, database_url=f"sqlite:///{tmp_path / 'r.db'}")
    ws.sync()
    ws.plan()
    return ws


def test_initial_state_rules() -> None:
    block = {"rule": "r", "severity": "block", "message": "m"}
    look = {"rule": "r", "severity": "review", "message": "m"}
    assert initial_state([], "auto") == ReviewState.APPROVED
    assert initial_state([], "manual") == ReviewState.NEEDS_REVIEW
    assert initial_state([look], "auto") == ReviewState.NEEDS_REVIEW
    assert initial_state([look, block], "auto") == ReviewState.DRAFT
    notice = {"rule": "electoral.x", "severity": "info", "message": "m"}
    assert initial_state([notice], "auto") == ReviewState.APPROVED  # a notice needs nobody
    assert initial_state([notice, look], "auto") == ReviewState.NEEDS_REVIEW


def test_clean_variants_are_auto_approved(make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    ws = make(make_workspace, tmp_path)
    assert {v.review for v in ws.variants()} == {ReviewState.APPROVED}


def test_manual_campaign_bulk_approve_and_reject_record_who_when_note(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = make(make_workspace, tmp_path, "manual")
    assert {v.review for v in ws.variants()} == {ReviewState.NEEDS_REVIEW}
    result = review_variants(
        ws, "approve", by="humas.pusat", note="ok", campaign="hut", unit="PUSAT"
    )
    assert len(result.changed) == 1
    (pusat,) = [v for v in ws.variants() if v.id in result.changed]
    assert (pusat.review, pusat.reviewed_by, pusat.review_note) == (
        ReviewState.APPROVED,
        "humas.pusat",
        "ok",
    )
    assert pusat.reviewed_at is not None and pusat.reviewed_at.utcoffset() is not None
    rejected = review_variants(ws, "reject", by="humas.pusat", post="hut/satu")
    assert len(rejected.changed) == 2
    assert {v.review for v in ws.variants()} == {ReviewState.REJECTED}


def test_blocking_findings_cannot_be_approved(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = make(make_workspace, tmp_path)
    folder = ws.root / "templates" / "units" / "KANWIL-BALI"
    folder.mkdir(parents=True)
    (folder / "post.j2").write_text("{% block body %}{{ nope }}{% endblock %}")
    ws.plan()
    bali = [v for v in ws.variants() if v.findings]
    assert [v.review for v in bali] == [ReviewState.DRAFT]
    result = review_variants(ws, "approve", by="x", unit="KANWIL-BALI")
    assert result.changed == [] and "blocking finding" in result.refused[bali[0].id]


def test_changed_text_returns_to_review(make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    ws = make(make_workspace, tmp_path, "manual")
    review_variants(ws, "approve", by="x", campaign="hut")
    assert {v.review for v in ws.variants()} == {ReviewState.APPROVED}
    (ws.root / "calendars" / "hut.yaml").write_text(
        CALENDAR.replace("REVIEW", "manual").replace("Pos pertama.", "Pos yang diubah.")
    )
    ws.sync()
    ws.plan()
    assert {v.review for v in ws.variants()} == {ReviewState.NEEDS_REVIEW}
    # the earlier approval was of another text: it is not carried over to this one
    assert {(v.reviewed_by, v.reviewed_at, v.review_note) for v in ws.variants()} == {
        (None, None, None)
    }


def test_selector_and_reviewer_required(make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    ws = make(make_workspace, tmp_path)
    with pytest.raises(InvalidOperation, match="choose the variants"):
        review_variants(ws, "approve", by="x")
    with pytest.raises(InvalidOperation, match="who is reviewing"):
        review_variants(ws, "approve", by=" ", campaign="hut")


def test_review_cli(
    make_workspace: WorkspaceFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = make(make_workspace, tmp_path, "manual")
    base = ["-w", str(ws.root), "--database-url", ws.database_url]
    assert run([*base, "review", "list", "-f", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert (
        run([*base, "review", "approve", "--by", "humas", "--campaign", "hut", "-f", "json"]) == 0
    )
    assert len(json.loads(capsys.readouterr().out)["changed"]) == 2
    assert run([*base, "review", "approve", "--campaign", "hut"]) == 2
