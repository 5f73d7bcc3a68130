"""Required elements (unsur wajib): what a campaign asks every variant to carry.

A campaign's ``require:`` (``amplifier.policy.config.RequireSpec``) may ask for

- ``hashtags``: every campaign hashtag, matched without case (``policy.required.hashtags``);
- ``link``: the post's link or one of the campaign's links, matched without scheme, ``www.``,
  trailing ``/`` or case (``policy.required.link``);
- ``mention_central``: ``@`` and the central unit's handle on the variant's platform, not
  followed by more of a handle (``policy.required.mention_central``).

What is missing is reported as ``review``, without a span. Nothing is asked of a variant for
which there is nothing to ask: no campaign hashtags, no links, no central account on that
platform, or the central account itself.

Usage::

    >>> from amplifier.policy.config import RequireSpec
    >>> need = RequireSpec(hashtags=True, mention_central=True)
    >>> for f in check_required("Ayo! #kptdmelayani", need,
    ...         hashtags=["KPTDMelayani", "PelayananPrima"], central_handle="kptd_ri"):
    ...     print(f.rule, "|", f.message)
    policy.required.hashtags | missing campaign hashtag #PelayananPrima
    policy.required.mention_central | missing a mention of the central account @kptd_ri
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from amplifier.findings import Finding
from amplifier.policy.config import RequireSpec
from amplifier.policy.sources import normalize_url

__all__ = ["check_required", "has_mention"]

CATEGORY = "required"


# Both patterns start with "@" or "#", so the scan for them is fast; the lookbehind after it
# checks the character before: not part of a word, an e-mail address or another tag.


@functools.lru_cache(maxsize=1024)
def _mention(handle: str) -> re.Pattern[str]:
    # Not followed by a handle character, nor by "." and one: "@kptd.ri." ends the mention,
    # "@kptd.ri.x" is another handle.
    return re.compile(rf"@(?<![\w@]@)(?i:{re.escape(handle)})(?!\w|\.\w)")


def has_mention(text: str, handle: str) -> bool:
    """Whether ``text`` mentions ``@handle`` (without case), not as part of a longer handle.

    >>> has_mention("Ikuti @KPTD_RI.", "kptd_ri"), has_mention("@kptd_ri2", "kptd_ri")
    (True, False)
    """
    return "@" in text and _mention(handle.lstrip("@")).search(text) is not None


@functools.lru_cache(maxsize=256)
def _hashtags(hashtags: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[tuple[str, str], ...]]:
    """A pattern that finds any of the campaign hashtags, and (as written, case-folded) of each."""
    tags = tuple((t.lstrip("#"), t.lstrip("#").casefold()) for t in hashtags)
    alternatives = "|".join(re.escape(t) for t, _ in tags)
    return re.compile(rf"#(?<![\w&#]#)((?i:{alternatives}))(?!\w)"), tags


@functools.lru_cache(maxsize=256)
def _wanted_links(post_link: str | None, links: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize_url(u) for u in (post_link, *links) if u))


_PUNCTUATION = ".,;:!?)]}…\"'"


def _has_link(lower: str, url: str) -> bool:
    """Whether the lower-case text holds ``url`` (normalized: no scheme, no ``www.``) as a
    whole link: after a scheme, ``www.``, a space or punctuation, and ending there (a trailing
    ``/``, a query, a fragment or sentence punctuation may follow)."""
    size = len(lower)
    at = lower.find(url)
    while at >= 0:
        start = at - 4 if at >= 4 and lower.startswith("www.", at - 4) else at
        before = lower[start - 1] if start else " "
        end = at + len(url)
        if end < size and lower[end] == "/":
            end += 1
        after = lower[end] if end < size else " "
        if after in "?#":  # a query or a fragment: the same page
            ends = True
        elif after in _PUNCTUATION:  # ends a sentence, unless more of the URL follows: ".html"
            rest = lower[end + 1] if end + 1 < size else " "
            ends = rest.isspace() or rest in _PUNCTUATION
        else:
            ends = after.isspace() or after in "<>"
        after_scheme = lower.endswith("//", 0, start)
        if ends and (after_scheme or not (before.isalnum() or before in "./-_@")):
            return True
        at = lower.find(url, at + 1)
    return False


def check_required(
    text: str,
    require: RequireSpec,
    *,
    hashtags: Sequence[str] = (),
    links: Sequence[str] = (),
    post_link: str | None = None,
    central_handle: str | None = None,
    account_handle: str | None = None,
    field: str = "text",
) -> list[Finding]:
    """Findings for what ``require`` asks of ``text`` that it lacks.

    ``hashtags`` and ``links`` are the campaign's; ``post_link`` is the central post's link;
    ``central_handle`` is the central unit's handle on the variant's platform and
    ``account_handle`` the variant's own (no mention is asked of the central account itself).
    """
    if not (require.hashtags or require.link or require.mention_central):
        return []
    findings: list[Finding] = []
    if require.hashtags and hashtags:
        pattern, tags = _hashtags(tuple(hashtags))
        present = set(map(str.casefold, pattern.findall(text))) if "#" in text else set()
        missing = (
            [t for t, folded in tags if folded not in present] if len(present) < len(tags) else []
        )
        if missing:
            plural = "hashtags" if len(missing) > 1 else "hashtag"
            findings.append(
                Finding(
                    rule="policy.required.hashtags",
                    severity="review",
                    message=f"missing campaign {plural} " + " ".join(f"#{t}" for t in missing),
                    category=CATEGORY,
                    field=field,
                )
            )
    if require.link and (post_link or links):
        wanted = _wanted_links(post_link, tuple(links))
        lower = text.lower()
        if not any(_has_link(lower, url) for url in wanted):
            shown = " or ".join(list(dict.fromkeys(u for u in (post_link, *links) if u))[:3])
            findings.append(
                Finding(
                    rule="policy.required.link",
                    severity="review",
                    message=f"missing the campaign link: add {shown}",
                    category=CATEGORY,
                    field=field,
                )
            )
    if require.mention_central and central_handle:
        central = central_handle.lstrip("@")
        own = (account_handle or "").lstrip("@")
        if own.casefold() != central.casefold() and not has_mention(text, central):
            findings.append(
                Finding(
                    rule="policy.required.mention_central",
                    severity="review",
                    message=f"missing a mention of the central account @{central}",
                    category=CATEGORY,
                    field=field,
                )
            )
    return findings
