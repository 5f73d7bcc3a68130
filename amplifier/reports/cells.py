"""How a report's numbers read as text, the same in every format.

percent(66.7)                          # '66.7%'
duration(dt.timedelta(minutes=65))     # '1h 05m'
utc(moment)                            # '2027-10-30 02:00 UTC'
"""

from __future__ import annotations

import datetime as dt

__all__ = ["duration", "percent", "utc"]


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def duration(value: dt.timedelta | None) -> str:
    """'45s', '12m', '1h 05m', '2d 3h', '-5m' (before the central post); '–' for none."""
    if value is None:
        return "–"
    seconds = round(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    elif minutes:
        text = f"{minutes}m" if not secs else f"{minutes}m {secs:02d}s"
    else:
        text = f"{secs}s"
    return sign + text


def utc(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
