"""Source policy (sumber tepercaya): links point to trusted domains, never through shorteners.

A link to a host that matches ``[policy] trusted_domains`` is fine (``*.go.id`` is always
trusted; ``*.example.com`` covers example.com and all its subdomains, ``example.com`` covers it
and ``www.example.com``). A link anywhere else gets a ``review`` finding,
``policy.source.untrusted``. A link through a URL shortener (``bit.ly``, ``s.id``, …) gets
``policy.source.shortener``, also ``review``, because it hides where it leads.

Links are found with a precompiled expression, not twitter-text's extractor: that one took
150-300 µs a text where this takes under 10, and the check runs for every variant of a plan
(100,000 of them). The expression runs only on the words around a "." before a letter or a
"://", and remembers each word, so a campaign link met again costs a look-up. It finds
``http(s)://`` URLs, and bare hosts such as ``www.kptd.go.id`` or ``layanan.kptd.go.id/izin``
when they end in a common top-level domain (or any two-letter one followed by a path). It skips
e-mail addresses, @mentions and #hashtags, and leaves trailing punctuation out of the link.

Usage::

    >>> from amplifier.policy.config import PolicySettings
    >>> rules = source_rules(PolicySettings())
    >>> [f.rule for f in check_variant_sources("Info: bit.ly/x1 dan kptd.go.id.", rules)]
    ['policy.source.shortener']
    >>> [link.host for link in extract_links("Lihat https://www.kptd.go.id/izin, ya")]
    ['www.kptd.go.id']
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from amplifier.findings import Finding
from amplifier.policy.config import PolicySettings

__all__ = [
    "Link",
    "SourceRules",
    "check_link",
    "check_variant_sources",
    "extract_links",
    "link_host",
    "normalize_url",
    "source_rules",
]

CATEGORY = "source"
Verdict = Literal["trusted", "shortener", "untrusted"]

_TLDS = (
    "com|net|org|info|biz|id|co|io|me|ly|gl|gd|tv|cc|app|dev|page|link|site|online|web|"
    "xyz|news|blog|gov|edu|int|asia|eu|ai|gg|ee|sg|my|au|nl|uk|jp|de|fr|us|ca|ph|th|vn"
)
_URL = re.compile(
    r"(?<![\w@#.\-/])"  # not inside a word, e-mail address, @mention, #hashtag or path
    r"(?:"
    r"https?://[^\s<>\"'`]+"
    r"|(?:www\.)?(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+"
    rf"(?:(?:{_TLDS})(?![\w\-])|[a-z]{{2}}(?=/))"
    r"(?::\d{1,5})?(?:[/?#][^\s<>\"'`]*)?"
    r")",
    re.IGNORECASE,
)
# Where a link may be: a dot before a letter, or a colon before a slash. Prose has few of these
# ("2027. Terima" and "09.00" are not).
_CANDIDATE = re.compile(r"[.:][A-Za-z/]")  # starts with a rare character: a fast scan
_SPACE = re.compile(r"\s")
_TRAILING = ".,;:!?'\")]}…"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE)


class Link(NamedTuple):
    url: str  # as written
    host: str  # lower case, no port, no trailing dot
    span: tuple[int, int]  # in the text (end exclusive)


_HOST = re.compile(r"(?:[a-z][a-z0-9+.\-]*://)?(?:[^/?#@\s]*@)?([^/?#:\s]*)", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def link_host(url: str) -> str:
    """The host of ``url``, lower case: ``https://WWW.kptd.go.id:443/x`` -> ``www.kptd.go.id``."""
    m = _HOST.match(url.strip())
    return m.group(1).rstrip(".").lower() if m else ""


@functools.lru_cache(maxsize=4096)
def normalize_url(url: str) -> str:
    """``url`` for comparing: no scheme, no ``www.``, no trailing ``/``, lower case."""
    bare = _SCHEME.sub("", url.strip(), count=1).rstrip(_TRAILING).rstrip("/").lower()
    return bare[4:] if bare.startswith("www.") else bare


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break  # a balanced parenthesis belongs to the URL: …/Jakarta_(kota)
        url = url[:-1]
    return url


@functools.lru_cache(maxsize=8192)
def _links_in_word(word: str) -> tuple[tuple[int, str, str], ...]:
    """(offset, url, host) of the links in one word (text between white space).
    Remembered: the same campaign link recurs in thousands of variants."""
    found = []
    for m in _URL.finditer(word):
        url = _trim(m.group())
        host = link_host(url)
        if host:
            found.append((m.start(), url, host))
    return tuple(found)


