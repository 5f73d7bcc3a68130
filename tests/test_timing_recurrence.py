"""Recurring central posts: RRULE and cron expand into dated occurrences."""

from __future__ import annotations

import datetime as dt

import pytest

from amplifier.timing import expand
from amplifier.timing.recurrence import cron_day_of_week, kind_of

UTC = dt.UTC
WIB = dt.timezone(dt.timedelta(hours=7))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


FIRST = at("2027-03-01T09:00:00+07:00")  # a Monday
HORIZON = at("2027-04-01T00:00:00+07:00")
MONDAYS = [at(f"2027-03-{d:02d}T09:00:00+07:00") for d in (1, 8, 15, 22, 29)]


def test_weekly_rrule() -> None:
    got = expand("FREQ=WEEKLY;BYDAY=MO", FIRST, HORIZON, "Asia/Jakarta")
    assert got == MONDAYS
    assert all(t.tzinfo is not None and t.utcoffset() == dt.timedelta(0) for t in got)
    assert expand("RRULE:FREQ=WEEKLY", FIRST, HORIZON, "Asia/Jakarta") == MONDAYS


def test_weekly_cron_uses_standard_day_numbers() -> None:
    # APScheduler 3 reads a bare "1" as Tuesday; standard cron means Monday
    got = expand("0 9 * * 1", FIRST, HORIZON, "Asia/Jakarta")
    assert got == MONDAYS
    assert expand("0 9 * * mon", FIRST, HORIZON, "Asia/Jakarta") == MONDAYS
    sundays = expand("0 9 * * 0", FIRST, HORIZON, "Asia/Jakarta")
    assert sundays == expand("0 9 * * 7", FIRST, HORIZON, "Asia/Jakarta")
    assert [t.astimezone(WIB).weekday() for t in sundays] == [6] * 4


def test_monthly_rrule_and_cron() -> None:
    horizon = at("2027-07-01T00:00:00+07:00")
    rrule = expand("FREQ=MONTHLY;BYMONTHDAY=1", FIRST, horizon, "Asia/Jakarta")
    cron = expand("0 9 1 * *", FIRST, horizon, "Asia/Jakarta")
    assert rrule == cron == [at(f"2027-{m:02d}-01T09:00:00+07:00") for m in (3, 4, 5, 6)]


def test_horizon_is_exclusive_and_first_inclusive() -> None:
    horizon = at("2027-03-15T09:00:00+07:00")
    assert expand("0 9 * * 1", FIRST, horizon, "Asia/Jakarta") == MONDAYS[:2]


def test_until_in_utc_or_local_and_count() -> None:
    until_utc = expand("FREQ=WEEKLY;UNTIL=20270315T020000Z", FIRST, HORIZON, "Asia/Jakarta")
    until_local = expand("FREQ=WEEKLY;UNTIL=20270315T090000", FIRST, HORIZON, "Asia/Jakarta")
    assert until_utc == until_local == MONDAYS[:3]
    assert expand("FREQ=DAILY;COUNT=2", FIRST, HORIZON, "Asia/Jakarta") == [
        FIRST,
        FIRST + dt.timedelta(days=1),
    ]


def test_recurrence_across_dst_keeps_the_local_time() -> None:
    first = at("2027-03-22T10:00:00+01:00")
    got = expand("FREQ=WEEKLY", first, at("2027-04-06T00:00:00+00:00"), "Europe/Amsterdam")
    assert got == [
        at("2027-03-22T10:00:00+01:00"),
        at("2027-03-29T10:00:00+02:00"),
        at("2027-04-05T10:00:00+02:00"),
    ]


def test_daily_0230_on_dst_days() -> None:
    spring = expand(
        "30 2 * * *",
        at("2027-03-27T00:00:00+00:00"),
        at("2027-03-30T00:00:00+00:00"),
        "Europe/Amsterdam",
    )
    assert at("2027-03-28T03:30:00+02:00") in spring  # nonexistent 02:30 moves forward
    assert len(spring) == 3
    fall = expand(
        "30 2 * * *",
        at("2027-10-30T00:00:00+00:00"),
        at("2027-11-02T00:00:00+00:00"),
        "Europe/Amsterdam",
    )
    assert at("2027-10-31T02:30:00+02:00") in fall  # first occurrence only
    assert at("2027-10-31T02:30:00+01:00") not in fall
    assert len(fall) == 3
    rrule_fall = expand(
        "FREQ=DAILY",
        at("2027-10-30T02:30:00+02:00"),
        at("2027-11-02T00:00:00+00:00"),
        "Europe/Amsterdam",
    )
    assert rrule_fall == fall


def test_sydney_spring_forward_cron() -> None:
    got = expand(
        "30 2 * * 0",
        at("2027-10-01T00:00:00+00:00"),
        at("2027-10-04T00:00:00+00:00"),
        "Australia/Sydney",
    )
    assert got == [at("2027-10-03T03:30:00+11:00")]


def test_cron_day_of_week_translation() -> None:
    assert cron_day_of_week("1-5") == "mon,tue,wed,thu,fri"
    assert cron_day_of_week("5-7") == "sun,fri,sat"
    assert cron_day_of_week("*/2") == "sun,tue,thu,sat"
    assert cron_day_of_week("1,3") == "mon,wed"
    assert cron_day_of_week("*") == "*"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("hello", "neither an RRULE"),
        ("0 9 * *", "neither an RRULE"),
        ("FREQ=WEEKLY;BYDAY=XX", "not a valid RRULE"),
        ("FREQ=SOMETIMES", "not a valid RRULE"),
        ("DTSTART:20270101T000000\nRRULE:FREQ=WEEKLY", "DTSTART"),
        ("61 9 * * *", "not a valid cron"),
        ("0 9 * * 8", "day of week"),
        ("0 9 * * fri-mon", "runs forward"),
        ("0 9 1 * 1", "not both"),
        ("* * * * *", "more than"),
    ],
)
def test_bad_rules_raise_value_error(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expand(rule, FIRST, HORIZON, "Asia/Jakarta")


def test_naive_times_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        expand("FREQ=WEEKLY", dt.datetime(2027, 3, 1, 9), HORIZON, "Asia/Jakarta")
    with pytest.raises(ValueError, match="timezone"):
        expand("FREQ=WEEKLY", FIRST, HORIZON, "Asia/Jakrta")


def test_kind_of() -> None:
    assert kind_of("FREQ=DAILY") == "rrule"
    assert kind_of("rrule:freq=daily") == "rrule"
    assert kind_of(" 0 9 * * 1 ") == "cron"
