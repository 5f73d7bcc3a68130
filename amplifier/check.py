"""Check: every rule a rendered variant must pass before it can go out.

- the platform's rules (``amplifier.platforms``): length, hashtags, forbidden characters;
- the content lexicons (``amplifier.policy.lexicon``): SARA, hoax markers, profanity, and
  electoral terms. Before a variant is timed nobody knows whether it falls in an election
  quiet period, so electoral terms are recorded as ``info`` (which needs no review); the
  timing stage sends a variant that it times into a masa tenang with such a finding to
  review (``amplifier.timetable``). With ``Context(quiet_period=True)`` they are ``review``;
- the source policy (``amplifier.policy.sources``): trusted domains, shorteners;
- the campaign's required elements (``amplifier.policy.required``).

Variants of one post share most of their text, so lexicon and link findings are computed
once per distinct paragraph (text between blank lines) and shifted into place; a phrase
that spans a blank line is not matched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from amplifier import platforms
from amplifier.errors import WorkspaceError
from amplifier.findings import Finding, Severity
from amplifier.models import ACCOUNTS, CAMPAIGNS, POSTS, UNITS, VARIANTS
from amplifier.policy.config import PolicySettings, RequireSpec
from amplifier.policy.lexicon import Lexicon, LexiconError
from amplifier.policy.required import check_required
from amplifier.policy.sources import check_link, check_variant_sources, source_rules

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
ELECTORAL = "electoral"  # the lexicon category that matters only in a masa tenang
CATEGORIES = ("sara", "hoax", "profanity", ELECTORAL)


@dataclass(slots=True)  # not frozen: a plan makes one per variant, a third of the cost
class Context:
    """What a variant's checks need besides its text."""

    platform: str
    source: str | None = None
    require: RequireSpec | None = None
    hashtags: Sequence[str] = ()
    links: Sequence[str] = ()
    post_link: str | None = None
    central_handle: str | None = None
    account_handle: str | None = None
    quiet_period: bool = False


class VariantChecker:
    """Built once per plan with the workspace's platform limits and policy."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        policy: PolicySettings | None = None,
        root: Path | None = None,
    ) -> None:
        self.rules: dict[str, platforms.PlatformRules] = {
            p: platforms.rules_for(p, (overrides or {}).get(p.value)) for p in platforms.Platform
        }
        policy = policy or PolicySettings()
        content = policy.content
        try:
            self.lexicon = Lexicon.load(
                [(root or Path(".")) / p for p in content.lexicons],
                defaults=content.default_lexicons,
                allow=content.allow,
                disable=content.disable,
            )
        except LexiconError as exc:
            raise WorkspaceError(list(exc.problems), root) from exc
        self.sources = source_rules(policy)
        # per ``quiet_period``: paragraph -> its findings
        self._paragraphs: dict[bool, dict[str, tuple[Finding, ...]]] = {False: {}, True: {}}
        self._links: dict[str, tuple[Finding, ...]] = {}

    def platform(
        self, text: str, title: str | None, platform: str, source: str | None
    ) -> list[Finding]:
        # keyed by Platform, a StrEnum: a plain name finds its rules without the enum call
        rules = self.rules.get(platform) or self.rules[platforms.Platform(platform)]
        return [
            Finding(
                rule=f.rule_id,
                severity="block",
                message=f.message,
                category="platform",
                span=f.span,
                field=f.field,
                source=source,
            )
            for f in platforms.check_text(
                text, rules, title=title if rules.title_max is not None else None
            )
        ]

    def check(
        self,
        text: str,
        title: str | None,
        ctx: Context,
        paragraphs: Sequence[str] | None = None,
    ) -> list[Finding]:
        """``paragraphs``: ``text``'s, if known (``RenderResult.paragraphs``)."""
        found = self.platform(text, title, ctx.platform, ctx.source)
        found += self.content(text, ctx, paragraphs)
        if title:
            found += [replace(f, field="title") for f in self._paragraph(title, ctx.quiet_period)]
        if ctx.post_link:
            found += self._post_link(ctx.post_link, text)
        if ctx.require is not None:
            found += check_required(
                text,
                ctx.require,
                hashtags=ctx.hashtags,
                links=ctx.links,
                post_link=ctx.post_link,
                central_handle=ctx.central_handle,
                account_handle=ctx.account_handle,
            )
        return [f if f.source or not ctx.source else replace(f, source=ctx.source) for f in found]

    def content(
        self, text: str, ctx: Context, paragraphs: Sequence[str] | None = None
    ) -> list[Finding]:
        quiet = ctx.quiet_period
        if paragraphs is None:
            paragraphs = _split_paragraphs(text)
        for paragraph in paragraphs:  # most texts have no finding: no spans
            if self._paragraph(paragraph, quiet):
                break
        else:
            return []
        out: list[Finding] = []
        start = 0
        for m in [*_PARAGRAPH.finditer(text), None]:
            end = m.start() if m else len(text)
            for f in self._paragraph(text[start:end], ctx.quiet_period):
                assert f.span is not None
                out.append(replace(f, span=(f.span[0] + start, f.span[1] + start)))
            start = m.end() if m else end
        return out

    def _paragraph(self, paragraph: str, quiet: bool) -> tuple[Finding, ...]:
        cache = self._paragraphs[quiet]
        cached = cache.get(paragraph)
        if cached is None:
            found = [
                Finding(
                    rule=m.rule_id,
                    severity=_severity(str(m.category), m.severity, quiet),
                    message=f"{m.category} term '{m.matched}' ({m.term})"
                    + ("" if quiet or m.category != ELECTORAL else OUTSIDE_QUIET),
                    category=str(m.category),
                    span=(m.start, m.end),
                )
                for m in self.lexicon.scan(paragraph, categories=CATEGORIES)
            ]
            found += [
                f for f in check_variant_sources(paragraph, self.sources) if f.span is not None
            ]
            if len(cache) >= 100_000:
                cache.clear()
            cached = cache[paragraph] = tuple(found)
        return cached

    def _post_link(self, link: str, text: str) -> list[Finding]:
        found = self._links.get(link)
        if found is None:
            found = self._links[link] = tuple(check_link(link, self.sources))
        return [] if not found or link in text else list(found)


