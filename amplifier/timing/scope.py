"""Which units a blackout, a holiday or posting hours apply to.

    unit = UnitInfo("KANWIL-BALI", "Asia/Makassar", kind="regional", region="Bali",
                    ancestors=("PUSAT",))
    Scope.of({"regions": ["Bali"]}).matches(unit)      # True

A ``Scope`` reads the keys of ``amplifier.load.schema.Targets`` (a model or its
``model_dump()``) with the same meaning: attribute selectors (kinds, regions, timezones,
tags, subtrees) narrow each other, values inside one widen it, listed ``units`` are added,
``exclude`` removes units with their subtrees, and an empty scope is every unit.
``platforms`` (empty: all) limits it to accounts on those platforms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from amplifier.timing.clock import DEFAULT_HOURS, Hours

_KEYS = ("kinds", "regions", "timezones", "tags", "units", "subtrees", "exclude", "platforms")


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """What timing needs to know about a work unit.

    ``ancestors`` are the codes of its parent, grandparent, … (for subtree scopes);
    ``hours`` its local posting hours (see ``TimingSettings.hours_for``).
    """

    code: str
    zone: str
    kind: str = ""
    region: str | None = None
    ancestors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    hours: Hours = DEFAULT_HOURS


def _strings(values: Iterable[Any] | None) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str):
        return frozenset({values})
    return frozenset(str(v) for v in values)


@dataclass(frozen=True, slots=True)
class Scope:
    kinds: frozenset[str] = field(default_factory=frozenset)
    regions: frozenset[str] = field(default_factory=frozenset)
    timezones: frozenset[str] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)
    units: frozenset[str] = field(default_factory=frozenset)
    subtrees: frozenset[str] = field(default_factory=frozenset)
    exclude: frozenset[str] = field(default_factory=frozenset)
    platforms: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, value: Scope | Mapping[str, Any] | Any | None) -> Scope:
        """From a ``Scope``, a mapping shaped like ``Targets.model_dump()``, a pydantic
        model with those fields, or ``None`` (every unit). Unknown keys raise ``ValueError``.
        """
        if value is None:
            return EVERYWHERE
        if isinstance(value, Scope):
            return value
        data: Mapping[str, Any]
        if isinstance(value, Mapping):
            data = value
        else:
            dump = getattr(value, "model_dump", None)
            if dump is None:
                raise ValueError(f"a scope is a mapping of {', '.join(_KEYS)}; got {value!r}")
            data = dump()
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ValueError(f"unknown scope key(s) {', '.join(unknown)}; use {', '.join(_KEYS)}")
        scope = cls(**{k: _strings(data.get(k)) for k in _KEYS})
        return EVERYWHERE if scope == EVERYWHERE else scope

    @property
    def everywhere(self) -> bool:
        """Every unit and every platform."""
        return self is EVERYWHERE or self == EVERYWHERE

    @property
    def all_units(self) -> bool:
        return not (
            self.kinds
            or self.regions
            or self.timezones
            or self.tags
            or self.units
            or self.subtrees
            or self.exclude
        )

    def matches(self, unit: UnitInfo, platform: str | None = None) -> bool:
        """Whether the unit (and, when given, an account on ``platform``) is in scope."""
        if platform is not None and self.platforms and platform not in self.platforms:
            return False
        if self.exclude and (
            unit.code in self.exclude or not self.exclude.isdisjoint(unit.ancestors)
        ):
            return False
        attributes = self.kinds or self.regions or self.timezones or self.tags or self.subtrees
        if unit.code in self.units:
            return True
        if self.units and not attributes:
            return False
        return (
            (not self.kinds or unit.kind in self.kinds)
            and (not self.regions or unit.region in self.regions)
            and (not self.timezones or unit.zone in self.timezones)
            and (not self.tags or not self.tags.isdisjoint(unit.tags))
            and (
                not self.subtrees
                or unit.code in self.subtrees
                or not self.subtrees.isdisjoint(unit.ancestors)
            )
        )

    def __str__(self) -> str:
        if self.everywhere:
            return "all units"
        parts = [f"{k} {', '.join(sorted(getattr(self, k)))}" for k in _KEYS if getattr(self, k)]
        return "; ".join(parts)


EVERYWHERE = Scope()
