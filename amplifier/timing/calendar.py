"""Blackouts: times when nothing, or only some campaigns, may go out, built from data.

    blackouts = build_blackouts(
        years=[2027],
        holidays=calendar.holidays,           # workspace additions and removals
        quiet_periods=calendar.quiet_periods, # election quiet periods (masa tenang)
        blackouts=calendar.blackouts,         # custom blackouts (masa hening, berkabung)
        embargoes=embargo_rows,               # from the database
    )
    blocks(blackouts[0], unit, "hari-pajak")  # [(start_utc, end_utc)] or []

Sources, and what each blocks:

* **National holidays and cuti bersama** come from the ``holidays`` package
  (``country_holidays("ID", categories=("public", "government"), language=...)``; the
  ``government`` category holds the joint leave days). Each blacks out the whole **local**
  day in every unit's own zone, but only for campaigns that avoid holidays. Workspace
  entries add holidays (optionally scoped) or remove package ones.
* **Nyepi**: units in the Nyepi regions (default ``Bali``) post nothing from 06:00 on the
  Day of Silence to 06:00 the next day, local time, whatever the campaign. The date is
  the package's *Day of Silence* entry (or a workspace holiday marked ``day_of_silence``).
* **Quiet periods** (masa tenang) of an election: from/to, for all campaigns or only
  those listed.
* **Custom blackouts** and **embargoes**: from/to, for all campaigns (or those listed).

Every blackout may be scoped (see ``amplifier.timing.scope.Scope``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from amplifier.timing.clock import local_to_utc, to_seconds
from amplifier.timing.scope import EVERYWHERE, Scope, UnitInfo

HOLIDAY_COUNTRY = "ID"
HOLIDAY_CATEGORIES = ("public", "government")
HOLIDAY_LANGUAGES = ("id", "en_US")  # those the package offers for ID that we expose
DAY_OF_SILENCE = "Day of Silence"  # the package's en_US name of Nyepi
NYEPI_REGIONS = ("Bali",)
NYEPI_FROM = 6 * 60  # 06:00 local on the Day of Silence …
NYEPI_UNTIL = 30 * 60  # … to 06:00 local the next day


class BlackoutKind(StrEnum):
    HOLIDAY = "holiday"  # hari libur nasional
    JOINT_HOLIDAY = "joint_holiday"  # cuti bersama
    NYEPI = "nyepi"  # Hari Suci Nyepi in Bali, 06:00-06:00
    QUIET = "quiet"  # masa tenang of an election
    CUSTOM = "custom"  # masa hening, masa berkabung, …
    EMBARGO = "embargo"

    @property
    def is_holiday(self) -> bool:
        """Blocks only campaigns that avoid holidays."""
        return self in (BlackoutKind.HOLIDAY, BlackoutKind.JOINT_HOLIDAY)


@dataclass(frozen=True, slots=True)
class Blackout:
    """One blackout. Either absolute (``starts``/``ends``, aware UTC) or a local span
    (``local_day`` from ``local_from`` to ``local_until`` minutes after its midnight, which
    may pass 24:00) that is read in each unit's own zone.

    ``campaigns`` is ``None`` for all campaigns, else the slugs it blocks.
    """

    key: str
    name: str
    kind: BlackoutKind
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None
    local_day: dt.date | None = None
    local_from: int = 0
    local_until: int = 24 * 60
    scope: Scope = EVERYWHERE
    campaigns: frozenset[str] | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.starts is None) == (self.local_day is None):
            raise ValueError(f"blackout {self.key}: give either starts/ends or a local day")
        if self.starts is not None:
            if self.ends is None or self.starts.tzinfo is None or self.ends.tzinfo is None:
                raise ValueError(f"blackout {self.key}: starts and ends must be aware times")
            if self.ends <= self.starts:
                raise ValueError(f"blackout {self.key}: ends is not after starts")
        elif self.local_until <= self.local_from:
            raise ValueError(f"blackout {self.key}: local_until is not after local_from")

    @classmethod
    def absolute(
        cls,
        key: str,
        name: str,
        starts: dt.datetime,
        ends: dt.datetime,
        *,
        kind: BlackoutKind | str = BlackoutKind.CUSTOM,
        scope: Scope | Mapping[str, Any] | Any | None = None,
        campaigns: Iterable[str] | None = None,
        reason: str | None = None,
    ) -> Blackout:
        """From a database row or a workspace entry; empty ``campaigns`` means all."""
        chosen = frozenset(campaigns or ())
        return cls(
            key,
            name,
            BlackoutKind(kind),
            starts=starts.astimezone(dt.UTC),
            ends=ends.astimezone(dt.UTC),
            scope=Scope.of(scope),
            campaigns=chosen or None,
            reason=reason,
        )

    @property
    def is_local(self) -> bool:
        return self.local_day is not None

    def span(self, zone_name: str) -> tuple[int, int]:
        """``[start, end)`` in epoch seconds, as it falls in ``zone_name``."""
        if self.local_day is None:
            assert self.starts is not None and self.ends is not None
            return to_seconds(self.starts), to_seconds(self.ends)
        return _local_span(self.local_day, self.local_from, self.local_until, zone_name)

    def rough_span(self) -> tuple[int, int]:
        """A span that contains ``span(zone)`` for every zone (±14 h for local ones)."""
        if self.local_day is None:
            return self.span("UTC")
        start, end = _local_span(self.local_day, self.local_from, self.local_until, "UTC")
        return start - 15 * 3600, end + 15 * 3600

    def applies(
        self,
        unit: UnitInfo,
        campaign: str | None,
        *,
        platform: str | None = None,
        avoid_holidays: bool = True,
    ) -> bool:
        """Whether it blocks this unit (and platform) for this campaign."""
        if self.kind.is_holiday and not avoid_holidays:
            return False
        if self.campaigns is not None and campaign not in self.campaigns:
            return False
        return self.scope.matches(unit, platform)

    def __str__(self) -> str:
        return f"{self.kind.value} '{self.name}'"


@functools.lru_cache(maxsize=65536)
def _local_span(day: dt.date, start: int, end: int, zone_name: str) -> tuple[int, int]:
    return local_to_utc(day, start, zone_name), local_to_utc(day, end, zone_name)


def blocks(
    blackout: Blackout,
    unit: UnitInfo,
    campaign_slug: str | None,
    *,
    platform: str | None = None,
    avoid_holidays: bool = True,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The UTC span(s) the blackout blocks for this unit and campaign (empty if none)."""
    if not blackout.applies(unit, campaign_slug, platform=platform, avoid_holidays=avoid_holidays):
        return []
    start, end = blackout.span(unit.zone)
    return [(_utc(start), _utc(end))]


