"""Targeting: which unit accounts receive a central post, and why.

    directory = Directory.from_rows(units, accounts)
    for target in select_targets(directory, campaign_targets, post_targets):
        print(target.unit.code, target.account.platform, "; ".join(target.reasons))

Semantics (see ``amplifier.load.schema.Targets``): attribute selectors narrow each other,
values inside one widen it, listed ``units`` are added, ``exclude`` removes subtrees, and a
post's targets narrow its campaign's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa

from amplifier.models import ACCOUNTS, UNITS, Account, WorkUnit
from amplifier.vocab import AccountMode, Platform, UnitKind


class UnitRecord(NamedTuple):
    """A ``work_unit`` row read through Core (``read_directory``): the same values as a
    ``WorkUnit``, without the cost of an ORM object and its instrumented attributes."""

    id: int
    code: str
    name: str
    kind: UnitKind
    parent_id: int | None
    region: str | None
    city: str | None
    timezone: str
    languages: list[str]
    tags: list[str]
    active: bool


class AccountRecord(NamedTuple):
    """An ``account`` row read through Core (``read_directory``), as ``UnitRecord``."""

    id: int
    unit_id: int
    platform: Platform
    handle: str
    handle_key: str
    url: str | None
    profile_photo: str | None
    mode: AccountMode
    active: bool


UnitRow = WorkUnit | UnitRecord
AccountRow = Account | AccountRecord


class Target(NamedTuple):
    """One account a post goes to, and why (a plan makes one per variant)."""

    unit: UnitRow
    account: AccountRow
    reasons: tuple[str, ...]


@dataclass
class Directory:
    """Active units and accounts, indexed for targeting and for walking up the tree."""

    units: dict[int, UnitRow]
    by_code: dict[str, UnitRow]
    children: dict[int, list[int]]
    accounts: dict[int, list[AccountRow]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, units: Iterable[UnitRow], accounts: Iterable[AccountRow]) -> Directory:
        active = {u.id: u for u in units if u.active and u.id is not None}
        children: dict[int, list[int]] = {}
        for u in active.values():
            if u.parent_id is not None:
                children.setdefault(u.parent_id, []).append(u.id)  # type: ignore[arg-type]
        by_unit: dict[int, list[AccountRow]] = {}
        for a in sorted(accounts, key=lambda a: (a.unit_id, a.platform, a.handle_key)):
            if a.active and a.unit_id in active:
                by_unit.setdefault(a.unit_id, []).append(a)
        return cls(active, {u.code: u for u in active.values()}, children, by_unit)

    def subtree(self, code: str) -> set[int]:
        root = self.by_code.get(code)
        if root is None or root.id is None:
            return set()
        out, stack = set(), [root.id]
        while stack:
            uid = stack.pop()
            out.add(uid)
            stack.extend(self.children.get(uid, ()))
        return out

    def ancestors(self, unit: UnitRow) -> list[UnitRow]:
        """Parent, grandparent, … up to the root (inactive parents are skipped over)."""
        out: list[UnitRow] = []
        seen = {unit.id}
        parent_id = unit.parent_id
        while parent_id is not None and parent_id not in seen:
            seen.add(parent_id)
            parent = self.units.get(parent_id)
            if parent is None:
                break
            out.append(parent)
            parent_id = parent.parent_id
        return out


def read_directory(conn: sa.Connection) -> Directory:
    """The directory of the database's units and accounts, read as records (Core rows,
    the same values as the ORM objects): what a plan reads of them, at a fraction of
    the cost of loading 25,000 ORM objects."""
    units = sa.select(*(UNITS.c[name] for name in UnitRecord._fields))
    accounts = sa.select(*(ACCOUNTS.c[name] for name in AccountRecord._fields))
    return Directory.from_rows(
        [UnitRecord(*row) for row in conn.execute(units)],
        [AccountRecord(*row) for row in conn.execute(accounts)],
    )


def select_units(directory: Directory, targets: Mapping[str, Any] | None) -> dict[int, list[str]]:
    """Unit ids selected by one Targets mapping, each with the reasons it matched."""
    t = dict(targets or {})
    chosen: dict[int, list[str]] = {}
    attribute_keys = ("kinds", "regions", "timezones", "tags", "subtrees")
    if any(t.get(k) for k in attribute_keys) or not t.get("units"):
        subtrees = {c: directory.subtree(c) for c in t.get("subtrees", [])}
        for uid, unit in directory.units.items():
            reasons = _attribute_reasons(unit, uid, t, subtrees)
            if reasons is not None:
                chosen[uid] = reasons or ["every active unit"]
    for code in t.get("units", []):
        listed = directory.by_code.get(code)
        if listed is not None and listed.id is not None:
            chosen.setdefault(listed.id, []).append(f"listed as {code}")
    for code in t.get("exclude", []):
        for uid in directory.subtree(code):
            chosen.pop(uid, None)
    return chosen


def _attribute_reasons(
    unit: UnitRow, uid: int, t: Mapping[str, Any], subtrees: Mapping[str, set[int]]
) -> list[str] | None:
    reasons: list[str] = []
    if t.get("kinds"):
        if unit.kind not in t["kinds"]:
            return None
        reasons.append(f"kind {unit.kind}")
    if t.get("regions"):
        if unit.region not in t["regions"]:
            return None
        reasons.append(f"region {unit.region}")
    if t.get("timezones"):
        if unit.timezone not in t["timezones"]:
            return None
        reasons.append(f"timezone {unit.timezone}")
    if t.get("tags"):
        matched = [tag for tag in unit.tags if tag in t["tags"]]
        if not matched:
            return None
        reasons.append("tag " + ", ".join(matched))
    if t.get("subtrees"):
        roots = [code for code, ids in subtrees.items() if uid in ids]
        if not roots:
            return None
        reasons.append("in subtree of " + ", ".join(roots))
    return reasons


def select_targets(
    directory: Directory,
    campaign_targets: Mapping[str, Any] | None,
    post_targets: Mapping[str, Any] | None = None,
) -> list[Target]:
    """Accounts that receive a post, in unit-code then platform order."""
    units = select_units(directory, campaign_targets)
    platforms: Sequence[str] = list((campaign_targets or {}).get("platforms", []))
    if post_targets is not None:
        narrowed = select_units(directory, post_targets)
        units = {
            uid: units[uid] + ["post: " + r for r in narrowed[uid]]
            for uid in units
            if uid in narrowed
        }
        post_platforms = list(post_targets.get("platforms", []))
        if post_platforms:
            platforms = [p for p in post_platforms if not platforms or p in platforms]
            if not platforms:
                return []  # the post asks only for platforms its campaign does not use
    out = []
    for uid in sorted(units, key=lambda i: directory.units[i].code):
        for account in directory.accounts.get(uid, []):
            if platforms and account.platform not in platforms:
                continue
            reasons = tuple(units[uid]) + ((f"platform {account.platform}",) if platforms else ())
            out.append(Target(directory.units[uid], account, reasons))
    return out
