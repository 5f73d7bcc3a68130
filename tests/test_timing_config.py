"""Workspace keys for timing: strict parsing, clear errors, and resolution to core objects."""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from amplifier.timing import (
    Hours,
    LocalWindow,
    RelativeWindow,
    Rules,
)
from amplifier.timing.config import (
    HolidayEntry,
    PostTimingSpec,
    QuietPeriodSpec,
    TimingSettings,
    TimingSpec,
    WindowSpec,
)

TOML = """
[timing]
posting_hours = "07:00-21:00"
min_gap = "45m"
max_per_day = 6
step = "5m"
horizon = "30d"
default_window = { relative = { start = "30m", end = "4h" } }

[timing.posting_hours_by_kind]
service = "08:00-16:00"

[timing.posting_hours_by_unit]
KBRI-DH = "09:00-17:30"
"""


def settings() -> TimingSettings:
    return TimingSettings.model_validate(tomllib.loads(TOML)["timing"])


def errors(model: type[Any], data: Any) -> str:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return str(exc.value)


def test_settings_from_toml() -> None:
    s = settings()
    assert s.rules() == Rules(dt.timedelta(minutes=45), 6, dt.timedelta(minutes=5))
    assert s.hours_for("KBRI-DH", "overseas") == Hours(9 * 60, 17 * 60 + 30)
    assert s.hours_for("KL-1", "service") == Hours(8 * 60, 16 * 60)
    assert s.hours_for("KANWIL-BALI", "regional") == Hours(7 * 60, 21 * 60)
    assert s.horizon_delta == dt.timedelta(days=30)
    assert TimingSettings().rules() == Rules()


def test_settings_round_trip_through_model_dump() -> None:
    s = settings()
    assert TimingSettings.model_validate(s.model_dump(mode="json")) == s


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"min_gap": 45}, "duration is text"),
        ({"min_gap": "45 minutes"}, "not a duration"),
        ({"posting_hours": "21:00-07:00"}, "must start before they end"),
        ({"posting_hours_by_kind": {"servise": "08:00-16:00"}}, "service"),
        ({"max_per_day": 0}, "greater than or equal to 1"),
        ({"step": "2h"}, "from 1m to 1h"),
        ({"min_gaps": "45m"}, "min_gap"),
        ({"holiday_language": "fr"}, "en_US"),
    ],
)
def test_bad_settings_say_what_is_expected(data: dict[str, Any], message: str) -> None:
    assert message in errors(TimingSettings, data)


def test_window_specs() -> None:
    relative = WindowSpec.model_validate({"relative": {"start": "30m", "end": "4h"}})
    assert relative.to_window() == RelativeWindow(dt.timedelta(minutes=30), dt.timedelta(hours=4))
    local = WindowSpec.model_validate({"local": {"at": "09:00", "spread": "2h"}})
    assert local.to_window() == LocalWindow(540, dt.timedelta(hours=2))
    assert "exactly one" in errors(WindowSpec, {})
    assert "exactly one" in errors(
        WindowSpec, {"relative": {"end": "4h"}, "local": {"at": "09:00"}}
    )
    assert "not after" in errors(WindowSpec, {"relative": {"start": "4h", "end": "30m"}})
    assert "HH:MM" in errors(WindowSpec, {"local": {"at": "9am"}})
    assert "at most 1d" in errors(WindowSpec, {"local": {"at": "09:00", "spread": "2d"}})


def test_campaign_and_post_timing_from_yaml_resolve_in_order() -> None:
    doc = yaml.safe_load(
        """
        campaign:
          window: {local: {at: "09:00", spread: 2h}}
          avoid_holidays: false
        post:
          window: {relative: {start: 30m, end: 4h}}
          recurrence: "FREQ=WEEKLY;BYDAY=MO"
        """
    )
    campaign = TimingSpec.model_validate(doc["campaign"])
    post = PostTimingSpec.model_validate(doc["post"])
    s = settings()
    assert s.resolve(campaign, post) == (
        RelativeWindow(dt.timedelta(minutes=30), dt.timedelta(hours=4)),
        False,
    )
    assert s.resolve(campaign) == (LocalWindow(540, dt.timedelta(hours=2)), False)
    assert s.resolve(None, None) == (
        RelativeWindow(dt.timedelta(minutes=30), dt.timedelta(hours=4)),
        True,
    )
    assert s.resolve(campaign, PostTimingSpec(avoid_holidays=True))[1] is True
    assert post.recurrence == "FREQ=WEEKLY;BYDAY=MO"


def test_bad_recurrence_is_a_validation_error() -> None:
    assert "neither an RRULE" in errors(PostTimingSpec, {"recurrence": "every monday"})
    assert "not a valid cron" in errors(PostTimingSpec, {"recurrence": "0 25 * * *"})
    assert PostTimingSpec(recurrence=" 0 9 * * 1 ").recurrence == "0 9 * * 1"


def test_calendar_entries() -> None:
    doc = yaml.safe_load(
        """
        holidays:
          - date: 2027-08-14
            name: Hari Jadi Provinsi Bali
            scope: {regions: [Bali]}
          - date: 2027-12-24
            remove: true
        quiet_periods:
          - key: pilkada-2027
            name: Masa tenang Pilkada
            starts: 2027-11-24T00:00:00+07:00
            ends: 2027-11-27T00:00:00+07:00
            campaigns: [sosialisasi-pemilu]
            scope: {regions: [Papua]}
        """
    )
    added, removed = (HolidayEntry.model_validate(h) for h in doc["holidays"])
    assert added.scope.regions == ["Bali"] and removed.remove
    quiet = QuietPeriodSpec.model_validate(doc["quiet_periods"][0])
    assert quiet.campaigns == ["sosialisasi-pemilu"]
    assert "needs a name" in errors(HolidayEntry, {"date": "2027-08-14"})
    assert "applies to every unit" in errors(
        HolidayEntry, {"date": "2027-08-14", "remove": True, "scope": {"regions": ["Bali"]}}
    )
    assert "not after" in errors(
        QuietPeriodSpec,
        {**doc["quiet_periods"][0], "ends": "2027-11-23T00:00:00+07:00"},
    )
    assert "UTC offset" in errors(
        QuietPeriodSpec, {**doc["quiet_periods"][0], "starts": "2027-11-24T00:00:00"}
    )
    # the loader turns this into "unknown key 'region' (did you mean 'regions'?)"
    assert "scope.region\n  Extra inputs" in errors(
        HolidayEntry, {"date": "2027-08-14", "name": "x", "scope": {"region": ["Bali"]}}
    )