def covering(
    blackouts: Iterable[Blackout],
    unit: UnitInfo,
    campaign_slug: str | None,
    at: dt.datetime,
    *,
    platform: str | None = None,
    avoid_holidays: bool = True,
    kinds: Iterable[BlackoutKind | str] | None = None,
) -> list[Blackout]:
    """The blackouts (of the given kinds) whose span covers ``at`` for this variant.

    ``covering(blackouts, unit, slug, variant.publish_at, kinds=["embargo"])`` tells
    whether an embargo covers a scheduled variant, so that it can be held.
    """
    wanted = None if kinds is None else {BlackoutKind(k) for k in kinds}
    moment = to_seconds(at)
    out = []
    for b in blackouts:
        if wanted is not None and b.kind not in wanted:
            continue
        if not b.applies(unit, campaign_slug, platform=platform, avoid_holidays=avoid_holidays):
            continue
        start, end = b.span(unit.zone)
        if start <= moment < end:
            out.append(b)
    return out


def embargoes_at(
    blackouts: Iterable[Blackout],
    unit: UnitInfo,
    campaign_slug: str | None,
    at: dt.datetime,
    *,
    platform: str | None = None,
) -> list[Blackout]:
    """The embargoes that cover a variant's time (hold it while there is one)."""
    return covering(
        blackouts, unit, campaign_slug, at, platform=platform, kinds=[BlackoutKind.EMBARGO]
    )


