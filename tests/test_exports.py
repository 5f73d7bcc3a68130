"""ICS and CSV exports: valid calendars with time zones, stable UIDs, rising SEQUENCE."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from amplifier.exports import COLUMNS, export_csv, export_ics
from amplifier.exports.ics import fold, text_value
from amplifier.models import Variant
from amplifier.status import cancel_variant
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import (
    ABROAD_ORG,
    HUT_CALENDAR,
    Planned,
    WorkspaceFactory,
    invoke_exports,
    open_planned,
    plan_workspace,
)

V = Variant.__table__  # type: ignore[attr-defined]

ORG = ABROAD_ORG
CALENDAR = HUT_CALENDAR


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Planned:
    """A workspace synced and planned once; each test's ``ws`` gets a copy of its database."""
    root, db = plan_workspace(tmp_path_factory.mktemp("exports"), ORG, {"hut.yaml": CALENDAR})
    ws = Workspace.open(root, database_url=f"sqlite:///{db}")
    assert {v.status for v in ws.variants()} == {VariantStatus.SCHEDULED}
    ws.engine.dispose()
    return root, db


def parse(path: Path) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(path.read_bytes())


def events(path: Path) -> dict[int, icalendar.Event]:
    return {int(e["X-AMPLIFIER-VARIANT"]): e for e in parse(path).walk("VEVENT")}


def update(ws: Workspace, variant_id: int, **values: Any) -> None:
    values.setdefault("updated_at", dt.datetime.now(dt.UTC))
    with ws.engine.begin() as conn:
        conn.execute(sa.update(V).where(V.c.id == variant_id).values(**values))


