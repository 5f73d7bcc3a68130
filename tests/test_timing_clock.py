"""Local wall clock to UTC, with the DST rules; durations and posting hours."""

from __future__ import annotations

import datetime as dt

import pytest

from amplifier.timing import (
    Hours,
    LocalWindow,
    RelativeWindow,
    Request,
    Rules,
    UnitInfo,
    assign,
    local_to_utc,
    parse_duration,
)
from amplifier.timing.clock import format_duration, from_seconds, parse_clock

UTC = dt.UTC


def utc(seconds: int) -> dt.datetime:
    return from_seconds(seconds)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# (zone, day, local minute, expected UTC): spring forward moves on by the gap,
# fall back takes the first occurrence
DST_CASES = [
    # Europe/Amsterdam: 2027-03-28 02:00 CET -> 03:00 CEST; 2027-10-31 03:00 CEST -> 02:00 CET
    ("Europe/Amsterdam", dt.date(2027, 3, 28), 150, "2027-03-28T01:30:00+00:00"),  # 03:30 CEST
    ("Europe/Amsterdam", dt.date(2027, 3, 28), 120, "2027-03-28T01:00:00+00:00"),  # 03:00 CEST
    ("Europe/Amsterdam", dt.date(2027, 3, 28), 180, "2027-03-28T01:00:00+00:00"),
    ("Europe/Amsterdam", dt.date(2027, 10, 31), 150, "2027-10-31T00:30:00+00:00"),  # CEST
    ("Europe/Amsterdam", dt.date(2027, 10, 31), 120, "2027-10-31T00:00:00+00:00"),
    ("Europe/Amsterdam", dt.date(2027, 10, 31), 180, "2027-10-31T02:00:00+00:00"),  # CET
    # Australia/Sydney: 2027-10-03 02:00 AEST -> 03:00 AEDT; 2027-04-04 03:00 AEDT -> 02:00
    ("Australia/Sydney", dt.date(2027, 10, 3), 150, "2027-10-02T16:30:00+00:00"),  # 03:30 AEDT
    ("Australia/Sydney", dt.date(2027, 4, 4), 150, "2027-04-03T15:30:00+00:00"),  # AEDT
    # America/New_York: 2027-03-14 02:00 EST -> 03:00 EDT; 2027-11-07 02:00 EDT -> 01:00 EST
    ("America/New_York", dt.date(2027, 3, 14), 150, "2027-03-14T07:30:00+00:00"),  # 03:30 EDT
    ("America/New_York", dt.date(2027, 11, 7), 90, "2027-11-07T05:30:00+00:00"),  # EDT
    # Indonesia: no DST
    ("Asia/Jakarta", dt.date(2027, 3, 28), 150, "2027-03-27T19:30:00+00:00"),
    ("Asia/Jayapura", dt.date(2027, 1, 1), 0, "2026-12-31T15:00:00+00:00"),
]


@pytest.mark.parametrize(("zone", "day", "minute", "expected"), DST_CASES)
def test_local_times_resolve_by_the_documented_dst_rules(
    zone: str, day: dt.date, minute: int, expected: str
) -> None:
    assert utc(local_to_utc(day, minute, zone)) == at(expected)


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Amsterdam", dt.date(2027, 3, 28), 23),
        ("Europe/Amsterdam", dt.date(2027, 10, 31), 25),
        ("Australia/Sydney", dt.date(2027, 10, 3), 23),
        ("Australia/Sydney", dt.date(2027, 4, 4), 25),
        ("America/New_York", dt.date(2027, 3, 14), 23),
        ("America/New_York", dt.date(2027, 11, 7), 25),
        ("Asia/Makassar", dt.date(2027, 3, 28), 24),
    ],
)
def test_a_local_day_is_23_or_25_hours_on_dst_days(zone: str, day: dt.date, hours: int) -> None:
    length = local_to_utc(day, 1440, zone) - local_to_utc(day, 0, zone)
    assert length == hours * 3600


def unit(zone: str, hours: Hours = Hours(0, 1440)) -> UnitInfo:
    return UnitInfo("KBRI", zone, "overseas", hours=hours)


