"""Workspace keys for timing: ``[timing]`` in amplifier.toml, ``timing:`` on campaigns and
posts, and ``holidays:`` / ``quiet_periods:`` in calendar files.

    [timing]
    posting_hours = "07:00-21:00"
    min_gap = "45m"
    max_per_day = 6
    default_window = { relative = { start = "30m", end = "4h" } }
    [timing.posting_hours_by_kind]
    service = "08:00-16:00"

    campaigns:
      - slug: hari-pajak
        timing:
          window: {local: {at: "09:00", spread: 2h}}
          avoid_holidays: false

Durations are text: ``"30m"``, ``"4h"``, ``"1d"``, ``"1h30m"``; they are kept as that
text (so a model dumps to what was written) and turned into core objects by the methods
here (``WindowSpec.to_window``, ``TimingSettings.rules``, ``TimingSettings.hours_for``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from amplifier.load.base import AwareDatetime, Code, Slug, Strict, StrList, Targets
from amplifier.timing import recurrence
from amplifier.timing.assign import Rules
from amplifier.timing.calendar import NYEPI_REGIONS
from amplifier.timing.clock import (
    Hours,
    clock_text,
    format_duration,
    parse_clock,
    parse_duration,
)
from amplifier.timing.windows import LocalWindow, RelativeWindow, Window
from amplifier.vocab import UnitKind


def _duration_text(value: Any) -> str:
    return format_duration(parse_duration(value))


def _clock_text(value: Any) -> str:
    return clock_text(parse_clock(value))


def _hours_text(value: Any) -> str:
    return str(Hours.parse(value))


DurationText = Annotated[str, BeforeValidator(_duration_text)]
"""A duration such as ``"30m"``, ``"4h"``, ``"1d"`` or ``"1h30m"``, stored canonical."""
ClockText = Annotated[str, BeforeValidator(_clock_text)]
"""A local time of day, ``"09:00"``."""
HoursText = Annotated[str, BeforeValidator(_hours_text)]
"""Local posting hours, ``"07:00-21:00"`` (``"00:00-24:00"`` for all day)."""


def _td(text: str) -> dt.timedelta:
    return parse_duration(text)


# --- windows ----------------------------------------------------------------------------


class RelativeWindowSpec(Strict):
    """``{start: 30m, end: 4h}``: from start to end after the central time."""

    start: DurationText = "0m"
    end: DurationText

    @model_validator(mode="after")
    def _ordered(self) -> RelativeWindowSpec:
        if _td(self.end) <= _td(self.start):
            raise ValueError(f"window end {self.end} is not after start {self.start}")
        return self


class LocalWindowSpec(Strict):
    """``{at: "09:00", spread: 2h}``: from that local hour in each unit's own zone."""

    at: ClockText
    spread: DurationText = "2h"

    @field_validator("spread")
    @classmethod
    def _spread(cls, value: str) -> str:
        if not dt.timedelta(0) < _td(value) <= dt.timedelta(days=1):
            raise ValueError(f"spread {value} must be more than 0m and at most 1d")
        return value


class WindowSpec(Strict):
    """Exactly one of ``relative`` or ``local``."""

    relative: RelativeWindowSpec | None = None
    local: LocalWindowSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> WindowSpec:
        if (self.relative is None) == (self.local is None):
            raise ValueError(
                "give exactly one of relative ({relative: {start: 30m, end: 4h}}) "
                "or local ({local: {at: '09:00', spread: 2h}})"
            )
        return self

    def to_window(self) -> Window:
        if self.relative is not None:
            return RelativeWindow(_td(self.relative.start), _td(self.relative.end))
        assert self.local is not None
        return LocalWindow(parse_clock(self.local.at), _td(self.local.spread))


DEFAULT_WINDOW_SPEC = WindowSpec(relative=RelativeWindowSpec(start="30m", end="4h"))


class TimingSpec(Strict):
    """``timing:`` of a campaign. Unset keys fall back to ``[timing]`` in amplifier.toml."""

    window: WindowSpec | None = None
    avoid_holidays: bool | None = Field(
        default=None, description="skip national holidays and cuti bersama (default: true)"
    )


class PostTimingSpec(TimingSpec):
    """``timing:`` of a post: overrides its campaign's, and may make it recur."""

    recurrence: str | None = Field(
        default=None,
        description="RRULE ('FREQ=WEEKLY;BYDAY=MO') or cron ('0 9 * * 1'), from the post's at",
    )

    @field_validator("recurrence")
    @classmethod
    def _recurrence(cls, value: str | None) -> str | None:
        return None if value is None else recurrence.check(value)


