"""Timing: pick each variant's publish time in its unit's own zone.

    from amplifier.timing import Request, Rules, UnitInfo, assign, build_blackouts

    unit = UnitInfo("KANWIL-BALI", "Asia/Makassar", kind="regional", region="Bali")
    blackouts = build_blackouts([2027])                 # holidays, cuti bersama, Nyepi
    timings = assign(
        [Request("v1", "hari-pajak/pengingat", "x:kanwil_bali", "x", unit, central_at)],
        blackouts,
        Rules(),
    )
    timings["v1"].publish_at, [str(s) for s in timings["v1"].steps]

Modules, one concern each:

=============== ==========================================================================
``clock``       epoch seconds, local wall clock → UTC with the DST rules, durations, hours
``windows``     relative and same-local-hour amplification windows
``scope``       ``UnitInfo`` and ``Scope`` (Targets-shaped: which units an entry applies to)
``calendar``    ``Blackout`` and its sources: holidays package, workspace holidays, Nyepi,
                quiet periods, custom blackouts, embargoes
``assign``      ``assign()``: window ∩ posting hours − blackouts, stagger, account rules
``explain``     ``Step``: one line of "why this time"
``recurrence``  ``expand()`` RRULE / cron into occurrences
``config``      the pydantic models of the workspace keys
=============== ==========================================================================

Times in and out are aware UTC ``datetime``; nothing here touches the database.

Daylight saving time (overseas units): a local time that does not exist (spring forward)
moves forward by the gap; one that occurs twice (fall back) takes the first occurrence.
See ``amplifier.timing.clock``.
"""

from amplifier.timing.assign import Fixed, Request, Rules, Timing, assign
from amplifier.timing.calendar import (
    Blackout,
    BlackoutKind,
    Holiday,
    blocks,
    build_blackouts,
    covering,
    embargoes_at,
    holiday_blackouts,
    national_holidays,
    quiet_blackouts,
    quiet_periods_at,
    span_blackouts,
    years_between,
)
from amplifier.timing.clock import DEFAULT_HOURS, Hours, local_to_utc, parse_duration
from amplifier.timing.config import (
    HolidayEntry,
    PostTimingSpec,
    QuietPeriodSpec,
    ScopeSpec,
    TimingSettings,
    TimingSpec,
    WindowSpec,
)
from amplifier.timing.explain import Step
from amplifier.timing.recurrence import expand
from amplifier.timing.scope import Scope, UnitInfo
from amplifier.timing.windows import DEFAULT_WINDOW, LocalWindow, RelativeWindow, Window

__all__ = [
    "DEFAULT_HOURS",
    "DEFAULT_WINDOW",
    "Blackout",
    "BlackoutKind",
    "Fixed",
    "Holiday",
    "HolidayEntry",
    "Hours",
    "LocalWindow",
    "PostTimingSpec",
    "QuietPeriodSpec",
    "RelativeWindow",
    "Request",
    "Rules",
    "Scope",
    "ScopeSpec",
    "Step",
    "Timing",
    "TimingSettings",
    "TimingSpec",
    "UnitInfo",
    "Window",
    "WindowSpec",
    "assign",
    "blocks",
    "build_blackouts",
    "covering",
    "embargoes_at",
    "expand",
    "holiday_blackouts",
    "local_to_utc",
    "national_holidays",
    "parse_duration",
    "quiet_blackouts",
    "quiet_periods_at",
    "span_blackouts",
    "years_between",
]
