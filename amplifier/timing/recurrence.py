"""Recurring central posts: expand an RRULE or a cron expression into dated occurrences.

    expand("FREQ=WEEKLY;BYDAY=MO", first, horizon_end, "Asia/Jakarta")
    expand("0 9 * * 1", first, horizon_end, "Asia/Jakarta")     # Mondays 09:00 WIB

The form is told by the text: ``FREQ=`` or ``RRULE:`` is an iCalendar RRULE (read with
``dateutil.rrule.rrulestr``, the post's ``first`` time as DTSTART, so its local time of day
is kept); five space-separated fields are a cron expression (read with APScheduler's
``CronTrigger.from_crontab`` in ``tz``).

* Occurrences are aware UTC datetimes with ``first <= t < horizon_end``, sorted.
* Times are wall-clock times in ``tz``: a nonexistent one moves forward by the DST gap and
  an ambiguous one takes its first occurrence, so a daily 02:30 is posted once on a
  fall-back day (see ``amplifier.timing.clock``).
* RRULE: as in ``dateutil``, ``first`` is itself an occurrence only if it matches the
  rule. ``UNTIL`` may be local or UTC (``…Z``). ``DTSTART`` may not be given: it is
  ``first``.
* Cron: day of week is standard cron (``0`` and ``7`` are Sunday, ``1`` is Monday; names
  ``sun``-``sat`` work too). APScheduler 3 numbers days from Monday, so numbers are
  translated to names before it reads them. Restrict the day of month or the day of
  week, not both (classic cron would take either; APScheduler both).

Bad input raises ``ValueError`` saying what was expected.
"""

from __future__ import annotations

import datetime as dt
import re

from amplifier.timing.clock import from_seconds, local_to_utc, to_seconds, zone

MAX_OCCURRENCES = 1000
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)


def kind_of(rule: str) -> str:
    """``"rrule"`` or ``"cron"``, by the text; ``ValueError`` when it is neither."""
    text = rule.strip() if isinstance(rule, str) else ""
    upper = text.upper()
    if "FREQ=" in upper or upper.startswith("RRULE:"):
        return "rrule"
    if len(text.split()) == 5:
        return "cron"
    raise ValueError(
        f"recurrence '{rule}' is neither an RRULE (such as 'FREQ=WEEKLY;BYDAY=MO') nor a "
        "cron expression of 5 fields (such as '0 9 * * 1', Mondays 09:00)"
    )


def check(rule: str, tz: str = "Asia/Jakarta") -> str:
    """Validate a recurrence text (for workspace loading); returns it stripped."""
    first = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    expand(rule, first, first, tz)
    return rule.strip()


def expand(
    rule: str,
    first: dt.datetime,
    horizon_end: dt.datetime,
    tz: str,
    *,
    limit: int = MAX_OCCURRENCES,
) -> list[dt.datetime]:
    """The occurrences of ``rule`` from ``first`` (inclusive) to ``horizon_end`` (exclusive).

    ``ValueError`` on a bad rule, a naive datetime, an unknown zone, or more than ``limit``
    occurrences (the rule is then too frequent for posts).
    """
    if first.tzinfo is None or horizon_end.tzinfo is None:
        raise ValueError("first and horizon_end must be aware datetimes")
    zone(tz)
    form = kind_of(rule)
    if form == "rrule":
        walls = _rrule_walls(rule.strip(), first, horizon_end, tz, limit)
    else:
        walls = _cron_walls(rule.strip(), first, horizon_end, tz, limit)
    lo, hi = to_seconds(first), to_seconds(horizon_end)
    found = set()
    for wall in walls:
        at = local_to_utc(wall.date(), wall.hour * 60 + wall.minute, tz) + wall.second
        if lo <= at < hi:
            found.add(at)
    if len(found) > limit:
        raise ValueError(f"recurrence '{rule}' gives more than {limit} occurrences")
    return [from_seconds(at) for at in sorted(found)]


