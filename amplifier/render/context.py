"""What a template sees: the unit, account, campaign and post, and Indonesian date helpers.

>>> tanggal(pendulum.datetime(2027, 10, 29, 9, tz="Asia/Makassar"))
'Jumat, 29 Oktober 2027'
>>> jam(pendulum.datetime(2027, 10, 29, 9, tz="Asia/Makassar"))
'09.00 WITA'
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

import pendulum
from jinja2 import pass_context
from jinja2.runtime import Context

from amplifier import platforms
from amplifier.vocab import Platform


@functools.lru_cache(maxsize=65_536)
def local_time(moment: dt.datetime, zone: str) -> pendulum.DateTime:
    """``moment`` in ``zone``, as a pendulum DateTime (cached: few distinct pairs per plan)."""
    return pendulum.instance(moment).in_tz(zone)


def _format(moment: pendulum.DateTime, pattern: str) -> str:
    # datetimes compare equal across zones (same instant): key the cache by zone too
    return _format_cached(moment, moment.tzname() or "", moment.utcoffset(), pattern)


@functools.lru_cache(maxsize=65_536)
def _format_cached(moment: pendulum.DateTime, _zone: str, _offset: Any, pattern: str) -> str:
    return moment.format(pattern, locale="id")


def zone_abbreviation(moment: dt.datetime) -> str:
    """WIB, WITA or WIT in Indonesia; the local abbreviation (CET, AEDT, …) abroad."""
    name = moment.tzname() or ""
    return name if name and not name.startswith(("+", "-")) else moment.strftime("UTC%z")


def tanggal(moment: dt.datetime) -> str:
    """'Jumat, 29 Oktober 2027'."""
    return _format(_pendulum(moment), "dddd, D MMMM YYYY")


def jam(moment: dt.datetime) -> str:
    """'09.00 WITA'."""
    p = _pendulum(moment)
    return f"{_format(p, 'HH.mm')} {zone_abbreviation(p)}"


def _pendulum(moment: dt.datetime) -> pendulum.DateTime:
    if isinstance(moment, pendulum.DateTime):
        return moment
    return pendulum.instance(moment)


def hashtags(tags: Iterable[str] | str, limit: int | None = None) -> str:
    """'#A #B' from ['A', '#B']; at most ``limit`` tags."""
    items = [tags] if isinstance(tags, str) else list(tags)
    cleaned = [t.strip().lstrip("#") for t in items if t and t.strip().lstrip("#")]
    if limit is not None:
        cleaned = cleaned[: max(limit, 0)]
    return " ".join(f"#{t}" for t in cleaned)


def mention(handle: str) -> str:
    return "@" + str(handle).strip().lstrip("@")


@pass_context
def fit(ctx: Context, text: str, budget: int | None = None) -> str:
    """Truncate at a word boundary to fit the platform (only where a template asks)."""
    return platforms.truncate(str(text), Platform(ctx["platform"]), budget=budget)


@pass_context
def panjang(ctx: Context, text: str) -> int:
    """Length of ``text`` in the platform's own measure (X: weighted, YouTube: bytes)."""
    return platforms.measure(str(text), Platform(ctx["platform"]))


FILTERS: dict[str, Any] = {
    "panjang": panjang,
    "tanggal": tanggal,
    "jam": jam,
    "hashtags": hashtags,
    "mention": mention,
    "fit": fit,
}
