"""Naming policy (pedoman penamaan akun): every handle follows the institution's pattern.

Three checks, each a list of findings:

- **syntax** (``block``): the platform itself would refuse the handle, e.g. an X handle over 15
  characters. The rules per platform are data, in ``HANDLE_SYNTAX``.
- **pattern** (``review``): the handle differs from the one the pattern builds for its unit.
  A pattern is written per platform from placeholders; ``{token}`` is the unit's short name
  and is itself built per unit kind (``[policy.naming.tokens]``, default: ``{region}`` for a
  regional office, ``{city}`` for a service or overseas office, ``{code}`` for the centre and
  echelon-I units). Values are lower-cased, stripped of diacritics and of everything but
  letters and digits, after ``[policy.naming.abbreviations]`` is applied to city and region
  ("Jawa Tengah" -> "jateng"). An empty placeholder takes one separator next to it along, so
  ``{prefix}.{kind}.{token}`` with no kind gives ``kptd.setjen``. Handles compare without case.
- **consistency** (``review``): handles are compared with each other. Most handles lower case
  but one not (``policy.naming.mixed_case``, on every platform). On platforms without a
  pattern: one separator used where most handles use another
  (``policy.naming.mixed_separators``), and one prefix, kind abbreviation or unit short name
  used where the majority uses another (``policy.naming.mixed_abbreviations``). Here a handle
  reads as prefix, middle and short name, split on ``.``, ``_`` and ``-``; a kind or token a
  unit declares under ``[policy.naming.units]`` is taken as meant. Where a platform has a
  pattern, the pattern decides and names the exact handle, so these two stay quiet.

Usage::

    >>> from amplifier.policy.config import NamingSettings
    >>> settings = NamingSettings(prefix="kptd", patterns={"x": "{prefix}_{token}"},
    ...                           abbreviations={"Jawa Tengah": "jateng"})
    >>> from amplifier.load.schema import UnitSpec
    >>> unit = UnitSpec(code="KANWIL-JATENG", name="Kanwil Jawa Tengah", kind="regional",
    ...                 region="Jawa Tengah", city="Semarang", timezone="Asia/Jakarta")
    >>> expected_handle(unit, "x", settings)
    'kptd_jateng'
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from amplifier.findings import Finding
from amplifier.load import LoadedWorkspace
from amplifier.load.schema import AccountSpec, UnitSpec
from amplifier.policy.config import NamingSettings
from amplifier.vocab import Platform

__all__ = [
    "HANDLE_SYNTAX",
    "HandleSyntax",
    "check_naming",
    "check_syntax",
    "expected_handle",
    "normalize",
]

CATEGORY = "naming"
SEPARATORS = "._-"


@dataclass(frozen=True, slots=True)
class HandleSyntax:
    """What a platform accepts as a handle (username)."""

    name: str  # how messages name the platform
    min_length: int
    max_length: int
    chars: str  # a regex character class body
    chars_text: str  # the same, for people
    no_leading: str = ""  # characters a handle may not start with
    no_trailing: str = ""  # … end with
    no_double: str = ""  # … repeat side by side


HANDLE_SYNTAX: dict[Platform, HandleSyntax] = {
    Platform.X: HandleSyntax("X", 1, 15, "A-Za-z0-9_", "letters, digits and '_'"),
    Platform.INSTAGRAM: HandleSyntax(
        "Instagram", 1, 30, "A-Za-z0-9._", "letters, digits, '.' and '_'", ".", ".", "."
    ),
    Platform.THREADS: HandleSyntax(
        "Threads", 1, 30, "A-Za-z0-9._", "letters, digits, '.' and '_'", ".", ".", "."
    ),
    Platform.TIKTOK: HandleSyntax(
        "TikTok", 2, 24, "A-Za-z0-9._", "letters, digits, '_' and '.'", no_trailing="."
    ),
    Platform.YOUTUBE: HandleSyntax("YouTube", 3, 30, r"\w.\-", "letters, digits, '_', '-' and '.'"),
    Platform.FACEBOOK: HandleSyntax("Facebook", 5, 50, "A-Za-z0-9.", "letters, digits and '.'"),
}


@functools.cache
def _bad_chars(chars: str) -> re.Pattern[str]:
    return re.compile(f"[^{chars}]")


def check_syntax(handle: str, platform: Platform | str) -> list[str]:
    """What is wrong with ``handle`` on ``platform``, for people; empty when it is valid."""
    rules = HANDLE_SYNTAX[Platform(platform)]
    problems: list[str] = []
    if not rules.min_length <= len(handle) <= rules.max_length:
        problems.append(
            f"{len(handle)} characters; {rules.name} allows "
            f"{rules.min_length} to {rules.max_length}"
            if rules.min_length > 1
            else f"{len(handle)} characters; {rules.name} allows at most {rules.max_length}"
        )
    bad = sorted(set(_bad_chars(rules.chars).findall(handle)))
    if bad:
        shown = ", ".join(f"'{c}'" for c in bad)
        problems.append(f"has {shown}; {rules.name} allows only {rules.chars_text}")
    if handle and handle[0] in rules.no_leading:
        problems.append(f"starts with '{handle[0]}'")
    if handle and handle[-1] in rules.no_trailing:
        problems.append(f"ends with '{handle[-1]}'")
    for char in rules.no_double:
        if char * 2 in handle:
            problems.append(f"has '{char * 2}'")
    return problems


# --- building the expected handle ---------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _abbreviator(pairs: tuple[tuple[str, str], ...]) -> re.Pattern[str] | None:
    if not pairs:
        return None
    words = sorted((w for w, _ in pairs), key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _fold(text: str) -> str:
    """Lower case, no diacritics, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize(value: str, abbreviations: Mapping[str, str] | None = None) -> str:
    """``value`` as it goes into a handle: abbreviated, lower case, letters and digits only.

    >>> normalize("Jawa Tengah", {"Jawa Tengah": "jateng"})
    'jateng'
    >>> normalize("Den Haag"), normalize("DITJEN-LP"), normalize("Bélanda")
    ('denhaag', 'ditjenlp', 'belanda')
    """
    folded = _fold(value)
    if abbreviations:
        table = {_fold(k): v.lower() for k, v in abbreviations.items()}
        matcher = _abbreviator(tuple(sorted(table.items())))
        if matcher is not None:
            folded = matcher.sub(lambda m: table[" ".join(m.group(0).split())], folded)
    return _NOT_ALNUM.sub("", folded)


