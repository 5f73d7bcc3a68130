"""The timing stage in plan, embargoes (hold, lift, missed), and `why`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

import amplifier.plan
from amplifier import timetable
from amplifier.cli.app import run
from amplifier.review import review_variants
from amplifier.vocab import ReviewState, VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory
from tests.test_sync import dump

CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT
    period: {start: 2027-10-01, end: 2027-10-31}
    review: REVIEW
    timing: {window: {relative: {start: 30m, end: 2h}}}
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: Pos pertama.
"""
CENTRAL = dt.datetime(2027, 10, 29, 2, 0, tzinfo=dt.UTC)


def make(
    make_workspace: WorkspaceFactory,
    tmp_path: Path,
    review: str = "auto",
    calendar: str | None = None,
) -> Workspace:
    """A synced and planned workspace with ``calendar`` (default: CALENDAR with ``review``)."""
    text = CALENDAR.replace("REVIEW", review) if calendar is None else calendar
    root = make_workspace(calendars={"hut.yaml": text})
    ws = Workspace.open(root, database_url=f"sqlite:///{tmp_path / 't.db'}")
    ws.sync()
    ws.plan()
    return ws


def test_only_approved_variants_are_scheduled_inside_their_window(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = make(make_workspace, tmp_path, "manual")
    assert {(v.status, v.publish_at) for v in ws.variants()} == {(VariantStatus.PENDING, None)}
    review_variants(ws, "approve", by="humas", campaign="hut")
    ws.plan()
    for v in ws.variants():
        assert v.status == VariantStatus.SCHEDULED and v.publish_at == v.due_at
        assert CENTRAL + dt.timedelta(minutes=30) <= v.publish_at <= CENTRAL + dt.timedelta(hours=2)
    review_variants(ws, "reject", by="humas", unit="PUSAT")
    ws.plan()
    statuses = sorted((v.status, v.publish_at is None) for v in ws.variants())
    assert statuses == [(VariantStatus.PENDING, True), (VariantStatus.SCHEDULED, False)]


def test_embargo_holds_then_lift_retimes(make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    ws = make(make_workspace, tmp_path)
    embargo, held = timetable.add_embargo(
        ws,
        CENTRAL - dt.timedelta(hours=1),
        CENTRAL + dt.timedelta(hours=12),
        reason="berkabung",
        scope={"regions": ["Bali"]},
        now=CENTRAL - dt.timedelta(days=1),
    )
    assert held == 1
    (bali,) = [v for v in ws.variants() if v.status == VariantStatus.HELD]
    assert bali.held_by == embargo.key and "berkabung" in bali.reasons[0]
    ws.plan()  # a plan leaves held variants alone
    assert [v.status for v in ws.variants() if v.id == bali.id] == [VariantStatus.HELD]
    counts = timetable.lift_embargo(ws, embargo.key, now=CENTRAL - dt.timedelta(hours=6))
    assert (counts["released"], counts["rescheduled"], counts["missed"]) == (1, 1, 0)
    again = next(v for v in ws.variants() if v.id == bali.id)
    assert again.status == VariantStatus.SCHEDULED and again.held_by is None
    assert [e.active for e in timetable.list_embargoes(ws)] == [False]  # kept, not deleted


def test_embargo_lifted_after_the_window_marks_missed(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = make(make_workspace, tmp_path)
    embargo, held = timetable.add_embargo(
        ws,
        CENTRAL - dt.timedelta(hours=1),
        CENTRAL + dt.timedelta(days=1),
        reason="bencana",
        now=CENTRAL - dt.timedelta(days=1),
    )
    assert held == 2
    counts = timetable.lift_embargo(ws, embargo.key, now=CENTRAL + dt.timedelta(days=1))
    assert counts["missed"] == 2
    for v in ws.variants():
        assert v.status == VariantStatus.MISSED
        assert "lifted too late" in v.reasons[0]


def test_why_explains_the_time(make_workspace: WorkspaceFactory, tmp_path: Path) -> None:
    ws = make(make_workspace, tmp_path)
    variant = ws.variants()[0]
    lines = timetable.why(ws, variant.id or 0, now=CENTRAL - dt.timedelta(days=1))
    text = "\n".join(lines)
    assert "window:" in text and "hours:" in text and "placed:" in text


def test_embargo_cli(
    make_workspace: WorkspaceFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = make(make_workspace, tmp_path)
    base = ["-w", str(ws.root), "--database-url", ws.database_url]
    args = ["embargo", "add", "--from", "2027-10-29T08:00+07:00", "--to", "2027-10-30T00:00+07:00"]
    assert run([*base, *args, "--reason", "duka", "--unit", "PUSAT", "-f", "json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["held"] == 1
    assert (
        run([*base, "embargo", "add", "--from", "2027-10-29 08:00", "--to", "x", "--reason", "r"])
        == 2
    )
    capsys.readouterr()
    assert run([*base, "embargo", "list", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["active"] is True
    assert run([*base, "embargo", "lift", added["key"], "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["released"] == 1
    assert run([*base, "why", str(ws.variants()[0].id)]) == 0


# --- electoral terms in an election quiet period (masa tenang) --------------------------

QUIET_CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT
    period: {start: 2027-10-01, end: 2027-10-31}
    timing: {window: {relative: {start: 30m, end: 2h}}}
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: Ayo sukseskan kampanye pilkada damai di kota kita.
      - key: dua
        at: 2027-10-29T09:00:00+07:00
        body: Layanan kantor tetap buka seperti biasa.
  - slug: lain
    title: Kampanye lain
    period: {start: 2027-10-01, end: 2027-10-31}
    posts:
      - key: satu
        at: 2027-10-20T09:00:00+07:00
        body: Pos lain.
quiet_periods:
  - key: masa-tenang-pilkada
    name: Masa tenang Pilkada
    starts: 2027-10-28T00:00:00+07:00
    ends: 2027-10-31T00:00:00+07:00
    campaigns: [BLOCKS]
"""


def quiet_workspace(
    make_workspace: WorkspaceFactory, tmp_path: Path, blocks: str = "lain", quiet: bool = True
) -> Workspace:
    calendar = QUIET_CALENDAR.replace("BLOCKS", blocks)
    if not quiet:
        calendar = calendar[: calendar.index("quiet_periods:")]
    return make(make_workspace, tmp_path, calendar=calendar)


def test_electoral_terms_outside_a_masa_tenang_are_a_notice_only(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = quiet_workspace(make_workspace, tmp_path, quiet=False)
    flagged = [v for v in ws.variants() if "pilkada" in v.text]
    assert len(flagged) == 2  # PUSAT and KANWIL-BALI
    for v in flagged:
        assert v.review == ReviewState.APPROVED and v.status == VariantStatus.SCHEDULED
        electoral = [f for f in v.findings if f["category"] == "electoral"]
        assert [f["severity"] for f in electoral] == ["info"]
        start, end = electoral[0]["span"]
        assert v.text[start:end] == "kampanye pilkada"


def test_a_masa_tenang_sends_electoral_variants_of_other_campaigns_to_review(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = quiet_workspace(make_workspace, tmp_path)  # the quiet period blocks only 'lain'
    electoral = [v for v in ws.variants() if "pilkada" in v.text]
    plain = [v for v in ws.variants() if "Layanan kantor" in v.text]
    assert len(electoral) == 2 and len(plain) == 2
    for v in electoral:
        assert v.review == ReviewState.NEEDS_REVIEW
        assert (v.status, v.publish_at) == (VariantStatus.PENDING, None)
        (reason,) = v.reasons
        assert "Masa tenang Pilkada" in reason and "'kampanye pilkada'" in reason
    for v in plain:  # no electoral terms: it goes out inside the masa tenang as planned
        assert v.status == VariantStatus.SCHEDULED and v.review == ReviewState.APPROVED
    lines = timetable.why(ws, electoral[0].id)
    assert any("Masa tenang Pilkada" in line for line in lines)

    before = dump(ws)
    ws.plan()  # unchanged input: nothing is written
    assert dump(ws) == before

    review_variants(ws, "approve", by="humas.pusat", ids=[electoral[0].id], note="netral")
    ws.plan()
    approved = next(v for v in ws.variants() if v.id == electoral[0].id)
    assert approved.status == VariantStatus.SCHEDULED  # a person decided: it may go out
    assert approved.publish_at is not None and approved.reasons == []
    before = dump(ws)
    ws.plan()
    assert dump(ws) == before


def test_a_masa_tenang_that_blocks_the_campaign_moves_it_instead(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = quiet_workspace(make_workspace, tmp_path, blocks="hut")
    hut = [v for v in ws.variants() if "pilkada" in v.text or "Layanan" in v.text]
    assert len(hut) == 4
    for v in hut:  # the whole window (+30 m to +2 h) lies in the masa tenang: no time at all
        assert v.review == ReviewState.APPROVED
        assert (v.status, v.publish_at) == (VariantStatus.UNSCHEDULED, None)
        assert any("Masa tenang Pilkada" in r for r in v.reasons)


def count_timings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets an item each time a plan runs the timing stage."""
    calls: list[int] = []
    real = amplifier.plan.time_variants

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(amplifier.plan, "time_variants", counting)
    return calls


def test_replan_of_unchanged_input_does_not_retime_until_the_timing_input_changes(
    make_workspace: WorkspaceFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make(make_workspace, tmp_path)
    calls = count_timings(monkeypatch)
    before = {v.id: v.publish_at for v in ws.variants()}
    assert ws.plan().counts["timed"] == 0 and not calls  # the digest matched
    # the posting hours change in amplifier.toml: nothing to re-render, but re-time
    (ws.root / "amplifier.toml").write_text('[timing]\nposting_hours = "10:00-12:00"\n')
    ws = Workspace.open(ws.root, database_url=ws.database_url)
    summary = ws.plan()
    assert calls and summary.counts["unchanged"] == len(before)
    after = {v.id: v.publish_at for v in ws.variants()}
    assert after != before
    for v in ws.variants():
        local = v.publish_at.astimezone(
            ZoneInfo("Asia/Jakarta" if v.unit_id == 1 else "Asia/Makassar")
        )
        assert dt.time(10) <= local.time() < dt.time(12)
    calls.clear()
    ws.plan()
    assert not calls
    # anything that changes a variant's timing columns (here: a rejection) re-times
    review_variants(ws, "reject", by="humas", unit="PUSAT")
    ws.plan()
    assert calls


def test_no_timing_digest_once_now_is_past_a_central_time(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    ws = make(make_workspace, tmp_path)
    with ws.engine.connect() as conn:
        # what the plan stored (from its rows in memory) is what a read gives
        ids = [1]
        stored = timetable.stored_timing(conn, timetable.timing_scope(ids))
        assert stored == timetable.timing_input(ws, conn, ids, dt.datetime.now(dt.UTC))
        assert timetable.timing_input(ws, conn, None, CENTRAL - dt.timedelta(hours=1))
        assert timetable.timing_input(ws, conn, None, CENTRAL + dt.timedelta(minutes=1)) is None


def test_timing_states_read_raw_are_those_of_the_stored_rows(
    make_workspace: WorkspaceFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The states a plan reads without type processing (``state_columns``) are the ones
    the processed rows give, and the ones the timing stage made of its rows in memory:
    so the re-plan of unchanged input finds the timing current, on either database."""
    root = make_workspace(calendars={"hut.yaml": CALENDAR.replace("REVIEW", "auto")})
    ws = Workspace.open(root, database_url=database_url)
    ws.sync()
    ws.plan()
    with ws.engine.connect() as conn:
        raw = [
            timetable.stored_state(r) for r in conn.execute(sa.select(*timetable.state_columns()))
        ]
        processed = [
            timetable.variant_timing(r)
            for r in conn.execute(sa.select(*timetable.timing_columns()))
        ]
        assert sorted(raw) == sorted(processed)
        assert raw and all(s[6] is not None and s[5] == "scheduled" for s in raw)
        ids = [1]
        stored = timetable.stored_timing(conn, timetable.timing_scope(ids))
        assert stored == timetable.timing_input(ws, conn, ids, dt.datetime.now(dt.UTC))
    calls = count_timings(monkeypatch)
    assert ws.plan().counts["timed"] == 0 and not calls


TWO_POSTS = (
    CALENDAR.replace("REVIEW", "auto")
    + """\
      - key: dua
        at: 2027-10-30T09:00:00+07:00
        body: Pos kedua.
"""
)


def test_the_timing_digest_changes_with_each_input_it_reads(
    make_workspace: WorkspaceFactory, database_url: str
) -> None:
    """Every kind of input timing reads changes the digest, of all posts and of one post
    (whose variants' states the plan hands over, and whose others are read)."""
    from amplifier.models import ACCOUNTS, BLACKOUTS, POSTS, UNITS, VARIANTS

    root = make_workspace(calendars={"hut.yaml": TWO_POSTS})
    ws = Workspace.open(root, database_url=database_url)
    ws.sync()
    ws.plan()
    before = CENTRAL - dt.timedelta(days=1)
    with ws.engine.connect() as conn:
        other = conn.execute(  # a variant of the second post: outside the scope [1]
            sa.select(VARIANTS.c.id, VARIANTS.c.publish_at).where(VARIANTS.c.post_id == 2)
        ).first()
        assert other is not None and other.publish_at is not None
    changes: dict[str, Any] = {
        "a unit's timezone": sa.update(UNITS)
        .where(UNITS.c.id == 1)
        .values(timezone="Asia/Jayapura"),
        "an account added": sa.insert(ACCOUNTS).values(
            unit_id=1, platform="threads", handle="baru", handle_key="baru", active=True
        ),
        "a blackout added": sa.insert(BLACKOUTS).values(
            key="libur",
            name="Libur",
            kind="custom",
            starts_at=CENTRAL + dt.timedelta(days=3),
            ends_at=CENTRAL + dt.timedelta(days=4),
            scope={},
            campaigns=[],
            active=True,
        ),
        "a post's central time": sa.update(POSTS)
        .where(POSTS.c.id == 1)
        .values(central_at=CENTRAL + dt.timedelta(hours=1)),
        "a variant's status, by someone else": sa.update(VARIANTS)
        .where(VARIANTS.c.id == other.id)
        .values(status=VariantStatus.UNSCHEDULED),
        "a variant's time, by a second": sa.update(VARIANTS)
        .where(VARIANTS.c.id == other.id)
        .values(publish_at=other.publish_at + dt.timedelta(seconds=1)),
    }

    def digests(conn: sa.Connection) -> tuple[str | None, str | None]:
        _, states = amplifier.plan._existing(conn, [1])
        handed = timetable.timing_input(ws, conn, [1], before, scope_states=states)
        assert handed == timetable.timing_input(ws, conn, [1], before)
        return timetable.timing_input(ws, conn, None, before), handed

    with ws.engine.begin() as conn:
        seen = [digests(conn)]
        for what, statement in changes.items():
            conn.execute(statement)
            every, one = digests(conn)
            assert every is not None and one is not None, what
            assert every not in {d[0] for d in seen} and one not in {d[1] for d in seen}, what
            seen.append((every, one))


def test_timing_state_sums_equal_values_alike_in_any_order_and_split() -> None:
    from amplifier.timetable import StateSum

    shared = "approved"
    built = "".join(["appr", "oved"])  # equal, but another object, not interned
    assert StateSum.of([(shared, shared)]) == StateSum.of([(built, "".join(["appr", "oved"]))])
    states = [(f"k{i}", i, "scheduled", None, ()) for i in range(50)]
    whole = StateSum.of(states)
    assert StateSum.of(states[::-1]) == whole
    assert StateSum.of(states[:20]) + StateSum.of(states[20:]) == whole
    assert StateSum.of(states[:-1]) != whole  # one state fewer
    changed = [*states[:-1], ("k49", 49, "published", None, ())]
    assert StateSum.of(changed) != whole
    # a str subclass cannot be marshalled: it is written with repr
    assert StateSum.of([(VariantStatus.SCHEDULED,)]).count == 1
