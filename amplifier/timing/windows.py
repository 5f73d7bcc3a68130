"""Amplification windows: when, after its central post, a variant may go out.

    RelativeWindow(start=timedelta(minutes=30), end=timedelta(hours=4))
        # from 30 minutes to 4 hours after the central time
    LocalWindow(at=9 * 60, spread=timedelta(hours=2))
        # 09:00-11:00 in each unit's own zone

A **local** window is taken on the first local day (in the unit's zone) whose window
*ends after* the central time; if that day's window has already begun, it starts at the
central time instead. So with a central post at 10:00 WIB and ``09:00`` + 2h, a unit in
Jakarta gets 10:00-11:00 WIB that day, while a unit in Jayapura (12:00 WIT by then) gets
09:00-11:00 WIT the next day.

Either way the window never starts before the central post. It is then intersected with
the unit's posting hours and cut by blackouts (see ``amplifier.timing.assign``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from amplifier.timing.clock import (
    clock_text,
    format_duration,
    local_date,
    local_to_utc,
)


@dataclass(frozen=True, slots=True)
class RelativeWindow:
    """From ``start`` to ``end`` after the central time."""

    start: dt.timedelta
    end: dt.timedelta

    def __post_init__(self) -> None:
        if self.start < dt.timedelta(0):
            raise ValueError("a window cannot start before its central post")
        if self.end <= self.start:
            raise ValueError(
                f"window end {format_duration(self.end)} is not after "
                f"start {format_duration(self.start)}"
            )

    def bounds(self, central: int, zone_name: str) -> tuple[int, int]:
        """``[start, end)`` in epoch seconds for a central time in epoch seconds."""
        return (
            central + int(self.start.total_seconds()),
            central + int(self.end.total_seconds()),
        )

    def __str__(self) -> str:
        return (
            f"+{format_duration(self.start)} to +{format_duration(self.end)} after the central post"
        )


@dataclass(frozen=True, slots=True)
class LocalWindow:
    """At ``at`` minutes after local midnight in each unit's zone, for ``spread``."""

    at: int
    spread: dt.timedelta

    def __post_init__(self) -> None:
        if not 0 <= self.at < 24 * 60:
            raise ValueError("a local window starts between 00:00 and 23:59")
        if not dt.timedelta(0) < self.spread <= dt.timedelta(days=1):
            raise ValueError("a local window's spread is more than 0m and at most 1d")

    def bounds(self, central: int, zone_name: str) -> tuple[int, int]:
        """The first local day's window that ends after ``central``, clipped to start there."""
        spread = int(self.spread.total_seconds())
        day = local_date(central, zone_name) - dt.timedelta(days=1)
        while True:
            start = local_to_utc(day, self.at, zone_name)
            if start + spread > central:
                return max(start, central), start + spread
            day += dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{clock_text(self.at)} local, spread {format_duration(self.spread)}"


Window = RelativeWindow | LocalWindow

DEFAULT_WINDOW: Window = RelativeWindow(dt.timedelta(minutes=30), dt.timedelta(hours=4))