@functools.lru_cache(maxsize=256)
def _pieces(pattern: str) -> tuple[tuple[str, str | None], ...]:
    return tuple((literal, name) for literal, name, _, _ in string.Formatter().parse(pattern))


def _render(pattern: str, values: Mapping[str, str]) -> str:
    """Fill ``pattern``; an empty placeholder drops one separator beside it."""
    parts: list[str] = []
    for literal, name in _pieces(pattern):
        parts.append(literal)
        if name is not None:
            parts.append(values[name])
            if not values[name]:
                parts.append("\0")  # marks where an empty value stood
    out = "".join(parts)
    while "\0" in out:
        at = out.index("\0")
        after, before = out[at + 1 : at + 2], out[at - 1 : at] if at else ""
        if after and after in SEPARATORS:
            out = out[:at] + out[at + 2 :]
        elif before and before in SEPARATORS:
            out = out[: at - 1] + out[at + 1 :]
        else:
            out = out[:at] + out[at + 1 :]
    return out


class MissingValue(ValueError):
    """The unit lacks an attribute its pattern needs (no city, no region)."""


def _values(
    unit: UnitSpec, settings: NamingSettings, prefix: str, need_token: bool
) -> dict[str, str]:
    own = settings.units.get(unit.code)
    abbreviations = settings.abbreviations
    raw = {
        "city": own.city if own and own.city else unit.city,
        "region": own.region if own and own.region else unit.region,
    }
    values: dict[str, str] = {"prefix": prefix.lower(), "code": normalize(unit.code)}
    for key, value in raw.items():
        values[key] = normalize(value, abbreviations) if value else ""
    kind = own.kind if own and own.kind is not None else settings.kinds.get(unit.kind, "")
    values["kind"] = kind.lower()
    if own and own.token:
        values["token"] = own.token.lower()
    elif need_token:
        token_pattern = settings.tokens[unit.kind]
        for _, name in _pieces(token_pattern):
            if name is not None and not values[name]:
                raise MissingValue(f"unit {unit.code} has no {name}")
        values["token"] = _render(token_pattern, values)
    return values


def expected_handle(
    unit: UnitSpec, platform: Platform | str, settings: NamingSettings, prefix: str | None = None
) -> str | None:
    """The handle the pattern gives ``unit`` on ``platform``; ``None`` when there is no
    pattern for that platform. Raises ``MissingValue`` when the unit lacks a needed value."""
    pattern = settings.patterns.get(Platform(platform))
    if pattern is None:
        return None
    names = {name for _, name in _pieces(pattern) if name is not None}
    values = _values(unit, settings, settings.prefix or prefix or "", "token" in names)
    for name in ("city", "region"):
        if name in names and not values[name]:
            raise MissingValue(f"unit {unit.code} has no {name}")
    return _render(pattern, values)