def _local_naive(value: dt.datetime, tz: str) -> dt.datetime:
    return value.astimezone(zone(tz)).replace(tzinfo=None, fold=0)


def _rrule_walls(
    rule: str, first: dt.datetime, horizon_end: dt.datetime, tz: str, limit: int
) -> list[dt.datetime]:
    if "DTSTART" in rule.upper():
        raise ValueError(
            f"recurrence '{rule}': leave DTSTART out; the post's own time is the first one"
        )

    def local_until(match: re.Match[str]) -> str:
        utc = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        return "UNTIL=" + _local_naive(utc, tz).strftime("%Y%m%dT%H%M%S")

    from dateutil.rrule import rrulestr  # imported here, when a rule is read

    text = _UNTIL_UTC.sub(local_until, rule)
    start = _local_naive(first, tz)
    try:
        rules = rrulestr(text, dtstart=start, forceset=True)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"recurrence '{rule}' is not a valid RRULE: {exc}") from exc
    # a day of margin either side covers any UTC offset
    stop = _local_naive(horizon_end, tz) + dt.timedelta(days=1)
    walls = []
    try:
        for occurrence in rules:
            if occurrence >= stop:
                break
            walls.append(occurrence)
            if len(walls) > limit + 2:
                raise ValueError(f"recurrence '{rule}' gives more than {limit} occurrences")
    except TypeError as exc:  # e.g. an UNTIL with a zone dateutil cannot compare
        raise ValueError(f"recurrence '{rule}' is not a valid RRULE: {exc}") from exc
    return walls


def _day(token: str) -> int:
    token = token.strip().lower()
    if token in _DAY_NAMES:
        return _DAY_NAMES.index(token)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    raise ValueError(f"'{token}' is not a day of week (0-7 or sun-sat; 0 and 7 are Sunday)")


def cron_day_of_week(field: str) -> str:
    """Standard cron day-of-week (0/7 = Sunday) as the day names APScheduler 3 reads."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, slash, every = part.partition("/")
        step = 1
        if slash:
            if not every.isdigit() or int(every) < 1:
                raise ValueError(f"'{part}': a step is a whole number from 1")
            step = int(every)
        if span == "*":
            lo, hi = 0, 6
        elif "-" in span:
            a, b = span.split("-", 1)
            lo, hi = _day(a), _day(b)
            if hi < lo:
                raise ValueError(f"'{span}': a day range runs forward, such as 1-5 or mon-fri")
        else:
            lo = _day(span)
            hi = 6 if slash else lo
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def _cron_walls(
    rule: str, first: dt.datetime, horizon_end: dt.datetime, tz: str, limit: int
) -> list[dt.datetime]:
    from apscheduler.triggers.cron import CronTrigger  # imported here, when a rule is read

    fields = rule.split()
    if fields[2] not in ("*", "?") and fields[4] not in ("*", "?"):
        raise ValueError(f"cron '{rule}': restrict the day of month or the day of week, not both")
    try:
        fields[4] = cron_day_of_week(fields[4].replace("?", "*"))
        fields[2] = fields[2].replace("?", "*")
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=tz)
    except ValueError as exc:
        raise ValueError(f"recurrence '{rule}' is not a valid cron expression: {exc}") from exc
    walls: list[dt.datetime] = []
    previous: dt.datetime | None = None
    now = first
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire >= horizon_end:
            break
        # the fire time's own wall-clock reading, re-resolved by our DST rules
        walls.append(fire.replace(tzinfo=None, fold=0))
        if len(walls) > 2 * limit + 2:
            raise ValueError(f"recurrence '{rule}' gives more than {limit} occurrences")
        # step on in UTC: aware arithmetic in the zone is wall-clock arithmetic, which
        # would stay inside a repeated (fall-back) hour for ever
        moment = fire.astimezone(dt.UTC)
        if moment < now:
            moment = now + dt.timedelta(minutes=1)
        previous, now = fire, moment + dt.timedelta(microseconds=1)
    return walls