# --- amplifier.toml ----------------------------------------------------------------------


class TimingSettings(Strict):
    """``[timing]`` in amplifier.toml."""

    posting_hours: HoursText = "07:00-21:00"
    posting_hours_by_kind: dict[UnitKind, HoursText] = Field(default_factory=dict)
    posting_hours_by_unit: dict[Code, HoursText] = Field(default_factory=dict)
    min_gap: DurationText = "45m"
    max_per_day: int | None = Field(default=6, ge=1, description="per account and local day")
    step: DurationText = Field(default="1m", description="the stagger grid, whole minutes")
    horizon: DurationText = Field(default="30d", description="how far recurring posts expand")
    default_window: WindowSpec = DEFAULT_WINDOW_SPEC
    avoid_holidays: bool = True
    holiday_language: Literal["id", "en_US"] = "id"
    nyepi_regions: StrList = Field(default_factory=lambda: list(NYEPI_REGIONS))

    @field_validator("step")
    @classmethod
    def _step(cls, value: str) -> str:
        if not dt.timedelta(minutes=1) <= _td(value) <= dt.timedelta(hours=1):
            raise ValueError(f"step {value} must be from 1m to 1h")
        return value

    def rules(self) -> Rules:
        return Rules(_td(self.min_gap), self.max_per_day, _td(self.step))

    @property
    def horizon_delta(self) -> dt.timedelta:
        return _td(self.horizon)

    def hours_for(self, unit_code: str, kind: str | UnitKind | None = None) -> Hours:
        """Posting hours of a unit: its own, else its kind's, else the institution's."""
        text = self.posting_hours_by_unit.get(unit_code)
        if text is None and kind is not None:
            text = self.posting_hours_by_kind.get(UnitKind(kind))
        return Hours.parse(text or self.posting_hours)

    def resolve(
        self, campaign: TimingSpec | None, post: TimingSpec | None = None
    ) -> tuple[Window, bool]:
        """The window and avoid_holidays of a post: post, then campaign, then settings."""
        window = (post.window if post else None) or (campaign.window if campaign else None)
        avoid = next(
            (
                s.avoid_holidays
                for s in (post, campaign)
                if s is not None and s.avoid_holidays is not None
            ),
            self.avoid_holidays,
        )
        return (window or self.default_window).to_window(), avoid


# --- calendars/*.yaml --------------------------------------------------------------------


ScopeSpec = Targets  # the same keys as a campaign's targets


class HolidayEntry(Strict):
    """``holidays:`` entry: add a (regional) holiday, or remove a package one.

    ``remove: true`` removes the package entries on ``date`` (only the one called ``name``
    when a name is given); removal applies to every unit, so it takes no scope.
    """

    date: dt.date
    name: str | None = None
    remove: bool = False
    scope: ScopeSpec = ScopeSpec()
    day_of_silence: bool = Field(
        default=False, description="this date is Nyepi: Bali units post nothing 06:00-06:00"
    )

    @model_validator(mode="after")
    def _shape(self) -> HolidayEntry:
        if not self.remove and not self.name:
            raise ValueError("an added holiday needs a name (or write remove: true)")
        if self.remove and self.scope != ScopeSpec():
            raise ValueError(
                "a removal applies to every unit; to keep a holiday for some units, "
                "remove it and add it back with a scope"
            )
        if self.remove and self.day_of_silence:
            raise ValueError("day_of_silence marks an added holiday, not a removal")
        return self


class QuietPeriodSpec(Strict):
    """``quiet_periods:`` entry: an election's masa tenang."""

    key: Slug
    name: str
    starts: AwareDatetime
    ends: AwareDatetime
    campaigns: StrList = Field(
        default_factory=list, description="campaign slugs it blocks (empty: all campaigns)"
    )
    scope: ScopeSpec = ScopeSpec()
    reason: str | None = None

    @field_validator("ends")
    @classmethod
    def _ordered(cls, value: dt.datetime, info: Any) -> dt.datetime:
        starts = info.data.get("starts")
        if starts is not None and value <= starts:
            raise ValueError(f"ends {value.isoformat()} is not after starts {starts.isoformat()}")
        return value