# --- the checks ---------------------------------------------------------------------------


def _source(ws: LoadedWorkspace, account: AccountSpec) -> str | None:
    where = ws.source_of("account", account.key)
    return str(where) if where else None


def _majority(counts: Counter[str], at_least: int = 2) -> tuple[str, int] | None:
    """The form that more than half use, and at least ``at_least``; else ``None``."""
    if not counts:
        return None
    form, count = counts.most_common(1)[0]
    total = sum(counts.values())
    return (form, count) if count >= at_least and count * 2 > total else None


def _segments(handle: str) -> list[str]:
    return [s for s in re.split(r"[._\-]+", handle.lower()) if s]


def check_naming(ws: LoadedWorkspace, settings: NamingSettings) -> list[Finding]:
    """Syntax, pattern and consistency findings for every account handle of ``ws``."""
    findings: list[Finding] = []
    prefix = settings.prefix or ws.org.institution.code
    accounts = [(unit, account) for unit in ws.org.units for account in unit.accounts]
    patterned = set(settings.patterns)
    reported: set[str] = set()  # account keys with a pattern or syntax finding

    known = {unit.code for unit in ws.org.units}
    for code in settings.units:
        if code not in known:
            findings.append(
                Finding(
                    rule="policy.naming.unknown_unit",
                    severity="review",
                    message=f"[policy.naming.units] names unit '{code}', which org.yaml does "
                    "not have",
                    category=CATEGORY,
                    source="amplifier.toml",
                )
            )

    for unit, account in accounts:
        platform = account.platform
        rules = HANDLE_SYNTAX[platform]
        handle = account.handle
        source = _source(ws, account)
        try:
            expected = expected_handle(unit, platform, settings, prefix)
        except MissingValue as exc:
            expected = None
            findings.append(
                Finding(
                    rule="policy.naming.pattern",
                    severity="info",
                    message=f"{rules.name} handle '{handle}' not checked against the naming "
                    f"pattern: {exc}",
                    category=CATEGORY,
                    source=source,
                )
            )
        problems = check_syntax(handle, platform)
        if problems:
            reported.add(account.key)
            hint = ""
            if expected is not None and expected.lower() == handle.lower():
                hint = (
                    f"; the naming pattern itself gives this handle, so give unit {unit.code} "
                    "a shorter token under [policy.naming.units]"
                )
            findings.append(
                Finding(
                    rule="policy.naming.syntax",
                    severity="block",
                    message=f"{rules.name} handle '{handle}' is not valid: "
                    f"{'; '.join(problems)}{hint}",
                    category=CATEGORY,
                    source=source,
                )
            )
        if expected is not None and expected.lower() != handle.lower():
            reported.add(account.key)
            bad = check_syntax(expected, platform)
            note = f" (which {rules.name} would refuse: {'; '.join(bad)})" if bad else ""
            findings.append(
                Finding(
                    rule="policy.naming.pattern",
                    severity="review",
                    message=f"{rules.name} handle '{handle}' of unit {unit.code} does not follow "
                    f"the naming pattern '{settings.patterns[platform]}': expected "
                    f"'{expected}'{note}",
                    category=CATEGORY,
                    source=source,
                )
            )

    findings += _mixed_case(ws, accounts)
    loose = [(u, a) for u, a in accounts if a.platform not in patterned]
    findings += _mixed_separators(ws, loose, reported)
    findings += _mixed_abbreviations(ws, settings, accounts, loose, reported)
    return findings


def _mixed_case(ws: LoadedWorkspace, accounts: list[tuple[UnitSpec, AccountSpec]]) -> list[Finding]:
    lettered = [a for _, a in accounts if any(c.isalpha() for c in a.handle)]
    lower = sum(1 for a in lettered if a.handle == a.handle.lower())
    if lower * 3 < len(lettered) * 2 or lower < 2:
        return []  # no clear lower-case convention
    return [
        Finding(
            rule="policy.naming.mixed_case",
            severity="review",
            message=f"{HANDLE_SYNTAX[a.platform].name} handle '{a.handle}' mixes upper and lower "
            f"case where {lower} of {len(lettered)} handles are lower case: write "
            f"'{a.handle.lower()}'",
            category=CATEGORY,
            source=_source(ws, a),
        )
        for a in lettered
        if a.handle != a.handle.lower()
    ]