def test_unit_calendars_are_valid_with_time_zones(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "ics"
    report = export_ics(ws, out)
    assert report.events == 6 and report.new == 6 and report.changed == 0
    assert sorted(f for f, _ in report.calendars["unit"]) == [
        "units/KANWIL-BALI.ics",
        "units/PUSAT.ics",
        "units/PWK-DEN-HAAG.ics",
    ]
    variants = {v.id: v for v in ws.variants()}
    bali = parse(out / "units" / "KANWIL-BALI.ics")
    assert bali["VERSION"] == "2.0" and "amplifier" in bali["PRODID"]
    assert [tz["TZID"] for tz in bali.walk("VTIMEZONE")] == ["Asia/Makassar"]
    assert bali.get_missing_tzids() == set()
    found = events(out / "units" / "KANWIL-BALI.ics")
    assert len(found) == 2
    for vid, event in found.items():
        v = variants[vid]
        start = event.decoded("DTSTART")
        assert start.tzinfo is not None and str(start.tzinfo) == "Asia/Makassar"
        assert start == v.publish_at
        assert event["DTSTART"].params["TZID"] == "Asia/Makassar"
        assert event.decoded("DURATION") == dt.timedelta(minutes=15)
        assert str(event["UID"]) == f"{v.idempotency_key}@amplifier"
        assert str(event["DESCRIPTION"]) == v.text
        assert str(event["SUMMARY"]).startswith("Instagram @kptd.kanwil.bali: ")
        assert str(event["STATUS"]) == "CONFIRMED" and int(event["SEQUENCE"]) == 0
        assert "URL" not in event
    titles = sorted(str(e["SUMMARY"]) for e in found.values())
    assert titles == [
        "Instagram @kptd.kanwil.bali: Pos Pertama, Hari Ini",
        "Instagram @kptd.kanwil.bali: dua",
    ]
    # an overseas zone with daylight saving time gets both kinds of observance
    haag = parse(out / "units" / "PWK-DEN-HAAG.ics")
    (tz,) = haag.walk("VTIMEZONE")
    assert tz["TZID"] == "Europe/Amsterdam"
    assert {c.name for c in tz.subcomponents} == {"STANDARD", "DAYLIGHT"}
    for vid, event in events(out / "units" / "PWK-DEN-HAAG.ics").items():
        assert event.decoded("DTSTART") == variants[vid].publish_at


def test_campaign_and_account_calendars_share_uids(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "ics"
    export_ics(ws, out, by=["unit", "account", "campaign"])
    campaign = parse(out / "campaigns" / "hut.ics")
    assert sorted(str(tz["TZID"]) for tz in campaign.walk("VTIMEZONE")) == [
        "Asia/Jakarta",
        "Asia/Makassar",
        "Europe/Amsterdam",
    ]
    by_campaign = {str(e["UID"]) for e in campaign.walk("VEVENT")}
    by_account = {
        str(e["UID"])
        for path in (out / "accounts").glob("*.ics")
        for e in parse(path).walk("VEVENT")
    }
    assert len(by_campaign) == 6 and by_campaign == by_account
    assert (out / "accounts" / "instagram-kptd.kanwil.bali.ics").exists()


def test_uids_stable_and_sequence_rises_when_the_time_changes(
    ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "ics"
    export_ics(ws, out, by=["unit", "campaign"])
    path = out / "units" / "KANWIL-BALI.ics"
    first = path.read_bytes()
    again = export_ics(ws, out, by=["unit", "campaign"])
    assert path.read_bytes() == first  # nothing changed: the very same file
    assert again.changed == 0 and again.new == 0

    before = events(path)
    moved = min(before)
    old_start = before[moved].decoded("DTSTART")
    update(ws, moved, publish_at=old_start + dt.timedelta(minutes=20))
    report = export_ics(ws, out, by=["unit", "campaign"])
    assert report.changed == 1
    after = events(path)
    assert {str(e["UID"]) for e in after.values()} == {str(e["UID"]) for e in before.values()}
    assert int(after[moved]["SEQUENCE"]) == 1
    assert after[moved].decoded("DTSTART") == old_start + dt.timedelta(minutes=20)
    assert all(int(e["SEQUENCE"]) == 0 for vid, e in after.items() if vid != moved)
    # the campaign's calendar agrees, and an unchanged export keeps the sequence
    in_campaign = events(out / "campaigns" / "hut.ics")
    assert int(in_campaign[moved]["SEQUENCE"]) == 1
    export_ics(ws, out)
    assert int(events(path)[moved]["SEQUENCE"]) == 1
    # moving back is a change too: sequences only go up
    update(ws, moved, publish_at=old_start)
    export_ics(ws, out)
    assert int(events(path)[moved]["SEQUENCE"]) == 2


def test_a_damaged_state_file_restarts_sequences(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "ics"
    export_ics(ws, out)
    damaged = ("[]", '{"version": 1, "events": []}', '{"version": 1, "events": {"k": 3}}', "{")
    for damage in damaged:
        (out / ".amplifier-ics.json").write_text(damage)
        report = export_ics(ws, out)
        assert report.events == 6
    assert json.loads((out / ".amplifier-ics.json").read_text())["version"] == 1


def test_cancelled_variants_stay_as_cancelled_events(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "ics"
    export_ics(ws, out)
    victim = ws.variants(unit_id=2)[0]
    cancel_variant(ws, victim.id or 0)
    export_ics(ws, out)
    event = events(out / "units" / "KANWIL-BALI.ics")[victim.id or 0]
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert str(event["X-AMPLIFIER-STATUS"]) == "cancelled"


def test_published_events_carry_the_url_and_emptied_calendars_are_rewritten(
    ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "ics"
    one, _ = ws.variants(unit_id=2)
    update(
        ws,
        one.id or 0,
        status=VariantStatus.PUBLISHED,
        external_url="https://www.instagram.com/p/Cabc123/",
    )
    export_ics(ws, out)
    assert str(events(out / "units" / "KANWIL-BALI.ics")[one.id or 0]["URL"]) == (
        "https://www.instagram.com/p/Cabc123/"
    )
    # a variant that loses its time leaves the calendar, and an empty calendar is still written
    for v in ws.variants(unit_id=1):
        update(ws, v.id or 0, status=VariantStatus.PENDING, publish_at=None)
    report = export_ics(ws, out)
    assert dict(report.calendars["unit"])["units/PUSAT.ics"] == 0
    assert events(out / "units" / "PUSAT.ics") == {}


def test_awkward_text_survives_escaping_and_folding(ws: Workspace, tmp_path: Path) -> None:
    text = (
        "Salam; koma, garis\\miring dan baris baru\r\nkedua\n"
        + "🇮🇩 Dirgahayu! " * 12
        + "\x00\x07akhir"
    )
    vid = ws.variants()[0].id or 0
    update(ws, vid, text=text)
    out = tmp_path / "ics"
    export_ics(ws, out, by=["campaign"])
    raw = (out / "campaigns" / "hut.ics").read_bytes()
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    raw.decode("utf-8")  # no character was cut in two
    expected = text.replace("\r\n", "\n").replace("\x00\x07", "")
    assert str(events(out / "campaigns" / "hut.ics")[vid]["DESCRIPTION"]) == expected


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=300)
    | st.text(alphabet="ab\\,;\n ", max_size=400)  # ASCII: folded as a string
    | st.text(alphabet="ab\\,;é", max_size=400)
)
def test_text_values_round_trip_through_icalendar(value: str) -> None:
    data = b"".join(
        [
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n",
            b"UID:x\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270101T000000Z\r\n",
            fold("DESCRIPTION:" + text_value(value)),
            b"END:VEVENT\r\nEND:VCALENDAR\r\n",
        ]
    )
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    (event,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    keep = "".join(c for c in value if c in "\t\n\r" or not (ord(c) < 32 or ord(c) == 127))
    expected = keep.replace("\r\n", "\n").replace("\r", "\n")
    assert str(event["DESCRIPTION"]) == expected


# --- CSV --------------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True])
def test_csv_one_row_per_variant(ws: Workspace, tmp_path: Path, bom: bool) -> None:
    path = tmp_path / "variants.csv"
    report = export_csv(ws, path, bom=bom)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") is bom
    with open(path, encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert report.rows == len(rows) == len(ws.variants()) == 6
    assert tuple(rows[0]) == COLUMNS
    variants = {v.id: v for v in ws.variants()}
    for row in rows:
        v = variants[int(row["variant"])]
        assert row["text"] == v.text and row["status"] == "scheduled"
        assert row["publish_at_utc"].endswith("Z")
        local = dt.datetime.fromisoformat(row["publish_at_local"])
        assert local == v.publish_at
        assert local.utcoffset() == v.publish_at.astimezone(ZoneInfo(row["timezone"])).utcoffset()
    bali = next(r for r in rows if r["unit_code"] == "KANWIL-BALI")
    assert bali["publish_at_local"].endswith("+08:00") and bali["region"] == "Bali"
    assert bali["findings"] == "0" and bali["external_url"] == "" and bali["confirmed_at_utc"] == ""


def test_csv_guards_formulas_unless_raw(ws: Workspace, tmp_path: Path) -> None:
    vid = ws.variants()[0].id or 0
    update(ws, vid, text='=HYPERLINK("http://contoh.invalid","klik")')
    stream = io.StringIO(newline="")
    export_csv(ws, stream)
    rows = {int(r["variant"]): r for r in csv.DictReader(io.StringIO(stream.getvalue()))}
    assert rows[vid]["text"].startswith("'=HYPERLINK")
    stream = io.StringIO(newline="")
    export_csv(ws, stream, formula_guard=False)
    rows = {int(r["variant"]): r for r in csv.DictReader(io.StringIO(stream.getvalue()))}
    assert rows[vid]["text"].startswith("=HYPERLINK")


# --- the commands -------------------------------------------------------------------------


def test_export_commands(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "ics"
    code, stdout, _ = invoke_exports(
        ws, "export", "ics", "--by", "unit", "--by", "campaign", "--out", str(out), "-f", "json"
    )
    assert code == 0
    data = json.loads(stdout)
    assert data["events"] == 6 and set(data["calendars"]) == {"unit", "campaign"}
    assert (out / "campaigns" / "hut.ics").exists()
    code, stdout, _ = invoke_exports(ws, "export", "ics")  # default folder in the workspace
    assert code == 0 and "calendars written" in stdout
    assert (ws.root / ".amplifier" / "exports" / "ics" / "units" / "PUSAT.ics").exists()
    assert invoke_exports(ws, "export", "ics", "--by", "region")[0] == 2

    path = tmp_path / "v.csv"
    code, stdout, _ = invoke_exports(ws, "export", "csv", "--bom", "--out", str(path))
    assert code == 0 and "6 variants" in stdout and path.read_bytes().startswith(b"\xef\xbb\xbf")
    code, stdout, _ = invoke_exports(ws, "export", "csv")
    assert code == 0
    assert len(list(csv.DictReader(io.StringIO(stdout)))) == 6


def test_exports_and_confirm_on_each_database(
    make_workspace: WorkspaceFactory, database_url: str, tmp_path: Path
) -> None:
    """Times, enums and JSON are read raw for speed: SQLite gives text, PostgreSQL objects."""
    from amplifier.confirm import confirm_variant

    ws = open_planned(make_workspace(org=ORG, calendars={"hut.yaml": CALENDAR}), database_url)
    variants = {v.id: v for v in ws.variants()}
    x = next(v for v in variants.values() if v.unit_id == 1)
    confirm_variant(ws, x.id or 0, "https://x.com/kptd_ri/status/1790000000000000001")
    report = export_ics(ws, tmp_path / "ics", by=["unit", "campaign"])
    assert report.events == 6
    found = events(tmp_path / "ics" / "campaigns" / "hut.ics")
    for vid, event in found.items():
        assert event.decoded("DTSTART") == variants[vid].publish_at
    assert str(found[x.id or 0]["URL"]).startswith("https://x.com/kptd_ri/status/")
    stream = io.StringIO(newline="")
    export_csv(ws, stream)
    rows = {int(r["variant"]): r for r in csv.DictReader(io.StringIO(stream.getvalue()))}
    assert len(rows) == 6 and rows[x.id or 0]["status"] == "published"
    assert rows[x.id or 0]["confirmed_at_utc"].endswith("Z") and rows[x.id or 0]["findings"] == "0"
    for vid, row in rows.items():
        assert dt.datetime.fromisoformat(row["publish_at_local"]) == variants[vid].publish_at
    ws.engine.dispose()