def one(unit: UnitInfo, central: dt.datetime, window: RelativeWindow | LocalWindow) -> dt.datetime:
    timing = assign([Request("v", "c/p", "x:kbri", "x", unit, central, window=window)])["v"]
    assert timing.publish_at is not None, timing.reasons
    return timing.publish_at


def test_spring_forward_local_window_starts_after_the_gap() -> None:
    # 02:30 does not exist in Amsterdam on 2027-03-28: the window opens at 03:30 CEST
    window = LocalWindow(150, dt.timedelta(minutes=1))
    published = one(unit("Europe/Amsterdam"), at("2027-03-27T12:00:00+00:00"), window)
    assert published == at("2027-03-28T03:30:00+02:00")
    window = LocalWindow(150, dt.timedelta(minutes=1))
    published = one(unit("Australia/Sydney"), at("2027-10-02T00:00:00+00:00"), window)
    assert published == at("2027-10-03T03:30:00+11:00")


def test_fall_back_local_window_takes_the_first_occurrence() -> None:
    window = LocalWindow(150, dt.timedelta(minutes=1))
    published = one(unit("Europe/Amsterdam"), at("2027-10-30T12:00:00+00:00"), window)
    assert published == at("2027-10-31T02:30:00+02:00")  # CEST, not CET
    published = one(unit("Australia/Sydney"), at("2027-04-03T00:00:00+00:00"), window)
    assert published == at("2027-04-04T02:30:00+11:00")  # AEDT, not AEST


def test_posting_hours_follow_the_local_clock_across_a_dst_change() -> None:
    hours = Hours(9 * 60, 9 * 60 + 1)  # one minute a day, 09:00 local
    ams = unit("Europe/Amsterdam", hours)
    window = RelativeWindow(dt.timedelta(0), dt.timedelta(days=1))
    before = one(ams, at("2027-03-27T00:00:00+00:00"), window)
    after = one(ams, at("2027-03-28T00:00:00+00:00"), window)
    assert before == at("2027-03-27T09:00:00+01:00")
    assert after == at("2027-03-28T09:00:00+02:00")
    assert after - before == dt.timedelta(hours=23)


def test_daily_cap_counts_local_days_on_a_fall_back_day() -> None:
    ny = unit("America/New_York")
    window = RelativeWindow(dt.timedelta(0), dt.timedelta(hours=50))
    central = at("2027-11-07T00:00:00-04:00")  # midnight EDT, a 25-hour day follows
    reqs = [
        Request(f"v{i}", f"c/p{i}", "x:kbri", "x", ny, central, window=window) for i in range(3)
    ]
    timings = assign(reqs, rules=Rules(dt.timedelta(0), 1))
    days = sorted(
        t.publish_at.astimezone(dt.timezone(dt.timedelta(hours=-5))).date()
        for t in timings.values()
        if t.publish_at is not None
    )
    assert len(days) == len(set(days))


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("4h", 240), ("1d", 1440), ("1h30m", 90), ("2d3h", 51 * 60), ("0m", 0)],
)
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == dt.timedelta(minutes=minutes)
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("bad", ["", "30", "30x", "1m30h", "-5m", "1.5h", "4 h"])
def test_bad_durations_say_what_is_expected(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_non_text_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="30m"):
        parse_duration(30)  # type: ignore[arg-type]


def test_hours_and_clock() -> None:
    assert Hours.parse("07:00-21:00") == Hours(420, 1260)
    assert str(Hours.parse("00:00-24:00")) == "00:00-24:00"
    assert parse_clock("9:05") == 545
    for bad in ("21:00-07:00", "07:00", "7-21", "07:00-25:00", "07:60-08:00"):
        with pytest.raises(ValueError):
            Hours.parse(bad)
    with pytest.raises(ValueError):
        parse_clock("24:00")


def test_windows_refuse_bad_shapes() -> None:
    with pytest.raises(ValueError, match="before its central post"):
        RelativeWindow(dt.timedelta(minutes=-5), dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="not after"):
        RelativeWindow(dt.timedelta(hours=2), dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="spread"):
        LocalWindow(540, dt.timedelta(0))
