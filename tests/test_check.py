"""Variant checks (content lexicons, sources, required elements) in plan, and `amplifier check`."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplifier.check import _PARAGRAPH, Context, VariantChecker, _split_paragraphs
from amplifier.cli.app import run
from amplifier.policy.config import RequireSpec
from amplifier.vocab import ReviewState
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory

CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT
    period: {start: 2027-10-01, end: 2027-10-31}
    hashtags: [HUTKPTD, Melayani]
    require: {hashtags: true}
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: "BODY"
"""


def plan(make_workspace: WorkspaceFactory, tmp_path: Path, body: str) -> Workspace:
    root = make_workspace(calendars={"hut.yaml": CALENDAR.replace("BODY", body)})
    ws = Workspace.open(root, database_url=f"sqlite:///{tmp_path / 'c.db'}")
    ws.sync()
    ws.plan()
    return ws


def test_sara_incitement_blocks_with_the_span(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = plan(make_workspace, tmp_path, "Ayo u.s.i.r pendatang dari kampung kita.")
    for v in ws.variants():
        sara = [f for f in v.findings if f["category"] == "sara"]
        assert sara and sara[0]["severity"] == "block"
        start, end = sara[0]["span"]
        assert v.text[start:end].startswith("u.s.i.r")
        assert v.review == ReviewState.DRAFT


def test_untrusted_link_and_shortener_go_to_review(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = plan(make_workspace, tmp_path, "Info: https://bit.ly/abc dan https://contoh.com/x")
    rules = {f["rule"] for v in ws.variants() for f in v.findings}
    assert {"policy.source.shortener", "policy.source.untrusted"} <= rules
    assert {v.review for v in ws.variants()} == {ReviewState.NEEDS_REVIEW}


def test_clean_post_on_go_id_is_approved(make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    ws = plan(make_workspace, tmp_path, "Lawan hoaks, cek fakta di https://www.kptd.go.id/cek.")
    assert all(v.findings == [] for v in ws.variants()), [v.findings for v in ws.variants()]
    assert {v.review for v in ws.variants()} == {ReviewState.APPROVED}


def test_required_hashtags_missing_is_found() -> None:
    checker = VariantChecker()
    ctx = Context(
        platform="x", require=RequireSpec(hashtags=True), hashtags=["HUTKPTD", "Melayani"]
    )
    found = checker.check("Selamat ulang tahun #HUTKPTD", None, ctx)
    assert [f.rule for f in found] == ["policy.required.hashtags"]
    assert "#Melayani" in found[0].message


def test_paragraph_cache_keeps_spans_right() -> None:
    checker = VariantChecker()
    ctx = Context(platform="facebook")
    first, second = "Salam.\n\nDasar bangsat!", "Salam dari Bali yang panjang.\n\nDasar bangsat!"
    a = checker.check(first, None, ctx)
    b = checker.check(second, None, ctx)
    assert a[0].span == (14, 21) and b[0].span == (37, 44)
    assert first[14:21] == second[37:44] == "bangsat"


def test_check_command_exit_codes(
    make_workspace: WorkspaceFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = plan(make_workspace, tmp_path, "Selamat ulang tahun. #HUTKPTD #Melayani")
    base = ["-w", str(ws.root), "--database-url", ws.database_url]
    assert run([*base, "check", "-f", "json", "--today", "2027-01-10"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["blocking"] is False
    (ws.root / "calendars" / "hut.yaml").write_text(CALENDAR.replace("BODY", "Bunuh kafir!"))
    assert run([*base, "plan"]) == 0
    capsys.readouterr()
    assert run([*base, "check", "-f", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["blocking"] is True
    assert any(f["category"] == "sara" for f in report["variants"])


def test_example_workspace_check_finds_the_deliberate_problems(tmp_path: Path) -> None:
    from tests.conftest import REPO

    ws = Workspace.open(REPO, database_url=f"sqlite:///{tmp_path / 'e.db'}")
    ws.sync()
    import datetime as dt

    from amplifier.check import check_workspace_and_variants

    report = check_workspace_and_variants(ws, today=dt.date(2026, 11, 28))
    rules = {f.rule for f in report.workspace}
    assert {"policy.naming.syntax", "policy.naming.pattern", "policy.governance.no_admin"} <= rules
    assert report.blocking  # the 16-character X handle


def test_electoral_terms_are_a_notice_until_a_masa_tenang_covers_the_variant() -> None:
    checker = VariantChecker()
    text = "Coblos nomor 2 ya!\n\nLayanan tetap buka."
    outside = [f for f in checker.content(text, Context("x")) if f.category == "electoral"]
    inside = [
        f for f in checker.content(text, Context("x", quiet_period=True))
        if f.category == "electoral"
    ]  # fmt: skip
    assert [(f.rule, f.severity, f.span) for f in outside] == [("electoral.coblos", "info", (0, 6))]
    assert "timed into a masa tenang" in outside[0].message
    assert [(f.rule, f.severity, f.span) for f in inside] == [
        ("electoral.coblos", "review", (0, 6))
    ]
    assert "masa tenang" not in inside[0].message


PARAGRAPHS = st.sampled_from(
    ["Salam.", "Dasar bangsat!", "Cek https://bit.ly/x", "Jadwal 09.00 WIB.", "", " \t"]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(PARAGRAPHS, max_size=5), st.sampled_from(["\n\n", "\n \n", "\n\t\n\n"]))
def test_content_findings_are_each_paragraphs_shifted_into_place(
    paragraphs: list[str], separator: str
) -> None:
    checker = VariantChecker()
    text = separator.join(paragraphs)
    expected = []
    start = 0
    for m in [*re.finditer(r"\n[ \t]*\n", text), None]:
        end = m.start() if m else len(text)
        for f in checker._paragraph(text[start:end], False):
            assert f.span is not None
            expected.append(replace(f, span=(f.span[0] + start, f.span[1] + start)))
        start = m.end() if m else end
    assert checker.content(text, Context(platform="facebook")) == expected
    # handed the text's paragraphs (as a render does), the findings are the same
    given_paragraphs = _split_paragraphs(text)
    assert checker.content(text, Context(platform="facebook"), given_paragraphs) == expected
    assert bool(expected) == any(
        p in ("Dasar bangsat!", "Cek https://bit.ly/x") for p in paragraphs
    )


@given(st.text(alphabet="ab \t\n", max_size=40))
def test_paragraphs_split_as_the_separator_pattern_does(text: str) -> None:
    assert _split_paragraphs(text) == _PARAGRAPH.split(text)
