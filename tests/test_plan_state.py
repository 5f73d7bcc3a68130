"""The plan state: a re-plan whose input is the last plan's compares nothing, and reports
what a full comparison reports; any change it reads, or any counted write of a variant,
makes the next plan compare again."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa

from amplifier import database
from amplifier.cli.app import run
from amplifier.models import PLAN_STATES, VARIANTS
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory
from tests.test_plan import CALENDAR
from tests.test_sync import dump

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def ws(make_workspace: WorkspaceFactory, database_url: str) -> Workspace:
    w = Workspace.open(make_workspace(calendars={"hut.yaml": CALENDAR}), database_url=database_url)
    w.sync()
    return w


def report(summary: Any) -> dict[str, Any]:
    """What a summary reports, but its times and whether it compared."""
    shown = summary.as_dict()
    del shown["seconds"], shown["compared"], shown["stages"], shown["parts"]
    return shown


def assert_replan_reports_as_a_full_comparison(ws: Workspace) -> None:
    before = dump(ws)
    quick = ws.plan()
    assert not quick.compared
    assert dump(ws) == before  # it wrote nothing
    full = ws.plan(full=True)
    assert full.compared
    assert report(quick) == report(full)
    assert dump(ws) == before


@SQLITE
def test_a_replan_of_unchanged_input_compares_nothing_and_reports_the_same(
    ws: Workspace,
) -> None:
    first = ws.plan()
    assert first.compared and first.counts["created"] == 4
    assert_replan_reports_as_a_full_comparison(ws)
    assert ws.plan().counts["unchanged"] == 4


@SQLITE
def test_kept_cancelled_and_findings_are_reported_as_a_full_comparison(
    ws: Workspace, make_workspace: WorkspaceFactory
) -> None:
    long_body = "Kalimat panjang tentang layanan publik. " * 12
    narrowed = CALENDAR.replace("Pos pertama.", long_body.strip())
    make_workspace(calendars={"hut.yaml": narrowed}, root=ws.root)
    ws.sync()
    folder = ws.root / "templates" / "institution"
    folder.mkdir(parents=True)
    (folder / "post.x.j2").write_text("{% block body %}{{ post.body }}{% endblock %}")
    ws.plan()
    first = ws.variants()[0]
    with ws.engine.begin() as conn:  # counted: the next plan compares
        conn.execute(
            sa.update(VARIANTS)
            .where(VARIANTS.c.id == first.id)
            .values(status=VariantStatus.PUBLISHED)
        )
    kept = ws.plan()
    assert kept.compared and kept.counts["kept"] == 1
    assert_replan_reports_as_a_full_comparison(ws)
    # a target removed: cancelled (compared), then reported as a full comparison would
    make_workspace(
        calendars={
            "hut.yaml": narrowed.replace(
                "    hashtags: [HUTKPTD]\n",
                "    hashtags: [HUTKPTD]\n    targets: {kinds: [central]}\n",
            )
        },
        root=ws.root,
    )
    ws.sync()
    cancelled = ws.plan()
    assert cancelled.compared and cancelled.counts["cancelled"] >= 1
    assert_replan_reports_as_a_full_comparison(ws)
    again = ws.plan()
    assert again.findings, "the over-limit finding is still reported"
    assert any(f["rule"] == "platform.x.length" for f in again.findings)


@SQLITE
def test_every_input_the_plan_reads_makes_it_compare_again(
    ws: Workspace, make_workspace: WorkspaceFactory
) -> None:
    ws.plan()
    assert not ws.plan().compared
    # a template
    folder = ws.root / "templates" / "units" / "KANWIL-BALI"
    folder.mkdir(parents=True)
    (folder / "post.j2").write_text("{% block greeting %}Om Swastyastu!{% endblock %}")
    edited = ws.plan()
    assert edited.compared and edited.counts["updated"] == 2
    assert not ws.plan().compared
    # a post
    make_workspace(
        calendars={"hut.yaml": CALENDAR.replace("Pos kedua.", "Pos kedua, baru.")},
        root=ws.root,
    )
    ws.sync()
    edited = ws.plan()
    assert edited.compared and edited.counts["updated"] == 2
    assert not ws.plan().compared
    # a unit (its city is in the render context)
    org = (ws.root / "org.yaml").read_text()
    (ws.root / "org.yaml").write_text(org.replace("Denpasar", "Badung"))
    ws.sync()
    assert ws.plan().compared
    assert not ws.plan().compared


@SQLITE
def test_a_write_of_the_variant_table_is_counted_and_makes_the_next_plan_compare(
    ws: Workspace,
) -> None:
    ws.plan()
    with ws.engine.connect() as conn:
        start = database.variant_writes(conn)
    assert start is not None and start > 0  # the plan's own inserts were counted
    with ws.engine.begin() as conn:
        conn.execute(sa.update(VARIANTS).values(status=VariantStatus.CANCELLED))
        conn.execute(sa.text("UPDATE work_unit SET city = city"))  # not the variant table
        assert database.variant_writes(conn) == start + 1
    restored = ws.plan()
    assert restored.compared and restored.counts["updated"] == 4
    assert all(v.status == VariantStatus.SCHEDULED for v in ws.variants())
    assert not ws.plan().compared


@SQLITE
def test_a_write_with_another_tool_needs_a_full_plan(ws: Workspace) -> None:
    ws.plan()
    path = ws.engine.url.database
    assert path is not None
    ws.engine.dispose()
    with sqlite3.connect(path) as raw:  # not counted: amplifier cannot see it
        raw.execute("UPDATE variant SET status = 'cancelled'")
    assert not ws.plan().compared
    full = ws.plan(full=True)
    assert full.compared and full.counts["updated"] == 4
    assert all(v.status == VariantStatus.SCHEDULED for v in ws.variants())


def test_no_count_and_no_state_where_writes_are_not_counted(
    ws: Workspace, database_url: str
) -> None:
    ws.plan()
    with ws.engine.connect() as conn:
        states = conn.execute(sa.select(sa.func.count()).select_from(PLAN_STATES)).scalar()
        writes = database.variant_writes(conn)
    if database_url.startswith("sqlite"):
        assert writes is not None and states == 1
    else:  # PostgreSQL: every plan compares every variant
        assert writes is None and states == 0
        assert ws.plan().compared


@SQLITE
def test_cli_plan_full_and_json_say_whether_the_plan_compared(
    ws: Workspace, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    base = ["-w", str(ws.root), "--database-url", database_url]
    assert run([*base, "plan", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["compared"] is True
    assert run([*base, "plan", "--format", "json"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert quick["compared"] is False and quick["counts"]["unchanged"] == 4
    assert run([*base, "plan", "--full", "--format", "json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["compared"] is True and full["counts"] == quick["counts"]


@SQLITE
def test_an_edited_lexicon_file_checks_the_variants_again(
    make_workspace: WorkspaceFactory, database_url: str
) -> None:
    root = make_workspace(
        calendars={"hut.yaml": CALENDAR},
        settings='[policy.content]\nlexicons = ["lexicons/"]\n',
    )
    (root / "lexicons").mkdir()
    lexicon = root / "lexicons" / "local.yaml"
    entry = "category: hoax\nseverity: review\nentries:\n  - id: local.kata\n    term: {}\n"
    lexicon.write_text(entry.format("kata yang tidak ada"))
    ws = Workspace.open(root, database_url=database_url)
    ws.sync()
    assert not ws.plan().findings
    assert not ws.plan().compared
    lexicon.write_text(entry.format("pos pertama"))
    rechecked = ws.plan()
    assert rechecked.compared
    assert {f["rule"] for f in rechecked.findings} == {"local.kata"}
    assert len(rechecked.findings) == 2  # post "satu" on both accounts
