"""Reports: coverage outcomes and rates, breakdowns, leaderboard streaks and admins, formats.

One small workspace is planned, then every variant's status and times are set in the
database so that each outcome occurs; the expected numbers are worked out by hand below.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from amplifier.cli import report_cmds
from amplifier.cli.app import State
from amplifier.errors import NotFound
from amplifier.models import Account, Admin, AdminLink, CentralPost, Variant, WorkUnit
from amplifier.reports import (
    Outcome,
    classify,
    coverage,
    leaderboard,
    markdown,
    render,
    to_json,
)
from amplifier.reports.recognition import streaks
from amplifier.vocab import ReviewState, VariantStatus
from amplifier.workspace import Workspace

ORG = """\
institution:
  code: KPTD
  name: Kementerian Contoh
units:
  - code: PUSAT
    name: Kantor Pusat
    kind: central
    region: DKI Jakarta
    timezone: Asia/Jakarta
    accounts:
      - {platform: x, handle: kptd_ri, mode: api}
      - {platform: instagram, handle: kptd.ri, mode: manual}
  - code: KANWIL-BALI
    name: Kantor Wilayah Bali
    kind: regional
    parent: PUSAT
    region: Bali
    timezone: Asia/Makassar
    accounts:
      - {platform: x, handle: kptd_bali, mode: api}
      - {platform: instagram, handle: kptd.kanwil.bali, mode: manual}
  - code: KL-DENPASAR
    name: Kantor Layanan Denpasar
    kind: service
    parent: KANWIL-BALI
    region: Bali
    timezone: Asia/Makassar
    accounts:
      - {platform: x, handle: kptd_denpasar, mode: api}
  - code: KANWIL-PAPUA
    name: Kantor Wilayah Papua
    kind: regional
    parent: PUSAT
    region: Papua
    timezone: Asia/Jayapura
    accounts:
      - {platform: x, handle: kptd_papua, mode: api}
admins:
  - id: ADM-1
    name: Admin Pusat
    units: [PUSAT, KANWIL-PAPUA]
    letter: {number: ST-1/2027, issued: 2027-01-04, valid_until: 2027-12-31}
  - id: ADM-2
    name: Admin Bali
    units: [KANWIL-BALI, KL-DENPASAR]
    letter: {number: ST-2/2027, issued: 2027-01-04, valid_until: 2027-06-30}
  - id: ADM-3
    name: Admin Konten Bali
    accounts: ["instagram:kptd.kanwil.bali"]
    letter: {number: ST-3/2027, issued: 2027-02-01, valid_until: 2027-12-31}
  - id: ADM-4
    name: Admin Lama Papua
    units: [KANWIL-PAPUA]
    letter: {number: ST-4/2027, issued: 2027-01-04, valid_until: 2027-12-31}
"""

CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT Kementerian
    period: {start: 2027-10-01, end: 2027-10-31}
    posts:
      - {key: satu, at: 2027-10-27T09:00:00+07:00, body: Pos pertama.}
      - {key: dua, at: 2027-10-28T09:00:00+07:00, body: Pos kedua.}
      - key: tiga
        at: 2027-10-29T09:00:00+07:00
        body: Pos ketiga.
        targets: {platforms: [x]}
      - {key: empat, at: 2027-10-30T09:00:00+07:00, body: Pos keempat.}
"""

NOW = dt.datetime(2027, 10, 30, 2, 0, tzinfo=dt.UTC)  # central time of "empat"
MIN = dt.timedelta(minutes=1)
PUBLISHED, SCHEDULED = VariantStatus.PUBLISHED, VariantStatus.SCHEDULED

