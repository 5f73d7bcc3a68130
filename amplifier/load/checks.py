"""Rules that span entries or files: unique codes and handles, a sound tree, known references."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydantic

from amplifier.errors import Problem
from amplifier.load.schema import AdminSpec, CalendarFile, OrgFile, Targets, UnitSpec
from amplifier.load.source import Document, Loc, suggest


def partial_org(doc: Document) -> tuple[OrgFile, list[int], list[int]]:
    """The entries of an invalid org.yaml that are valid on their own, with their indexes.

    Lets cross-entry rules run (and report) even when some entries have errors.
    """
    data = doc.data if isinstance(doc.data, dict) else {}
    units: list[UnitSpec] = []
    admins: list[AdminSpec] = []
    unit_at: list[int] = []
    admin_at: list[int] = []
    for i, item in enumerate(_items(data, "units")):
        try:
            units.append(UnitSpec.model_validate(item))
            unit_at.append(i)
        except pydantic.ValidationError:
            continue
    for i, item in enumerate(_items(data, "admins")):
        try:
            admins.append(AdminSpec.model_validate(item))
            admin_at.append(i)
        except pydantic.ValidationError:
            continue
    org = OrgFile.model_construct(institution=None, units=units, admins=admins)
    return org, unit_at, admin_at


def _items(data: dict[str, Any], key: str) -> list[Any]:
    items = data.get(key)
    return items if isinstance(items, list) else []


def raw_unit_codes(doc: Document) -> set[str]:
    units = _items(doc.data, "units") if isinstance(doc.data, dict) else []
    return {u["code"] for u in units if isinstance(u, dict) and isinstance(u.get("code"), str)}


def check_org(
    org: OrgFile,
    doc: Document,
    unit_at: list[int] | None = None,
    admin_at: list[int] | None = None,
) -> list[Problem]:
    """Cross-entry rules; ``unit_at``/``admin_at`` map entries back to their file indexes."""
    problems: list[Problem] = []
    ui = unit_at or list(range(len(org.units)))
    ai = admin_at or list(range(len(org.admins)))
    codes: dict[str, int] = {}
    for i, unit in enumerate(org.units):
        folded = unit.code.casefold()
        if folded in codes:
            first = doc.where(("units", ui[codes[folded]], "code"))[0]
            problems.append(
                doc.problem(
                    ("units", ui[i], "code"),
                    f"duplicate unit code '{unit.code}' (first defined on line {first})",
                )
            )
        else:
            codes[folded] = i
    known = raw_unit_codes(doc)
    for i, unit in enumerate(org.units):
        if unit.parent is not None and unit.parent not in known:
            problems.append(
                doc.problem(
                    ("units", ui[i], "parent"),
                    f"unknown parent unit '{unit.parent}'{suggest(unit.parent, known)}",
                )
            )
    problems += _cycles(org, doc, ui)
    problems += _handles(org, doc, ui)
    problems += _admins(org, doc, known, ai)
    return problems


def _cycles(org: OrgFile, doc: Document, ui: list[int]) -> list[Problem]:
    parent = {u.code: u.parent for u in org.units}
    index = {u.code: ui[i] for i, u in enumerate(org.units)}
    reported: set[str] = set()
    problems = []
    for start in parent:
        seen: list[str] = []
        code: str | None = start
        while code is not None and code in parent and code not in seen:
            seen.append(code)
            code = parent[code]
        if code is not None and code in seen:
            ring = seen[seen.index(code) :]
            if not reported.intersection(ring):
                reported.update(ring)
                first = min(ring, key=lambda c: index[c])
                path = " → ".join([*ring[ring.index(first) :], *ring[: ring.index(first)], first])
                problems.append(
                    doc.problem(
                        ("units", index[first], "parent"), f"cycle in the unit tree: {path}"
                    )
                )
    return problems


def _handles(org: OrgFile, doc: Document, ui: list[int]) -> list[Problem]:
    problems = []
    seen: dict[str, tuple[int, int]] = {}
    for i, unit in enumerate(org.units):
        for j, account in enumerate(unit.accounts):
            if account.key in seen:
                first, _ = seen[account.key]
                other = org.units[first].code
                problems.append(
                    doc.problem(
                        ("units", ui[i], "accounts", j, "handle"),
                        f"duplicate handle '{account.handle}' on {account.platform.value} "
                        f"(already used by unit {other})",
                    )
                )
            else:
                seen[account.key] = (i, j)
    return problems


def _admins(org: OrgFile, doc: Document, units: set[str], ai: list[int]) -> list[Problem]:
    problems = []
    accounts = {a.key for u in org.units for a in u.accounts}
    ids: set[str] = set()
    for i, admin in enumerate(org.admins):
        if admin.id in ids:
            problems.append(
                doc.problem(("admins", ai[i], "id"), f"duplicate admin id '{admin.id}'")
            )
        ids.add(admin.id)
        for j, code in enumerate(admin.units):
            if code not in units:
                problems.append(
                    doc.problem(
                        ("admins", ai[i], "units", j),
                        f"unknown unit '{code}'{suggest(code, units)}",
                    )
                )
        for j, ref in enumerate(admin.accounts):
            if ref not in accounts:
                problems.append(
                    doc.problem(
                        ("admins", ai[i], "accounts", j),
                        f"unknown account '{ref}'{suggest(ref, accounts)}",
                    )
                )
        if not admin.units and not admin.accounts:
            problems.append(
                doc.problem(("admins", ai[i]), "an admin must manage at least one unit or account")
            )
    return problems


def check_targets(
    targets: Targets, loc: Loc, doc: Document, org: OrgFile, codes: set[str]
) -> list[Problem]:
    problems = []
    regions = {u.region for u in org.units if u.region}
    tags = {t for u in org.units for t in u.tags}
    lists: Iterable[tuple[str, list[str], set[str], str]] = (
        ("units", targets.units, codes, "unit"),
        ("subtrees", targets.subtrees, codes, "unit"),
        ("exclude", targets.exclude, codes, "unit"),
        ("regions", targets.regions, regions, "region"),
        ("tags", targets.tags, tags, "tag"),
    )
    for key, values, known, what in lists:
        for j, value in enumerate(values):
            if value not in known:
                problems.append(
                    doc.problem((*loc, key, j), f"unknown {what} '{value}'{suggest(value, known)}")
                )
    return problems


def check_calendars(
    files: list[tuple[CalendarFile, Document]], org: OrgFile | None, codes: set[str]
) -> list[Problem]:
    """Cross-file rules for calendars; ``codes`` are every unit code written in org.yaml."""
    problems: list[Problem] = []
    slugs: dict[str, str] = {}
    blackouts: dict[str, str] = {}
    for cal, doc in files:
        for i, campaign in enumerate(cal.campaigns):
            here = f"{doc.file}:{doc.where(('campaigns', i, 'slug'))[0]}"
            if campaign.slug in slugs:
                problems.append(
                    doc.problem(
                        ("campaigns", i, "slug"),
                        f"duplicate campaign slug '{campaign.slug}' "
                        f"(first at {slugs[campaign.slug]})",
                    )
                )
            else:
                slugs[campaign.slug] = here
            if org is not None:
                problems += check_targets(
                    campaign.targets, ("campaigns", i, "targets"), doc, org, codes
                )
            keys: set[str] = set()
            for j, post in enumerate(campaign.posts):
                loc = ("campaigns", i, "posts", j)
                if post.key in keys:
                    problems.append(
                        doc.problem((*loc, "key"), f"duplicate post key '{post.key}' in campaign")
                    )
                keys.add(post.key)
                day = post.at.date()
                if not campaign.period.start <= day <= campaign.period.end:
                    problems.append(
                        doc.problem(
                            (*loc, "at"),
                            f"post date {day} is outside the campaign period "
                            f"{campaign.period.start} to {campaign.period.end}",
                        )
                    )
                if post.targets is not None and org is not None:
                    problems += check_targets(post.targets, (*loc, "targets"), doc, org, codes)
        for i, blackout in enumerate(cal.blackouts):
            if blackout.key in blackouts:
                problems.append(
                    doc.problem(
                        ("blackouts", i, "key"),
                        f"duplicate blackout key '{blackout.key}' "
                        f"(first at {blackouts[blackout.key]})",
                    )
                )
            else:
                blackouts[blackout.key] = f"{doc.file}:{doc.where(('blackouts', i, 'key'))[0]}"
            if org is not None:
                problems += check_targets(
                    blackout.scope, ("blackouts", i, "scope"), doc, org, codes
                )
    return problems
