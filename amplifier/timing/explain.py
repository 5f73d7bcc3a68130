"""Why a variant got its time: the steps of timing, for ``amplifier why VARIANT``.

    for step in timing.steps:
        print(step)            # "window: 2027-06-23 09:30 WIB – 13:00 WIB (02:30–06:00 UTC), …"
        step.kind, step.name   # "blackout", "Hari Suci Nyepi"

Kinds, in the order they appear:

========== ================================================================
window     the amplification window, UTC and local
hours      the unit's posting hours and what is left of the window
blackout   a blackout (holiday, cuti bersama, Nyepi, quiet period, custom) that cut
           the window; ``name`` is its name
embargo    an embargo that cut the window
stagger    the account's spread position in the window
platform   minutes already taken on the platform, skipped
gap        a minimum-gap conflict lost; ``other`` is the request it lost to
cap        a daily-cap conflict lost; ``other`` lists the posts that filled the day
shared     no free minute left on the platform: shares a minute
placed     the final time, with the total shift
unscheduled  no allowed slot: why
========== ================================================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Step:
    """One step of timing; ``str(step)`` is the sentence shown to people."""

    kind: str
    message: str
    name: str | None = None  # the blackout or embargo concerned
    other: str | None = None  # the request(s) or fixed post(s) a conflict was lost to
    at: dt.datetime | None = None  # the time the step is about (UTC)

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"