def extract_links(text: str) -> tuple[Link, ...]:
    """The links in ``text``, in order."""
    links: list[Link] = []
    pos = 0
    while (candidate := _CANDIDATE.search(text, pos)) is not None:
        at = candidate.start()
        start = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at), text.rfind("\t", 0, at))
        start += 1
        space = _SPACE.search(text, candidate.end())
        end = space.start() if space else len(text)
        for offset, url, host in _links_in_word(text[start:end]):
            links.append(Link(url, host, (start + offset, start + offset + len(url))))
        pos = end
    return tuple(links)


@dataclass
class SourceRules:
    """Trusted domains and shorteners, compiled for fast look-ups."""

    trusted: tuple[str, ...]
    shorteners: tuple[str, ...]
    _exact: frozenset[str] = dataclasses.field(init=False)
    _suffixes: tuple[str, ...] = dataclasses.field(init=False)
    _globs: tuple[re.Pattern[str], ...] = dataclasses.field(init=False)
    _short: frozenset[str] = dataclasses.field(init=False)
    _seen: dict[str, Verdict] = dataclasses.field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        exact: set[str] = set()
        suffixes: list[str] = []
        globs: list[re.Pattern[str]] = []
        for entry in self.trusted:
            entry = entry.lower()
            if entry.startswith("*.") and not any(c in entry[2:] for c in "*?["):
                suffixes.append(entry[1:])  # ".go.id"
                exact.add(entry[2:])  # "go.id"
            elif any(c in entry for c in "*?["):
                globs.append(re.compile(fnmatch.translate(entry)))
            else:
                exact.update((entry, f"www.{entry}"))
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)
        self._globs = tuple(globs)
        self._short = frozenset(s.lower() for s in self.shorteners)

    def verdict(self, host: str) -> Verdict:
        known = self._seen.get(host)
        if known is not None:
            return known
        bare = host[4:] if host.startswith("www.") else host
        verdict: Verdict
        if bare in self._short or host in self._short:
            verdict = "shortener"
        elif (
            host in self._exact
            or host.endswith(self._suffixes)
            or any(g.match(host) for g in self._globs)
        ):
            verdict = "trusted"
        else:
            verdict = "untrusted"
        if len(self._seen) < 65536:
            self._seen[host] = verdict
        return verdict


@functools.lru_cache(maxsize=32)
def _rules(trusted: tuple[str, ...], shorteners: tuple[str, ...]) -> SourceRules:
    return SourceRules(trusted, shorteners)


def source_rules(settings: PolicySettings | SourceRules) -> SourceRules:
    """The compiled rules of ``settings`` (remembered: compile once per plan, not per variant)."""
    if isinstance(settings, SourceRules):
        return settings
    return _rules(tuple(settings.trusted_domains), tuple(settings.shorteners))


def _finding(
    verdict: Verdict,
    url: str,
    host: str,
    rules: SourceRules,
    span: tuple[int, int] | None,
    what: str,
    field: str,
) -> Finding:
    if verdict == "shortener":
        return Finding(
            rule="policy.source.shortener",
            severity="review",
            message=f"{what} {url} goes through the URL shortener {host}, which hides where it "
            "leads; use the full address",
            category=CATEGORY,
            span=span,
            field=field,
        )
    trusted = ", ".join(rules.trusted[:4]) + (", …" if len(rules.trusted) > 4 else "")
    return Finding(
        rule="policy.source.untrusted",
        severity="review",
        message=f"{what} {url} points to {host}, which is not a trusted domain ({trusted}); "
        "check the source, or add the domain to [policy] trusted_domains",
        category=CATEGORY,
        span=span,
        field=field,
    )


def check_link(url: str, settings: PolicySettings | SourceRules) -> list[Finding]:
    """Findings for one link, such as a central post's ``link:``."""
    rules = source_rules(settings)
    host = link_host(url)
    verdict = rules.verdict(host) if host else "untrusted"
    if verdict == "trusted":
        return []
    return [_finding(verdict, url, host, rules, None, "the post's link", "text")]


def check_variant_sources(
    text: str,
    settings: PolicySettings | SourceRules,
    *,
    link: str | None = None,
    field: str = "text",
) -> list[Finding]:
    """Findings for the links in ``text`` and for the post's own ``link`` (when it is not also
    in the text). Each text link's finding carries its span."""
    rules = source_rules(settings)
    links: Iterable[Link] = extract_links(text) if text else ()
    findings: list[Finding] = []
    for found in links:
        verdict = rules.verdict(found.host)
        if verdict != "trusted":
            findings.append(
                _finding(verdict, found.url, found.host, rules, found.span, "link", field)
            )
    if link:
        host = link_host(link)
        verdict = rules.verdict(host) if host else "untrusted"
        if verdict != "trusted":  # reported once: here, unless the text has it too
            wanted = normalize_url(link)
            if not any(normalize_url(found.url) == wanted for found in links):
                findings.append(
                    _finding(verdict, link, host, rules, None, "the post's link", field)
                )
    return findings