def quiet_periods_at(
    blackouts: Iterable[Blackout], unit: UnitInfo, at: dt.datetime, *, platform: str | None = None
) -> list[Blackout]:
    """The election quiet periods whose scope and span cover ``at`` for this unit, whichever
    campaigns they block: in one, electoral terms need a person's review."""
    moment = to_seconds(at)
    out = []
    for b in blackouts:
        if b.kind is BlackoutKind.QUIET and b.scope.matches(unit, platform):
            start, end = b.span(unit.zone)
            if start <= moment < end:
                out.append(b)
    return out


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


# --- national holidays ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holiday:
    """One entry of the holidays package (or of the workspace)."""

    date: dt.date
    name: str
    english: str
    joint: bool = False  # cuti bersama (the package's "government" category)
    day_of_silence: bool = False


def national_holidays(years: Iterable[int], language: str = "id") -> list[Holiday]:
    """Indonesia's public holidays and cuti bersama for ``years``, from the package.

    Names are in ``language`` (``"id"`` or ``"en_US"``); the English name is kept too,
    because it is what identifies the Day of Silence whatever the display language.
    """
    if language not in HOLIDAY_LANGUAGES:
        raise ValueError(
            f"holiday language '{language}' is not offered; use one of {HOLIDAY_LANGUAGES}"
        )
    return list(_national_holidays(tuple(sorted(set(years))), language))


@functools.lru_cache(maxsize=32)  # the package's data is fixed for a process: every plan
def _national_holidays(wanted: tuple[int, ...], language: str) -> tuple[Holiday, ...]:
    import holidays as holidays_package  # imported here: it is slow to import

    out: list[Holiday] = []
    for category in HOLIDAY_CATEGORIES:
        local = holidays_package.country_holidays(
            HOLIDAY_COUNTRY, years=wanted, categories=(category,), language=language
        )
        english = holidays_package.country_holidays(
            HOLIDAY_COUNTRY, years=wanted, categories=(category,), language="en_US"
        )
        for day in sorted(local):
            names, en_names = local.get_list(day), english.get_list(day)
            if len(en_names) != len(names):
                en_names = [""] * len(names)
            for name, en in zip(names, en_names, strict=True):
                plain = en.removesuffix(" (estimated)")
                out.append(
                    Holiday(
                        day,
                        name,
                        en,
                        joint=category == "government",
                        day_of_silence=plain == DAY_OF_SILENCE,
                    )
                )
    out.sort(key=lambda h: (h.date, h.joint, h.name))
    return tuple(out)


def _field(entry: Any, name: str, default: Any = None) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(name, default)
    return getattr(entry, name, default)