# post -> handle -> (status, published_at, confirmed_at) in minutes after publish_at, which
# is the central time + 1 hour; review "rejected" where noted. The outcome is the comment.
CASES: dict[str, dict[str, dict[str, Any]]] = {
    "satu": {
        "kptd_ri": {"status": PUBLISHED, "pub": 5},  # on time, +65m after central
        "kptd.ri": {"status": PUBLISHED, "pub": 0, "conf": 10},  # on time (manual), +70m
        "kptd_bali": {"status": PUBLISHED, "pub": 30},  # late, +90m
        "kptd.kanwil.bali": {"status": PUBLISHED, "pub": 0},  # not confirmed
        "kptd_denpasar": {"status": VariantStatus.MISSED},  # missed
        "kptd_papua": {"status": VariantStatus.CANCELLED},  # not applicable
    },
    "dua": {
        "kptd_ri": {"status": PUBLISHED, "pub": 0},  # on time, +60m
        "kptd.ri": {"status": PUBLISHED, "pub": 0, "conf": 15},  # on time at the grace, +75m
        "kptd_bali": {"status": PUBLISHED, "pub": 1},  # on time, +61m
        "kptd.kanwil.bali": {"status": PUBLISHED, "pub": 0, "conf": 5},  # on time, +65m
        "kptd_denpasar": {"status": VariantStatus.FAILED},  # missed
        "kptd_papua": {"status": SCHEDULED},  # missed: its time passed, never published
    },
    "tiga": {  # x only: the two instagram accounts are not targeted (not applicable)
        "kptd_ri": {"status": PUBLISHED, "pub": 2},  # on time, +62m
        "kptd_bali": {"status": VariantStatus.PENDING, "review": ReviewState.REJECTED},  # n/a
        "kptd_denpasar": {"status": PUBLISHED, "pub": 20},  # late, +80m
        "kptd_papua": {"status": VariantStatus.UNCERTAIN},  # not confirmed
    },
    "empat": {  # its time has not come: pending, except one posted early
        "kptd_ri": {"status": PUBLISHED, "pub": -120},  # on time, 60m before central
        "kptd.ri": {"status": SCHEDULED},
        "kptd_bali": {"status": SCHEDULED},
        "kptd.kanwil.bali": {"status": SCHEDULED},
        "kptd_denpasar": {"status": SCHEDULED},
        "kptd_papua": {"status": SCHEDULED},
    },
}


def _seconds(minutes: float) -> int:
    return int(minutes * 60)