OUTSIDE_QUIET = "; a person reviews it if the variant is timed into a masa tenang"


def _split_paragraphs(text: str) -> list[str]:
    """``_PARAGRAPH.split(text)``. Without a space or tab before a line break (as in every
    rendered variant, whose lines are right-trimmed) each separator is exactly two line
    breaks, which ``str.split`` finds several times faster."""
    if " \n" in text or "\t\n" in text:
        return _PARAGRAPH.split(text)
    return text.split("\n\n")


def _severity(category: str, severity: str, quiet: bool) -> Severity:
    if category == ELECTORAL and not quiet:
        return "info"
    return "block" if severity == "block" else "review"


@dataclass
class CheckReport:
    """``amplifier check``: workspace findings plus the findings of planned variants."""

    workspace: list[Finding]
    variants: list[dict[str, Any]]  # finding dicts with variant id, unit, account, post

    @property
    def blocking(self) -> bool:
        return any(f.severity == "block" for f in self.workspace) or any(
            f["severity"] == "block" for f in self.variants
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocking": self.blocking,
            "workspace": [f.as_dict() for f in self.workspace],
            "variants": self.variants,
        }


def check_workspace_and_variants(ws: Any, *, today: Any = None) -> CheckReport:
    """Run the guideline on the workspace files and collect the planned variants' findings."""
    import sqlalchemy as sa

    from amplifier.policy.governance import check_workspace
    from amplifier.vocab import VariantStatus

    files = ws.files
    found = check_workspace(files, files.settings.policy, today=today)
    V, A, U = VARIANTS, ACCOUNTS, UNITS
    P, C = POSTS, CAMPAIGNS
    rows: list[dict[str, Any]] = []
    with ws.engine.connect() as conn:
        query = (
            sa.select(V.c.id, V.c.findings, A.c.platform, A.c.handle, U.c.code, C.c.slug, P.c.key)
            .join(A, A.c.id == V.c.account_id)
            .join(U, U.c.id == V.c.unit_id)
            .join(P, P.c.id == V.c.post_id)
            .join(C, C.c.id == P.c.campaign_id)
            .where(V.c.status != VariantStatus.CANCELLED)
            .order_by(V.c.id)
        )
        for r in conn.execute(query):
            for f in r.findings or []:
                rows.append(
                    {
                        "variant": r.id,
                        "unit": r.code,
                        "account": f"{r.platform}:@{r.handle}",
                        "post": f"{r.slug}/{r.key}",
                        **f,
                    }
                )
    return CheckReport(found, rows)
