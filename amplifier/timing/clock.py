"""Wall clocks and durations: the edge where local times become UTC instants.

    local_to_utc(dt.date(2027, 3, 28), 150, "Europe/Amsterdam")   # 02:30 local, in seconds
    parse_duration("1h30m")                                          # timedelta(minutes=90)
    Hours.parse("07:00-21:00")

Inside the timing core every instant is an ``int`` of seconds since the Unix epoch (UTC);
the public API takes and returns aware UTC ``datetime``.

Daylight saving time (overseas units in DST zones) is resolved explicitly:

* a local time that does **not exist** (spring forward, e.g. 02:30 on 2027-03-28 in
  Europe/Amsterdam) moves **forward by the gap**: 02:30 becomes 03:30 CEST;
* a local time that occurs **twice** (fall back, e.g. 02:30 on 2027-10-31 in
  Europe/Amsterdam) takes the **first** occurrence: 02:30 CEST (00:30 UTC), not CET.

Posting hours, local windows, holiday days and Nyepi are spans between two instants
resolved this way. So a local day is never empty or doubled: on a spring-forward day the
posting hours have one hour less, on a fall-back day one hour more (when they span the
change; hours that *start* inside the repeated hour also take its second pass).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass

import pendulum
from pendulum.tz.exceptions import AmbiguousTime, NonExistingTime

UTC = dt.UTC
MINUTES_PER_DAY = 24 * 60

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The stdlib zone for an IANA name (cached); ``ValueError`` for an unknown name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone '{name}'") from exc


def to_seconds(value: dt.datetime) -> int:
    """Whole seconds since the epoch of an aware datetime (naive input is refused)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give an aware time (UTC or with offset)")
    return int(value.timestamp() // 1)


def from_seconds(seconds: int) -> dt.datetime:
    """The aware UTC datetime of epoch seconds."""
    return dt.datetime.fromtimestamp(seconds, UTC)


@functools.lru_cache(maxsize=65536)
def local_to_utc(day: dt.date, minute: int, zone_name: str) -> int:
    """Epoch seconds of ``minute`` minutes after local midnight of ``day`` in ``zone_name``.

    ``minute`` may be 1440 (24:00, the next midnight). Nonexistent local times move forward
    by the gap; ambiguous ones take the first occurrence (see the module docstring).
    """
    if minute >= MINUTES_PER_DAY:
        day, minute = day + dt.timedelta(days=minute // MINUTES_PER_DAY), minute % MINUTES_PER_DAY
    hour, mins = divmod(minute, 60)
    args = (day.year, day.month, day.day, hour, mins)
    try:
        local = pendulum.datetime(*args, tz=zone_name, raise_on_unknown_times=True)
    except NonExistingTime:
        # in a gap: pendulum moves forward by the gap with fold=1
        local = pendulum.datetime(*args, tz=zone_name, fold=1)
    except AmbiguousTime:
        # occurs twice: fold=0 is the first occurrence
        local = pendulum.datetime(*args, tz=zone_name, fold=0)
    return int(local.timestamp())


def local_date(seconds: int, zone_name: str) -> dt.date:
    """The local calendar date of an instant in a zone."""
    return dt.datetime.fromtimestamp(seconds, zone(zone_name)).date()


def local_text(seconds: int, zone_name: str, *, date: bool = True) -> str:
    """``2027-06-23 09:30 WIB``: an instant as the unit reads it."""
    local = dt.datetime.fromtimestamp(seconds, zone(zone_name))
    return local.strftime("%Y-%m-%d %H:%M %Z" if date else "%H:%M %Z")


def utc_text(seconds: int) -> str:
    return from_seconds(seconds).strftime("%Y-%m-%d %H:%M UTC")


def parse_duration(text: str) -> dt.timedelta:
    """``"30m"``, ``"4h"``, ``"1d"``, ``"1h30m"`` (days, hours, minutes, in that order)."""
    if not isinstance(text, str):
        raise ValueError(f"a duration is text such as '30m', '4h', '1d' or '1h30m', not {text!r}")
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(
            f"'{text}' is not a duration: write whole days, hours and minutes in that order, "
            "such as '30m', '4h', '1d' or '1h30m'"
        )
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


def format_duration(value: dt.timedelta) -> str:
    """The canonical text of a duration: ``timedelta(minutes=90)`` → ``"1h30m"``."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, MINUTES_PER_DAY)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    return text + (f"{mins}m" if mins or not text else "")


def parse_clock(text: str, *, allow_24: bool = False) -> int:
    """``"09:00"`` → minutes after local midnight (``"24:00"`` only with ``allow_24``)."""
    match = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"'{text}' is not a local time: write HH:MM, such as '09:00'")
    hours, minutes = int(match.group(1)), int(match.group(2))
    value = hours * 60 + minutes
    if minutes > 59 or value > MINUTES_PER_DAY or (value == MINUTES_PER_DAY and not allow_24):
        limit = "00:00 to 24:00" if allow_24 else "00:00 to 23:59"
        raise ValueError(f"'{text}' is not a local time from {limit}")
    return value


def clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class Hours:
    """Local posting hours, ``start`` to ``end`` minutes after midnight (end exclusive).

    ``Hours.parse("07:00-21:00")``; ``"00:00-24:00"`` is the whole day. Hours may not wrap
    past midnight.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(
                f"posting hours {clock_text(self.start)}-{clock_text(self.end)} must start "
                "before they end, within one day (00:00-24:00)"
            )

    @classmethod
    def parse(cls, text: str) -> Hours:
        if not isinstance(text, str) or text.count("-") != 1:
            raise ValueError(f"'{text}' is not posting hours: write HH:MM-HH:MM, e.g. 07:00-21:00")
        start, end = text.split("-")
        return cls(parse_clock(start), parse_clock(end, allow_24=True))

    def __str__(self) -> str:
        return f"{clock_text(self.start)}-{clock_text(self.end)}"


DEFAULT_HOURS = Hours(7 * 60, 21 * 60)