def holiday_blackouts(
    years: Iterable[int],
    entries: Iterable[Any] = (),
    *,
    language: str = "id",
    nyepi_regions: Sequence[str] = NYEPI_REGIONS,
) -> list[Blackout]:
    """Package holidays with the workspace's additions and removals, and Nyepi.

    ``entries`` are ``HolidayEntry`` models or mappings with ``date``, ``name``,
    ``remove``, ``scope`` and ``day_of_silence``. A removal with a name removes only
    the package entry of that name on that date (local or English name, any case);
    without one it removes every package entry on that date.
    """
    wanted = set(years)
    package = national_holidays(wanted, language)
    entries = list(entries)
    for e in entries:
        if not _field(e, "remove", False):
            continue
        day, name = _field(e, "date"), _field(e, "name")
        lowered = name.casefold() if name else None
        package = [
            h
            for h in package
            if not (
                h.date == day
                and (lowered is None or lowered in (h.name.casefold(), h.english.casefold()))
            )
        ]
    out: list[Blackout] = []
    silence: list[tuple[dt.date, str]] = []
    for h in package:
        kind = BlackoutKind.JOINT_HOLIDAY if h.joint else BlackoutKind.HOLIDAY
        what = "cuti bersama" if h.joint else "national holiday"
        out.append(
            Blackout(
                f"{kind.value}-{h.date.isoformat()}-{len(out)}",
                h.name,
                kind,
                local_day=h.date,
                reason=f"{what} (holidays package)",
            )
        )
        if h.day_of_silence:
            silence.append((h.date, h.name))
    for e in entries:
        day = _field(e, "date")
        if _field(e, "remove", False) or day is None or day.year not in wanted:
            continue
        name = _field(e, "name") or "holiday"
        out.append(
            Blackout(
                f"holiday-{day.isoformat()}-{len(out)}",
                name,
                BlackoutKind.HOLIDAY,
                local_day=day,
                scope=Scope.of(_field(e, "scope")),
                reason="workspace holiday",
            )
        )
        if _field(e, "day_of_silence", False):
            silence.append((day, name))
    if nyepi_regions:
        scope = Scope(regions=frozenset(nyepi_regions))
        for day, name in sorted(set(silence)):
            out.append(
                Blackout(
                    f"nyepi-{day.isoformat()}",
                    name,
                    BlackoutKind.NYEPI,
                    local_day=day,
                    local_from=NYEPI_FROM,
                    local_until=NYEPI_UNTIL,
                    scope=scope,
                    reason="Nyepi: no posts 06:00-06:00 local",
                )
            )
    return out


def quiet_blackouts(periods: Iterable[Any]) -> list[Blackout]:
    """Election quiet periods (masa tenang): ``key, name, starts, ends, campaigns, scope``."""
    return [
        Blackout.absolute(
            _field(p, "key"),
            _field(p, "name"),
            _field(p, "starts"),
            _field(p, "ends"),
            kind=BlackoutKind.QUIET,
            scope=_field(p, "scope"),
            campaigns=_field(p, "campaigns"),
            reason=_field(p, "reason") or "election quiet period (masa tenang)",
        )
        for p in periods
    ]


def span_blackouts(
    entries: Iterable[Any], kind: BlackoutKind | str | None = None
) -> list[Blackout]:
    """Blackouts from/to: ``BlackoutSpec`` entries or database rows (``key, name,
    starts``/``starts_at``, ``ends``/``ends_at``, ``scope, campaigns, reason``, ``kind``).

    ``kind`` forces the kind; without it an entry's own ``kind`` is used (else custom).
    """
    out = []
    for e in entries:
        starts = _field(e, "starts") or _field(e, "starts_at")
        ends = _field(e, "ends") or _field(e, "ends_at")
        out.append(
            Blackout.absolute(
                _field(e, "key"),
                _field(e, "name"),
                starts,
                ends,
                kind=kind or _field(e, "kind") or BlackoutKind.CUSTOM,
                scope=_field(e, "scope"),
                campaigns=_field(e, "campaigns"),
                reason=_field(e, "reason"),
            )
        )
    return out


def build_blackouts(
    years: Iterable[int],
    *,
    holidays: Iterable[Any] = (),
    quiet_periods: Iterable[Any] = (),
    blackouts: Iterable[Any] = (),
    embargoes: Iterable[Any] = (),
    language: str = "id",
    nyepi_regions: Sequence[str] = NYEPI_REGIONS,
) -> list[Blackout]:
    """Every blackout for a planning run, in a stable order."""
    out = holiday_blackouts(years, holidays, language=language, nyepi_regions=nyepi_regions)
    out += quiet_blackouts(quiet_periods)
    out += span_blackouts(blackouts, BlackoutKind.CUSTOM)
    out += span_blackouts(embargoes, BlackoutKind.EMBARGO)
    return out


def years_between(start: dt.datetime, end: dt.datetime) -> list[int]:
    """The calendar years a planning range touches (one either side, for zone offsets)."""
    return list(range(start.year - 1, end.year + 2))
