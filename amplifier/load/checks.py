"""Rules that span entries or files: unique codes and handles, a sound tree, known references."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydantic

from amplifier import publishers
from amplifier.errors import Problem
from amplifier.load.schema import AdminSpec, CalendarFile, OrgFile, Settings, Targets, UnitSpec
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
    seen: dict[str, dict[str, str]] = {
        "campaign slug": {},
        "blackout key": {},
        "quiet period key": {},
    }

    def first(what: str, value: str, loc: Loc, doc: Document) -> None:
        """Record where ``value`` is first written, or a problem naming that place."""
        if value in seen[what]:
            problems.append(
                doc.problem(loc, f"duplicate {what} '{value}' (first at {seen[what][value]})")
            )
        else:
            seen[what][value] = f"{doc.file}:{doc.where(loc)[0]}"

    def targets(spec: Targets, loc: Loc, doc: Document) -> None:
        if org is not None:
            problems.extend(check_targets(spec, loc, doc, org, codes))

    for cal, doc in files:
        for i, campaign in enumerate(cal.campaigns):
            first("campaign slug", campaign.slug, ("campaigns", i, "slug"), doc)
            targets(campaign.targets, ("campaigns", i, "targets"), doc)
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
                if post.targets is not None:
                    targets(post.targets, (*loc, "targets"), doc)
        for i, blackout in enumerate(cal.blackouts):
            first("blackout key", blackout.key, ("blackouts", i, "key"), doc)
            targets(blackout.scope, ("blackouts", i, "scope"), doc)
        for i, holiday in enumerate(cal.holidays):
            targets(holiday.scope, ("holidays", i, "scope"), doc)
        for i, quiet in enumerate(cal.quiet_periods):
            first("quiet period key", quiet.key, ("quiet_periods", i, "key"), doc)
            targets(quiet.scope, ("quiet_periods", i, "scope"), doc)
    slugs = seen["campaign slug"]  # every file's campaigns, for the references below
    for cal, doc in files:
        for i, quiet in enumerate(cal.quiet_periods):
            problems += _known_campaigns(quiet.campaigns, ("quiet_periods", i), doc, slugs)
        for i, blackout in enumerate(cal.blackouts):
            problems += _known_campaigns(blackout.campaigns, ("blackouts", i), doc, slugs)
    return problems


def _known_campaigns(
    names: list[str], loc: Loc, doc: Document, slugs: Iterable[str]
) -> list[Problem]:
    return [
        doc.problem((*loc, "campaigns", j), f"unknown campaign '{slug}'{suggest(slug, slugs)}")
        for j, slug in enumerate(names)
        if slug not in slugs
    ]


def check_publishing(settings: Settings, doc: Document) -> list[Problem]:
    """Publisher names and option keys in ``[publishing]``, caught before any daemon starts.

    Option values (a URL, a secret's variable) are checked when the publisher is built,
    because secrets come from the environment of the process that publishes.
    """
    problems: list[Problem] = []
    pub = settings.publishing
    named: list[tuple[Loc, str, bool]] = [
        (("publishing", "manual"), pub.manual, False),
        (("publishing", "api"), pub.api, False),
    ]
    named += [(("publishing", "publishers", name), name, True) for name in pub.publishers]
    known_names = publishers.names()
    for loc, name, key in named:
        if name not in known_names:
            problems.append(
                doc.problem(
                    loc,
                    f"unknown publisher '{name}'{suggest(name, known_names)}; "
                    f"known: {', '.join(known_names)}",
                    key=key,
                )
            )
            continue
        try:
            cls = publishers.publisher_class(name)
        except publishers.PublisherConfigError as exc:  # a plugin that cannot be imported
            problems.append(doc.problem(loc, str(exc), key=key))
            continue
        known = cls.options_doc
        if not key or known is None:
            continue
        for option in pub.publishers[name]:
            if option not in known:
                problems.append(
                    doc.problem(
                        (*loc, option),
                        f"publisher '{name}' has no option '{option}'"
                        f"{suggest(option, known)}; known: {', '.join(sorted(known)) or 'none'}",
                        key=True,
                    )
                )
    return problems


def check_settings_references(settings: Settings, doc: Document, codes: set[str]) -> list[Problem]:
    """Unit codes named in amplifier.toml exist in org.yaml."""
    problems = []
    for code in settings.timing.posting_hours_by_unit:
        if code not in codes:
            problems.append(
                doc.problem(
                    ("timing", "posting_hours_by_unit", code),
                    f"unknown unit '{code}'{suggest(code, codes)}",
                    key=True,
                )
            )
    return problems