def _mixed_separators(
    ws: LoadedWorkspace, accounts: Iterable[tuple[UnitSpec, AccountSpec]], reported: set[str]
) -> list[Finding]:
    by_platform: dict[Platform, list[AccountSpec]] = defaultdict(list)
    for _, account in accounts:
        by_platform[account.platform].append(account)
    findings: list[Finding] = []
    for platform, group in by_platform.items():
        used = {a.key: {c for c in a.handle if c in SEPARATORS} for a in group}
        counts = Counter(c for seps in used.values() for c in seps)
        with_any = sum(1 for seps in used.values() if seps)
        top = counts.most_common(1)[0] if counts else None
        if top is None or top[1] < 3 or top[1] * 2 <= with_any:
            continue
        sep, count = top
        for account in group:
            others = sorted(used[account.key] - {sep})
            if not others or account.key in reported:
                continue
            name = HANDLE_SYNTAX[platform].name
            shown = " and ".join(f"'{c}'" for c in others)
            findings.append(
                Finding(
                    rule="policy.naming.mixed_separators",
                    severity="review",
                    message=f"{name} handle '{account.handle}' uses {shown} where {count} of "
                    f"{with_any} {name} handles use '{sep}'",
                    category=CATEGORY,
                    source=_source(ws, account),
                )
            )
    return findings


def _mixed_abbreviations(
    ws: LoadedWorkspace,
    settings: NamingSettings,
    accounts: list[tuple[UnitSpec, AccountSpec]],
    loose: list[tuple[UnitSpec, AccountSpec]],
    reported: set[str],
) -> list[Finding]:
    findings: list[Finding] = []
    flagged: set[str] = set(reported)

    def flag(account: AccountSpec, message: str) -> None:
        flagged.add(account.key)
        findings.append(
            Finding(
                rule="policy.naming.mixed_abbreviations",
                severity="review",
                message=message,
                category=CATEGORY,
                source=_source(ws, account),
            )
        )

    split = {a.key: _segments(a.handle) for _, a in accounts}
    loose_keys = {a.key for _, a in loose}
    # The prefix, across the institution.
    firsts = Counter(split[a.key][0] for _, a in loose if len(split[a.key]) >= 2)
    top = _majority(firsts, at_least=3)
    if top:
        for _, account in loose:
            segs = split[account.key]
            if len(segs) >= 2 and segs[0] != top[0] and account.key not in flagged:
                flag(
                    account,
                    f"{HANDLE_SYNTAX[account.platform].name} handle '{account.handle}' starts "
                    f"with '{segs[0]}' where {top[1]} of {sum(firsts.values())} handles start "
                    f"with '{top[0]}'",
                )
    # The kind abbreviation, per unit kind, in the handles that carry one (three segments).
    middles: dict[str, Counter[str]] = defaultdict(Counter)
    for unit, account in loose:
        segs = split[account.key]
        if len(segs) >= 3:
            middles[unit.kind.value][".".join(segs[1:-1])] += 1
    for unit, account in loose:
        segs = split[account.key]
        counts = middles[unit.kind.value]
        top = _majority(counts, at_least=3)
        own = settings.units.get(unit.code)
        if not top or len(segs) < 3 or account.key in flagged or (own and own.kind):
            continue
        middle = ".".join(segs[1:-1])
        if middle != top[0]:
            flag(
                account,
                f"{HANDLE_SYNTAX[account.platform].name} handle '{account.handle}' of "
                f"{unit.kind.value} unit {unit.code} uses '{middle}' where {top[1]} of "
                f"{sum(counts.values())} {unit.kind.value} units' handles use '{top[0]}'",
            )
    # The unit's short name, across its own accounts.
    for unit in ws.org.units:
        own = settings.units.get(unit.code)
        names = Counter(split[a.key][-1] for a in unit.accounts if split[a.key])
        top = _majority(names)
        if not top or (own and own.token):
            continue
        for account in unit.accounts:
            if account.key not in loose_keys or account.key in flagged:
                continue
            last = split[account.key][-1] if split[account.key] else ""
            if last != top[0]:
                flag(
                    account,
                    f"{HANDLE_SYNTAX[account.platform].name} handle '{account.handle}' names "
                    f"unit {unit.code} '{last}' where {top[1]} of its {sum(names.values())} "
                    f"handles use '{top[0]}'",
                )
    return findings