def build(root: Path, database_url: str) -> Workspace:
    """The workspace above, planned, with every variant set to its case."""
    (root / "calendars").mkdir(parents=True)
    (root / "org.yaml").write_text(ORG, encoding="utf-8")
    (root / "calendars" / "hut.yaml").write_text(CALENDAR, encoding="utf-8")
    w = Workspace.open(root, database_url=database_url)
    w.sync()
    w.plan()
    V, A, P = Variant.__table__, Account.__table__, CentralPost.__table__  # type: ignore[attr-defined]
    L, M, U = AdminLink.__table__, Admin.__table__, WorkUnit.__table__  # type: ignore[attr-defined]
    with w.engine.begin() as conn:
        found = conn.execute(
            sa.select(V.c.id, P.c.key, A.c.handle, P.c.central_at)
            .join(A, A.c.id == V.c.account_id)
            .join(P, P.c.id == V.c.post_id)
        ).all()
        assert sorted((r.key, r.handle) for r in found) == sorted(
            (post, handle) for post, cases in CASES.items() for handle in cases
        )
        for r in found:
            case = CASES[r.key][r.handle]
            planned = r.central_at + dt.timedelta(hours=1)
            at = {k: None if k not in case else planned + case[k] * MIN for k in ("pub", "conf")}
            conn.execute(
                sa.update(V)
                .where(V.c.id == r.id)
                .values(
                    status=case["status"],
                    review=case.get("review", ReviewState.APPROVED),
                    publish_at=planned,
                    due_at=planned,
                    published_at=at["pub"],
                    confirmed_at=at["conf"],
                )
            )
        # an inactive admin, and an inactive link of an active admin: neither is credited
        conn.execute(sa.update(M).where(M.c.key == "ADM-4").values(active=False))
        papua = sa.select(U.c.id).where(U.c.code == "KANWIL-PAPUA").scalar_subquery()
        adm1 = sa.select(M.c.id).where(M.c.key == "ADM-1").scalar_subquery()
        conn.execute(
            sa.update(L).where(L.c.unit_id == papua, L.c.admin_id == adm1).values(active=False)
        )
    return w


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Built once, on SQLite, for the module: the tests that use it only read."""
    tmp = tmp_path_factory.mktemp("reports")
    return build(tmp / "ws", f"sqlite:///{tmp / 'r.db'}")


# --- the definitions ------------------------------------------------------------------


def test_classify_rules_in_order() -> None:
    due = NOW
    grace = dt.timedelta(minutes=15)

    def outcome(status: str, *, posted: dt.datetime | None = None, now: dt.datetime = NOW,
                review: str = ReviewState.APPROVED) -> Outcome:  # fmt: skip
        return classify(
            status=status, review=review, posted_at=posted, due=due, now=now, grace=grace
        )

    later = NOW + dt.timedelta(hours=1)
    assert outcome(VariantStatus.CANCELLED, posted=NOW) is Outcome.NOT_APPLICABLE
    assert outcome(SCHEDULED, review=ReviewState.REJECTED) is Outcome.NOT_APPLICABLE
    assert outcome(PUBLISHED, posted=due - 3 * MIN) is Outcome.ON_TIME
    assert outcome(PUBLISHED, posted=due + grace) is Outcome.ON_TIME
    assert outcome(PUBLISHED, posted=due + grace + MIN) is Outcome.LATE
    assert outcome(VariantStatus.FAILED, now=due - MIN) is Outcome.MISSED  # final, even early
    assert outcome(PUBLISHED, now=due + grace) is Outcome.PENDING  # manual, awaiting confirmation
    assert outcome(PUBLISHED, now=later) is Outcome.NOT_CONFIRMED
    assert outcome(VariantStatus.UNCERTAIN, now=later) is Outcome.NOT_CONFIRMED
    for status in ("scheduled", "held", "unscheduled", "pending", "publishing"):
        assert outcome(status, now=due + grace) is Outcome.PENDING
        assert outcome(status, now=later) is Outcome.MISSED


# --- coverage -------------------------------------------------------------------------


def test_campaign_totals(ws: Workspace) -> None:
    camp = coverage(ws, "hut", now=NOW).campaign("hut")
    t = camp.total
    assert (t.on_time, t.late, t.missed, t.not_confirmed, t.not_applicable, t.pending) == (
        8,
        2,
        3,
        2,
        4,  # cancelled, rejected, and two instagram accounts "tiga" did not target
        5,
    )
    assert (t.targeted, t.amplified, t.coverage_pct, t.on_time_pct) == (15, 10, 66.7, 53.3)
    # delays after central: -60 60 61 62 65 | 65 70 75 80 90 minutes
    assert t.median_delay == dt.timedelta(minutes=65)


def _row(camp: Any, breakdown: str, key: str | None) -> dict[str, Any]:
    data: dict[str, Any] = camp.row(breakdown, key).as_dict()
    return data


COLUMNS = ("on_time", "late", "missed", "not_confirmed", "not_applicable", "pending")


def _numbers(row: dict[str, Any]) -> tuple[Any, ...]:
    return (*(row[c] for c in COLUMNS), row["coverage_pct"], row["median_delay_seconds"])


def test_breakdowns(ws: Workspace) -> None:
    camp = coverage(ws, "hut", now=NOW).campaign("hut")
    expected = {
        ("posts", "hut/satu"): (2, 1, 1, 1, 1, 0, 60.0, _seconds(70)),
        ("posts", "hut/dua"): (4, 0, 2, 0, 0, 0, 66.7, _seconds(63)),
        ("posts", "hut/tiga"): (1, 1, 0, 1, 3, 0, 66.7, _seconds(71)),
        ("posts", "hut/empat"): (1, 0, 0, 0, 0, 5, 100.0, _seconds(-60)),
        ("units", "PUSAT"): (6, 0, 0, 0, 1, 1, 100.0, _seconds(63.5)),
        ("units", "KANWIL-BALI"): (2, 1, 0, 1, 2, 2, 75.0, _seconds(65)),
        ("units", "KL-DENPASAR"): (0, 1, 2, 0, 0, 1, 33.3, _seconds(80)),
        ("units", "KANWIL-PAPUA"): (0, 0, 1, 1, 1, 1, 0.0, None),
        ("accounts", "instagram:@kptd.kanwil.bali"): (1, 0, 0, 1, 1, 1, 50.0, _seconds(65)),
        ("accounts", "x:@kptd_bali"): (1, 1, 0, 0, 1, 1, 100.0, _seconds(75.5)),
        ("regions", "DKI Jakarta"): (6, 0, 0, 0, 1, 1, 100.0, _seconds(63.5)),
        ("regions", "Bali"): (2, 2, 2, 1, 2, 3, 57.1, _seconds(72.5)),
        ("regions", "Papua"): (0, 0, 1, 1, 1, 1, 0.0, None),
        ("timezones", "Asia/Makassar"): (2, 2, 2, 1, 2, 3, 57.1, _seconds(72.5)),
        ("timezones", "Asia/Jayapura"): (0, 0, 1, 1, 1, 1, 0.0, None),
        ("kinds", "central"): (6, 0, 0, 0, 1, 1, 100.0, _seconds(63.5)),
        ("kinds", "regional"): (2, 1, 1, 2, 3, 3, 50.0, _seconds(65)),
        ("kinds", "service"): (0, 1, 2, 0, 0, 1, 33.3, _seconds(80)),
        ("platforms", "x"): (5, 2, 3, 1, 2, 3, 63.6, _seconds(62)),
        ("platforms", "instagram"): (3, 0, 0, 1, 2, 2, 75.0, _seconds(70)),
    }
    for (breakdown, key), numbers in expected.items():
        assert _numbers(_row(camp, breakdown, key)) == numbers, (breakdown, key)
    assert [r.key for r in camp.posts] == ["hut/satu", "hut/dua", "hut/tiga", "hut/empat"]
    assert [r.label for r in camp.timezones] == [
        "Asia/Jakarta (WIB)",
        "Asia/Jayapura (WIT)",
        "Asia/Makassar (WITA)",
    ]
    assert len(camp.accounts) == 6
    assert _row(camp, "accounts", "instagram:@kptd.ri")["mode"] == "manual"
    # every breakdown adds up to the total
    for name in ("units", "accounts", "regions", "timezones", "kinds", "platforms", "posts"):
        rows = camp.breakdown(name)
        for column in COLUMNS:
            assert sum(getattr(r.counts, column) for r in rows) == getattr(camp.total, column)


def test_grace_and_as_of_change_the_judgement(ws: Workspace) -> None:
    strict = coverage(ws, "hut", now=NOW, grace=dt.timedelta(0)).campaign("hut").total
    # only the two posted exactly at (or before) their planned time stay on time
    assert (strict.on_time, strict.late) == (2, 8)
    # a day later "empat" is due: its five unposted variants are missed
    later = coverage(ws, "hut", now=NOW + dt.timedelta(days=1)).campaign("hut").total
    assert (later.missed, later.not_confirmed, later.pending) == (8, 2, 0)


def test_a_variant_counts_for_the_unit_it_was_planned_for(ws: Workspace) -> None:
    A, U = Account.__table__, WorkUnit.__table__  # type: ignore[attr-defined]
    before = coverage(ws, "hut", now=NOW).campaign("hut").as_dict()
    papua = sa.select(U.c.id).where(U.c.code == "KANWIL-PAPUA").scalar_subquery()
    pusat = sa.select(U.c.id).where(U.c.code == "PUSAT").scalar_subquery()
    moved = A.c.handle == "kptd.ri"
    with ws.engine.begin() as conn:
        conn.execute(sa.update(A).where(moved).values(unit_id=papua))  # the account moved
    try:
        after = coverage(ws, "hut", now=NOW).campaign("hut").as_dict()
    finally:
        with ws.engine.begin() as conn:
            conn.execute(sa.update(A).where(moved).values(unit_id=pusat))
    assert after == before


def test_all_campaigns_and_unknown_campaign(ws: Workspace) -> None:
    report = coverage(ws, now=NOW)
    assert [c.slug for c in report.campaigns] == ["hut"]
    assert report.campaigns[0].total.targeted == 15
    with pytest.raises(NotFound):
        coverage(ws, "tidak-ada", now=NOW)


# --- recognition ----------------------------------------------------------------------


def test_leaderboard_rates_streaks_and_admins(ws: Workspace) -> None:
    board = leaderboard(ws, "hut", now=NOW)
    assert board.today == dt.date(2027, 10, 30)
    fields = [
        "rank",
        "unit",
        "on_time_pct",
        "posts",
        "posts_on_time",
        "current_streak",
        "best_streak",
    ]
    rows = [tuple(e.as_dict()[f] for f in fields) for e in board.entries]
    assert rows == [
        (1, "PUSAT", 100.0, 3, 3, 3, 3),  # "empat" is still pending for kptd.ri: skipped
        (2, "KANWIL-BALI", 50.0, 2, 1, 1, 1),  # late/unconfirmed, on time, rejected-only
        (3, "KANWIL-PAPUA", 0.0, 2, 0, 0, 0),
        (4, "KL-DENPASAR", 0.0, 3, 0, 0, 0),
    ]
    admins = {
        e.unit: [(a.key, a.name, a.covers, a.letter_in_force) for a in e.admins]
        for e in board.entries
    }
    assert admins == {
        "PUSAT": [("ADM-1", "Admin Pusat", ["unit"], True)],
        "KANWIL-BALI": [
            ("ADM-2", "Admin Bali", ["unit"], False),  # letter ended 2027-06-30
            ("ADM-3", "Admin Konten Bali", ["instagram:@kptd.kanwil.bali"], True),
        ],
        "KL-DENPASAR": [("ADM-2", "Admin Bali", ["unit"], False)],
        "KANWIL-PAPUA": [],  # ADM-4 is inactive and ADM-1's link is inactive
    }
    top = leaderboard(ws, "hut", now=NOW, top=2)
    assert [e.unit for e in top.entries] == ["PUSAT", "KANWIL-BALI"] and top.units == 4
    # letters are checked on the report's date
    early = leaderboard(ws, now=NOW, today=dt.date(2027, 1, 20))
    assert [(a.letter_in_force, a.letter_state) for a in early.entry("KANWIL-BALI").admins] == [
        (True, "in_force"),
        (False, "not_yet_valid"),  # ADM-3's letter was issued on 2027-02-01
    ]
    assert "ST-3/2027 NOT VALID before 2027-02-01" in markdown(early)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_same_numbers_on_postgresql(database_url: str, tmp_path: Path) -> None:
    pg = build(tmp_path / "ws", database_url)
    total = coverage(pg, "hut", now=NOW).campaign("hut").total
    assert (total.on_time, total.late, total.missed, total.not_confirmed) == (8, 2, 3, 2)
    assert (total.not_applicable, total.pending, total.median_delay) == (4, 5, 65 * MIN)
    board = leaderboard(pg, "hut", now=NOW)
    assert [(e.unit, e.current_streak) for e in board.entries][:2] == [
        ("PUSAT", 3),
        ("KANWIL-BALI", 1),
    ]


def test_streaks_skip_pending_and_not_applicable_posts() -> None:
    on, late, na, wait = Outcome.ON_TIME, Outcome.LATE, Outcome.NOT_APPLICABLE, Outcome.PENDING
    per_post = [[on, on], [on, late], [on], [na], [on, wait], [on, na], [on], [late, wait]]
    # judged: 1 ok, 2 broken, 3 ok, (4 n/a), (5 pending), 6 ok, 7 ok, 8 broken
    assert streaks(per_post) == (6, 4, 0, 3)
    assert streaks(per_post[:-1]) == (5, 4, 3, 3)
    assert streaks([]) == (0, 0, 0, 0)


# --- formats and the command line -----------------------------------------------------


def test_markdown_and_json_carry_the_numbers(ws: Workspace) -> None:
    report = coverage(ws, "hut", now=NOW)
    md = markdown(report)
    assert "## HUT Kementerian (`hut`)" in md
    assert "coverage 66.7% (10 of 15 targeted variants amplified)" in md
    assert "median delay 1h 05m" in md
    assert "| PUSAT | Kantor Pusat | 6 | 6 | 0 | 0 | 0 | 1 | 1 | 100.0% | 100.0% | 1h 03m |" in md
    assert "| Asia/Makassar (WITA) | 7 | 2 | 2 | 2 | 1 | 2 | 3 | 57.1% | 28.6% | 1h 12m |" in md
    data = json.loads(to_json(report))
    total = data["campaigns"][0]["total"]
    assert (total["coverage_pct"], total["median_delay_seconds"]) == (66.7, 3900)
    assert data["grace_seconds"] == 900 and data["as_of"] == NOW.isoformat()
    only_units = json.loads(to_json(report, ["units"]))["campaigns"][0]
    assert "units" in only_units and "accounts" not in only_units
    text = render(report, "table")
    assert "KANWIL-PAPUA" in text and "66.7%" in text

    board = leaderboard(ws, "hut", now=NOW)
    md = markdown(board)
    assert "| 2 | KANWIL-BALI | Kantor Wilayah Bali | 50.0% | 2/4 | 1/2 | 1 | 1 |" in md
    assert "Admin Bali, ST-2/2027 EXPIRED 2027-06-30" in md
    assert "Admin Konten Bali (instagram:@kptd.kanwil.bali), ST-3/2027 valid to 2027-12-31" in md
    entries = json.loads(to_json(board))["entries"]
    assert entries[0]["admins"][0]["name"] == "Admin Pusat"
    assert entries[0]["current_streak"] == 3 and entries[0]["on_time_pct"] == 100.0


@pytest.fixture
def cli(ws: Workspace) -> tuple[typer.Typer, list[str]]:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = State(workspace=ws.root, database_url=ws.database_url)

    report_cmds.register(app)
    return app, ["--as-of", "2027-10-30T09:00+07:00"]


def test_cli(cli: tuple[typer.Typer, list[str]], tmp_path: Path) -> None:
    app, as_of = cli
    runner = CliRunner()
    result = runner.invoke(app, ["report", "coverage", "-c", "hut", "-f", "json", *as_of])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["campaigns"][0]["total"]["coverage_pct"] == 66.7

    target = tmp_path / "coverage.md"
    args = ["report", "coverage", "-f", "markdown", "-s", "units", "--out", str(target)]
    result = runner.invoke(app, [*args, *as_of, "--grace", "0"])
    assert result.exit_code == 0, result.output
    md = target.read_text(encoding="utf-8")
    assert "### By unit" in md and "### By account" not in md
    assert "coverage 66.7%" in md and "on time 13.3%" in md  # 2 of 15 on time with no grace

    result = runner.invoke(app, ["report", "coverage", *as_of], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "by region" in result.stdout

    result = runner.invoke(app, ["report", "leaderboard", "--top", "1", "-f", "json", *as_of])
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert [e["unit"] for e in board["entries"]] == ["PUSAT"] and board["units"] == 4

    result = runner.invoke(app, ["report", "leaderboard", *as_of], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Admin Pusat" in result.stdout

    result = runner.invoke(app, ["report", "coverage", "--as-of", "2027-10-30 09:00"])
    assert result.exit_code != 0 and "offset" in str(result.exception)
