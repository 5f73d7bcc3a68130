"""When to try a variant again: exponential backoff with jitter, and ``Retry-After``.

The daemon calls ``retry_delay`` after a ``TransientPublishError``::

    delay = retry_delay(variant.attempts, base=30, cap=3600, retry_after=exc.retry_after)
    variant.due_at = now + timedelta(seconds=delay)

Attempt 1 waits about ``base`` seconds, each further attempt about twice as long, never
more than ``cap``. Jitter spreads the retries of many daemons so they do not return at
the same second. A target's ``Retry-After`` is a floor: the delay is never shorter, even
when it is longer than ``cap`` (the daemon decides whether that is too late).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Callable
from typing import Literal

Jitter = Literal["equal", "full"]


def backoff_ceiling(attempt: int, *, base: float = 30, cap: float = 3600) -> float:
    """``min(cap, base * 2 ** (attempt - 1))``, without overflowing for large attempts."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    exponent = attempt - 1
    if exponent >= 1000 or base * 2.0**exponent >= cap:
        return float(cap)
    return base * 2.0**exponent


def retry_delay(
    attempt: int,
    *,
    base: float = 30,
    cap: float = 3600,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
    jitter: Jitter = "equal",
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first).

    ``jitter="equal"`` waits between half and all of the ceiling, so the delay still grows;
    ``"full"`` waits anywhere from 0 to the ceiling, which spreads load the most.
    ``rng`` returns a float in [0, 1).
    """
    ceiling = backoff_ceiling(attempt, base=base, cap=cap)
    r = min(max(rng(), 0.0), 1.0)
    if jitter == "equal":
        delay = ceiling / 2 + r * ceiling / 2
    elif jitter == "full":
        delay = r * ceiling
    else:
        raise ValueError(f"jitter must be 'equal' or 'full', got {jitter!r}")
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return delay


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    >>> parse_retry_after("120")
    120.0
    >>> when = dt.datetime(2027, 6, 23, 2, 0, 30, tzinfo=dt.UTC)
    >>> parse_retry_after("Wed, 23 Jun 2027 02:01:00 GMT", now=when)
    30.0

    A date in the past gives 0. Anything unreadable gives ``None``.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC in HTTP dates
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


__all__ = ["Jitter", "backoff_ceiling", "parse_retry_after", "retry_delay"]
