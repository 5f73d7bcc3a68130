"""Platform rules: how long a variant may be on each platform, and what it may not contain.

The rules are data. ``DEFAULT_RULES`` holds one frozen ``PlatformRules`` per platform, and a
workspace changes a limit with an override (``[platforms.instagram] max_hashtags = 10`` in
``amplifier.toml``) that ``rules_for`` applies. Checking never changes the text: a variant over a
limit gets a ``RuleFinding``. Templates that want a shorter text ask ``truncate`` for it.

Lengths are measured three ways:

- ``"weighted"`` (X): twitter-text v3 counting. A URL counts 23, an emoji 2, most Latin, Cyrillic,
  Greek and general punctuation characters 1, everything else (CJK, "…") 2.
- ``"chars"``: Unicode code points (``len(text)``).
- ``"bytes"``: UTF-8 bytes (the YouTube description).

Usage::

    >>> from amplifier.platforms import check_text, rules_for, truncate
    >>> from amplifier.vocab import Platform
    >>> [f.message for f in check_text("x" * 281, Platform.X)]
    ['X weighted length 281 exceeds 280']
    >>> [f.rule_id for f in check_text("Halo #a #b #c #d #e #f", Platform.INSTAGRAM)]
    ['platform.instagram.hashtags']
    >>> check_text("Halo #a #b #c #d #e #f", rules_for("instagram", {"max_hashtags": 10}))
    []
    >>> truncate("Selamat pagi, Indonesia! https://example.go.id", Platform.X, budget=20)
    'Selamat pagi…'
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import importlib.resources
import re
import sys
import types
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal, cast

from amplifier.vocab import Platform

__all__ = [
    "DEFAULT_RULES",
    "Measure",
    "PlatformRules",
    "RuleFinding",
    "check_text",
    "count_hashtags",
    "measure",
    "rules_for",
    "truncate",
]

Measure = Literal["weighted", "chars", "bytes"]
Field = Literal["text", "title"]
_MEASURES: tuple[str, ...] = ("weighted", "chars", "bytes")
_UNITS: dict[str, str] = {"weighted": "", "chars": " characters", "bytes": " bytes"}


@dataclass(frozen=True, slots=True)
class PlatformRules:
    """The limits of one platform. ``None`` means "no limit of this kind"."""

    platform: Platform
    name: str  # how messages name the platform: "X", "YouTube"
    max_length: int  # in units of ``measure``
    measure: Measure = "chars"
    max_hashtags: int | None = None
    title_max: int | None = None  # in characters; only platforms whose posts have a title
    forbidden_chars: str = ""  # none of these may appear in the text or the title
    forbidden_rule: str = "forbidden_characters"  # rule id suffix for ``forbidden_chars``
    text_name: str = ""  # what messages call the text, when not just the post ("description")

    def __post_init__(self) -> None:
        def whole(key: str, value: object, minimum: int, optional: bool) -> None:
            if value is None and optional:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                none = " or none" if optional else ""
                raise ValueError(
                    f"platforms.{self.platform}.{key}: expected a whole number "
                    f">= {minimum}{none}, got {value!r}"
                )

        whole("max_length", self.max_length, 1, optional=False)
        whole("max_hashtags", self.max_hashtags, 0, optional=True)
        whole("title_max", self.title_max, 1, optional=True)
        if self.measure not in _MEASURES:
            raise ValueError(
                f"platforms.{self.platform}.measure: expected one of "
                f"{', '.join(_MEASURES)}, got {self.measure!r}"
            )
        for key in ("name", "forbidden_chars", "forbidden_rule", "text_name"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(
                    f"platforms.{self.platform}.{key}: expected text, got {getattr(self, key)!r}"
                )


DEFAULT_RULES: dict[Platform, PlatformRules] = {
    Platform.X: PlatformRules(
        Platform.X,
        "X",
        max_length=280,
        measure="weighted",
        # twitter-text rejects these outright (its "invalid characters").
        forbidden_chars="\ufffe\ufeff\uffff",
        forbidden_rule="invalid_characters",
    ),
    Platform.INSTAGRAM: PlatformRules(
        Platform.INSTAGRAM, "Instagram", max_length=2200, max_hashtags=5
    ),
    Platform.THREADS: PlatformRules(Platform.THREADS, "Threads", max_length=500),
    Platform.TIKTOK: PlatformRules(Platform.TIKTOK, "TikTok", max_length=2200),
    Platform.FACEBOOK: PlatformRules(Platform.FACEBOOK, "Facebook", max_length=63206),
    Platform.YOUTUBE: PlatformRules(
        Platform.YOUTUBE,
        "YouTube",
        max_length=5000,
        measure="bytes",
        title_max=100,
        forbidden_chars="<>",
        forbidden_rule="angle_brackets",
        text_name="description",
    ),
}

_OVERRIDABLE: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(PlatformRules) if f.name != "platform"
)


def _platform(value: Platform | str) -> Platform:
    try:
        return Platform(value)
    except ValueError:
        known = ", ".join(p.value for p in Platform)
        raise ValueError(f"unknown platform {value!r}; expected one of: {known}") from None


def rules_for(
    platform: Platform | str, overrides: Mapping[str, Any] | None = None
) -> PlatformRules:
    """The default rules of ``platform`` with ``overrides`` (e.g. ``{"max_hashtags": 10}``)."""
    platform = _platform(platform)
    rules = DEFAULT_RULES[platform]
    if not overrides:
        return rules
    unknown = sorted(set(overrides) - set(_OVERRIDABLE))
    if unknown:
        key = unknown[0]
        near = difflib.get_close_matches(str(key), _OVERRIDABLE, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise ValueError(
            f"platforms.{platform}: unknown setting {key!r}{hint}; "
            f"known settings: {', '.join(_OVERRIDABLE)}"
        )
    return dataclasses.replace(rules, **overrides)


def _resolve(platform_or_rules: Platform | str | PlatformRules) -> PlatformRules:
    if isinstance(platform_or_rules, PlatformRules):
        return platform_or_rules
    # Platform is a StrEnum: "x" finds Platform.X without building the enum member first.
    rules = DEFAULT_RULES.get(cast(Platform, platform_or_rules))
    return rules if rules is not None else DEFAULT_RULES[_platform(platform_or_rules)]


@dataclass(frozen=True, slots=True)
class RuleFinding:
    """One broken platform rule. ``span`` is a character range of ``field`` (end exclusive)."""

    rule_id: str  # "platform.x.length"
    severity: str  # always "block": a platform would refuse the post
    message: str
    span: tuple[int, int] | None = None
    field: Field = "text"


# --- X weighted length ----------------------------------------------------------------------
#
# twitter-text-parser's parse_tweet() passes the v3 sections of the conformance suite, but takes
# about 2.5 ms for a 250-character post: it tries its emoji regex (thousands of alternatives) at
# every position and looks each character's weight up with a list comprehension. At 100,000
# variants a plan, that is minutes. _x_pieces() makes the same walk as parse_tweet() over the same
# normalized text, with the library's own URL extractor, emoji regex, weights and v3 settings,
# and so gets the same number; it differs only in where it *tries* the emoji regex: at non-ASCII
# characters and at the keycap bases "#", "*" and 0-9 just before one (every emoji in the library's
# list has a non-ASCII code point at index 0 or 1; tests check this). tests/test_platforms.py
# compares it with parse_tweet() on the conformance file and on generated text.
#
# The library's URL extractor tries its regex (with a ~1,600-way TLD alternation) at every
# position, about a microsecond each, so _urls() runs it only on the few *chunks* of the text where
# a URL can be, and remembers each chunk's result (variants share their link lines). Likewise,
# _emoji_spans() asks the emoji regex only about the few code points an emoji can span, and
# remembers the answer.
#
# A chunk is a separator (a character of the library's ``spaces_group``, the whitespace its domain
# pattern excludes) or the start of the text, and every character after it up to the next
# separator. The separator belongs to the chunk because it is the character before the URL: in
# "x éa.com" the URL is "éa.com", but in "éa.com" alone "é" would be taken as the character
# before "a.com". One run over the whole text finds what runs over the chunks find, because of how
# the extractor's regex is built (tests/test_platforms.py checks each premise on the library's
# compiled regexes):
#
# 1. A match is one "preceding character" (or the start of the string) and then the URL, and no
#    character class or literal of the URL part matches a separator. So a match has a separator,
#    if at all, only as its first character: it lies inside one chunk. A match attempt that starts
#    in a chunk fails, alone or in the whole text, when it reaches the next separator or the end.
# 2. The regex looks at nothing outside the characters it consumes except through "^" (the start
#    of the string, only as a preceding-character alternative) and the one-character lookahead
#    ``(?=[^0-9a-zA-Z@+-]|$)`` after a TLD, which succeeds both on a separator and at the end of
#    the string. Alone, a chunk's first character is read exactly as in the whole text; "^" there
#    succeeds where it fails in the whole text, but only to let the URL start at the separator,
#    which fails. So every match attempt in a chunk has the same outcome alone and in place, and
#    as no match crosses a chunk's end, ``finditer`` over the whole text finds, in order, what it
#    finds in each chunk.
# 3. The extractor then looks only at the matched groups (their text) and at the match end, so its
#    entities are those of the chunks, shifted by where each chunk starts.
# 4. Every URL has a domain label ending in "." followed at once by a TLD, whose first character
#    is an ASCII letter or not ASCII (a test reads the library's TLD lists). Chunks without such a
#    "." (sentence ends "terdekat.", times "08.00", prices "Rp50.000") are skipped.

_LINE_ENDINGS = re.compile(r"\r\n|\r|\n")  # as twitter-text: every line ending counts as "\n"
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII = re.compile(r"[\x00-\x7f]")
_KEYCAP_BASES = frozenset("#*0123456789")


class _Weights(dict[str, int]):
    """Scaled weight of each character, from the library's own function, remembered."""

    def __init__(self, weigh: Callable[[str], int]) -> None:
        super().__init__()
        self._weigh = weigh

    def __missing__(self, char: str) -> int:
        weight = self[char] = self._weigh(char)
        return weight


def _import_twitter_text() -> None:
    """Import twitter_text, lending it the one ``pkg_resources`` function it needs.

    twitter-text-parser 3.0.0 reads its emoji list with ``pkg_resources.resource_string`` when
    imported, but does not depend on setuptools. ``pkg_resources`` is deprecated, takes a third
    of a second to import, and is gone from setuptools 82 and from fresh Python 3.12 virtualenvs.
    Unless it is already loaded, a stand-in reads the file with ``importlib.resources`` instead,
    only while twitter_text is being imported.
    """
    missing = object()
    previous = sys.modules.get("pkg_resources", missing)
    if "twitter_text.regexp.emoji" in sys.modules or previous not in (missing, None):
        importlib.import_module("twitter_text.regexp.emoji")
        return

    def resource_string(module: str, name: str) -> bytes:
        package = (
            module if hasattr(sys.modules.get(module), "__path__") else module.rpartition(".")[0]
        )
        return importlib.resources.files(package).joinpath(name).read_bytes()

    stand_in = types.ModuleType("pkg_resources")
    stand_in.resource_string = resource_string  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stand_in
    try:
        importlib.import_module("twitter_text.regexp.emoji")
    finally:
        if previous is missing:
            del sys.modules["pkg_resources"]
        else:
            sys.modules["pkg_resources"] = previous  # type: ignore[assignment]


def preload(platforms: Iterable[str]) -> None:
    """Do the checks' one-time imports for these platforms now (a plan does it before it
    forks its helper process, so that the two processes do not both pay for it)."""
    if "x" in platforms:
        _twitter()


@functools.cache
def _twitter() -> SimpleNamespace:
    # Imported on first use: building the library's emoji regex takes about a third of a second.
    _import_twitter_text()
    from twitter_text import extract_urls_with_indices
    from twitter_text.config import config
    from twitter_text.get_character_weight import get_character_weight
    from twitter_text.regexp.emoji import emoji, emoji_list
    from twitter_text.regexp.spaces_group import spaces_group

    options = config["defaults"]
    ascii_weights = {get_character_weight(chr(c), options) for c in range(128)}
    # A "." that may end a domain label: followed by an ASCII letter or a non-ASCII character that
    # is not a separator (see above); and a run of characters other than separators.
    url_dot = re.compile(f"\\.[^{spaces_group}\\x00-@\\[-`{{-\\x7f]")
    no_separators = re.compile(f"[^{spaces_group}]*")
    return SimpleNamespace(
        extract_urls=extract_urls_with_indices,
        url_dot=url_dot,
        no_separators=no_separators,
        emoji=emoji,
        emoji_width=max(len(entry.codepoint.split()) for entry in emoji_list),
        emoji_enabled=bool(options.get("emoji_parsing_enabled", False)),
        scale=options["scale"],
        url_weight=options["transformed_url_length"] * options["scale"],
        emoji_weight=options["default_weight"],
        ascii_weight=ascii_weights.pop() if len(ascii_weights) == 1 else None,
        weights=_Weights(lambda char: get_character_weight(char, options)),
    )


def _x_normalize(text: str) -> str:
    norm = unicodedata.normalize("NFC", text)
    # Without a "\r", the substitution would only put "\n" for "\n".
    return _LINE_ENDINGS.sub("\n", norm) if "\r" in norm else norm


def _emoji_spans(norm: str) -> dict[int, int]:
    """Start → length of the emoji that the library's ``emoji.finditer(norm)`` would find."""
    width = _twitter().emoji_width
    found: dict[int, int] = {}
    end = 0
    tried = -1
    for m in _NON_ASCII.finditer(norm):
        at = m.start()
        starts = (at - 1, at) if at and norm[at - 1] in _KEYCAP_BASES else (at,)
        for start in starts:
            if start < end or start <= tried:
                continue
            tried = start
            # The regex is literal code point sequences and one character class: no repeats, no
            # assertions, at most ``width`` code points, never ASCII after the first (tests check).
            # So what it matches at ``start`` is decided by ``head`` alone.
            head = norm[start : start + width]
            ascii_char = _ASCII.search(head, 1)
            size = _emoji_length(head[: ascii_char.start()] if ascii_char else head)
            if size:
                found[start] = size
                end = start + size
    return found


@functools.lru_cache(maxsize=4096)
def _emoji_length(head: str) -> int:
    """How long the emoji is that the library's emoji regex finds at the start of ``head``."""
    hit = _twitter().emoji.match(head)
    return hit.end() if hit else 0


@functools.lru_cache(maxsize=16384)
def _chunk_urls(chunk: str) -> tuple[tuple[int, int, int], ...]:
    """(start, end, length of the "url") of each entity the library's extractor finds."""
    return tuple(
        (e["indices"][0], e["indices"][1], len(e["url"])) for e in _twitter().extract_urls(chunk)
    )


def _urls(text: str) -> list[tuple[int, int, int]]:
    """What ``_chunk_urls(text)`` would give, found chunk by chunk (see the comment above)."""
    if "." not in text:
        return []
    tt = _twitter()
    found: list[tuple[int, int, int]] = []
    backwards = text[::-1]
    size = len(text)
    end = 0
    while dot := tt.url_dot.search(text, end):
        at = dot.start()
        # The chunk around the ".": back to the separator before it (or the start of the text),
        # on to the next separator (or the end). The next search starts after the chunk.
        before = size - at  # where text[at - 1] is in ``backwards``
        start = max(at - (tt.no_separators.match(backwards, before).end() - before) - 1, 0)
        end = tt.no_separators.match(text, at).end()
        found += [
            (first + start, last + start, n) for first, last, n in _chunk_urls(text[start:end])
        ]
    return found


def _x_pieces(norm: str) -> Iterator[tuple[int, int, int, bool]]:
    """(start, end, scaled weight, is URL or emoji) of the runs that make up ``norm``."""
    tt = _twitter()
    urls = {start: size for start, _, size in _urls(norm)}
    emojis = _emoji_spans(norm) if tt.emoji_enabled and not norm.isascii() else {}
    at = 0
    for start in sorted(urls.keys() | emojis.keys()):
        if start < at:  # inside a URL or emoji already counted: parse_tweet skips it too
            continue
        if start > at:
            yield at, start, _plain_weight(norm[at:start]), False
        if start in urls:
            end, weight = start + urls[start], tt.url_weight
        else:
            end, weight = start + emojis[start], tt.emoji_weight
        yield start, end, weight, True
        at = end
    if at < len(norm):
        yield at, len(norm), _plain_weight(norm[at:]), False


def _plain_weight(run: str) -> int:
    tt = _twitter()
    if tt.ascii_weight is None:
        return sum(map(tt.weights.__getitem__, run))
    if run.isascii():
        return len(run) * int(tt.ascii_weight)
    others = _NON_ASCII.findall(run)  # every ASCII character weighs the same
    return (len(run) - len(others)) * int(tt.ascii_weight) + sum(
        map(tt.weights.__getitem__, others)
    )


@functools.lru_cache(maxsize=4096)
def _x_weighted_length(text: str) -> int:
    total = sum(weight for _, _, weight, _ in _x_pieces(_x_normalize(text)))
    return int(total / _twitter().scale)


def _x_overflow(text: str, limit: int) -> int | None:
    """Index in ``text`` of the first character past ``limit``, as twitter-text reports it."""
    tt = _twitter()
    norm = _x_normalize(text)
    room = limit * tt.scale
    total = 0
    for start, end, weight, entity in _x_pieces(norm):
        if total + weight <= room:
            total += weight
            continue
        at = start
        if not entity:
            for at in range(start, end):  # leaves ``at`` where it overflows
                total += tt.weights[norm[at]]
                if total > room:
                    break
        # Normalization may change the length; shift by the difference, as twitter-text does.
        return min(max(at + len(text) - len(norm), 0), max(len(text) - 1, 0))
    return None


# --- measuring and checking -------------------------------------------------------------------

_HASHTAG = re.compile(r"#\w+")
_NOT_BEFORE_CHARS = "_&#"  # with letters and digits: what a hashtag may not follow
_URL_START = re.compile(r"https?://|www\.", re.IGNORECASE)


def _hashtags(text: str) -> list[tuple[int, int]]:
    """Spans of the ``#word`` hashtags: not after a letter, digit, ``_``, ``&`` or ``#``,
    and not inside a URL (``https://example.go.id/#section``)."""
    if "#" not in text:
        return []
    tags = []
    for m in _HASHTAG.finditer(text):
        start = m.start()
        if start:
            before = text[start - 1]
            if not before.isspace():  # most hashtags follow a space or a line break
                # ``str.isalnum`` is what ``\w`` matches, but for ``_``
                if before.isalnum() or before in _NOT_BEFORE_CHARS:
                    continue
                word = start - 1  # inside a URL if one starts earlier in the same word
                while word and not text[word - 1].isspace():
                    word -= 1
                if _URL_START.search(text, word, start):
                    continue
        tags.append(m.span())
    return tags


def count_hashtags(text: str) -> int:
    """How many ``#word`` hashtags ``text`` has; a ``#`` inside a URL is not one."""
    return len(_hashtags(text))


def measure(text: str, rules: PlatformRules | Platform | str) -> int:
    """The length of ``text`` in the units of the platform's ``max_length``."""
    kind = _resolve(rules).measure
    if kind == "weighted":
        return _x_weighted_length(text)
    if kind == "bytes":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


def _overflow(text: str, rules: PlatformRules) -> int | None:
    if rules.measure == "weighted":
        return _x_overflow(text, rules.max_length)
    if rules.measure == "bytes":
        head = text.encode("utf-8", "surrogatepass")[: rules.max_length]
        return len(head.decode("utf-8", "ignore"))
    return rules.max_length


def _forbidden(text: str, rules: PlatformRules, field: Field) -> RuleFinding | None:
    if not rules.forbidden_chars:
        return None
    if not any(map(text.__contains__, rules.forbidden_chars)):
        return None
    hits = [i for i, char in enumerate(text) if char in rules.forbidden_chars]
    what = field if field == "title" else rules.text_name or "text"
    found = sorted({text[i] for i in hits})
    return RuleFinding(
        rule_id=f"platform.{rules.platform}.{rules.forbidden_rule}",
        severity="block",
        message=(
            f"{rules.name} {what} contains {len(hits)} forbidden character"
            f"{'s' if len(hits) != 1 else ''} ({', '.join(map(repr, found))}), "
            f"the first at position {hits[0]}"
        ),
        span=(hits[0], hits[0] + 1),
        field=field,
    )


def check_text(
    text: str,
    platform_or_rules: Platform | str | PlatformRules,
    *,
    title: str | None = None,
) -> list[RuleFinding]:
    """Every platform rule that ``text`` (and ``title``, for YouTube) breaks; ``[]`` if none."""
    rules = _resolve(platform_or_rules)
    findings: list[RuleFinding] = []
    length = measure(text, rules)
    if length > rules.max_length:
        what = f" {rules.text_name}" if rules.text_name else ""
        weighted = "weighted " if rules.measure == "weighted" else ""
        start = _overflow(text, rules)
        findings.append(
            RuleFinding(
                rule_id=f"platform.{rules.platform}.length",
                severity="block",
                message=(
                    f"{rules.name}{what} {weighted}length {length}{_UNITS[rules.measure]} "
                    f"exceeds {rules.max_length}"
                ),
                span=None if start is None else (start, len(text)),
            )
        )
    if rules.max_hashtags is not None:
        tags = _hashtags(text)
        if len(tags) > rules.max_hashtags:
            findings.append(
                RuleFinding(
                    rule_id=f"platform.{rules.platform}.hashtags",
                    severity="block",
                    message=(
                        f"{rules.name} has {len(tags)} hashtags, more than {rules.max_hashtags}"
                    ),
                    span=(tags[rules.max_hashtags][0], tags[-1][1]),
                )
            )
    forbidden = _forbidden(text, rules, "text")
    if forbidden:
        findings.append(forbidden)
    if title is not None:
        if rules.title_max is not None and len(title) > rules.title_max:
            findings.append(
                RuleFinding(
                    rule_id=f"platform.{rules.platform}.title_length",
                    severity="block",
                    message=(
                        f"{rules.name} title length {len(title)} characters "
                        f"exceeds {rules.title_max}"
                    ),
                    span=(rules.title_max, len(title)),
                    field="title",
                )
            )
        forbidden = _forbidden(title, rules, "title")
        if forbidden:
            findings.append(forbidden)
    return findings


# --- truncation -------------------------------------------------------------------------------

_ZWJ = "\u200d"
_TRAILING = ",;:"  # dropped before the ellipsis along with whitespace


def _regional_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _joins_previous(char: str) -> bool:
    """Whether ``char`` belongs to the same user-perceived character as the one before it."""
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")  # combining marks, VS16, keycap
        or char == _ZWJ
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tag sequences (subdivision flags)
        or "\udc00" <= char <= "\udfff"  # low half of a stray surrogate pair
    )


def _is_boundary(text: str, i: int) -> bool:
    """Whether cutting ``text`` before index ``i`` keeps every emoji and cluster whole."""
    if i <= 0 or i >= len(text):
        return True
    char, before = text[i], text[i - 1]
    if _joins_previous(char) or before == _ZWJ or (before == "\r" and char == "\n"):
        return False
    if _regional_indicator(char) and _regional_indicator(before):
        run = 0
        while i - run - 1 >= 0 and _regional_indicator(text[i - run - 1]):
            run += 1
        return run % 2 == 0  # flags are pairs
    return True


def _url_spans(text: str) -> list[tuple[int, int]]:
    """Where the URLs of ``text`` are, found with twitter-text's extractor (all platforms)."""
    return [(start, end) for start, end, _ in _urls(text)]


def truncate(
    text: str,
    platform: Platform | str | PlatformRules,
    budget: int | None = None,
    ellipsis: str = "…",
    *,
    field: Field = "text",
) -> str:
    """``text`` cut at a word boundary, plus ``ellipsis``, so that it fits the platform.

    ``budget`` is in the platform's measure (X: weighted length) and defaults to its limit;
    ``field="title"`` measures characters against ``title_max``. Text that fits is returned as
    is. A cut never splits a URL or an emoji; a word is cut inside only when not even the first
    word fits. Raises ``ValueError`` when not even ``ellipsis`` fits.
    """
    rules = _resolve(platform)
    size: Callable[[str], int]
    if field == "title":
        if rules.title_max is None and budget is None:
            raise ValueError(f"{rules.name} posts have no title limit; give a budget")
        size, limit = len, budget if budget is not None else rules.title_max or 0
    else:
        size = functools.partial(measure, rules=rules)
        limit = budget if budget is not None else rules.max_length
    if size(text) <= limit:
        return text
    if size(ellipsis) > limit:
        raise ValueError(f"budget {limit} is too small for the ellipsis {ellipsis!r}")

    urls = _url_spans(text)
    inside = bytearray(len(text) + 1)  # 1 where a cut would split a URL
    for start, end in urls:
        inside[start + 1 : end] = b"\x01" * max(end - start - 1, 0)
    url_ends = {end for _, end in urls}

    def shorten(cut: int) -> str:
        end = cut
        while (
            end > 0
            and not inside[end - 1]
            and (text[end - 1].isspace() or text[end - 1] in _TRAILING)
        ):
            end -= 1
        if end == 0:
            return ellipsis
        joiner = " " if end in url_ends and ellipsis else ""  # "…" must not stick to a URL
        return text[:end] + joiner + ellipsis

    def best(cuts: list[int]) -> str | None:
        """The longest fitting shortening over ``cuts`` (ascending), by binary search."""
        lo, hi, found = 0, len(cuts) - 1, None
        while lo <= hi:
            mid = (lo + hi) // 2
            candidate = shorten(cuts[mid])
            if size(candidate) <= limit:
                found, lo = candidate, mid + 1
            else:
                hi = mid - 1
        return found

    words = [i for i, char in enumerate(text) if char.isspace() and not inside[i]]
    result = best([i for i in words if _is_boundary(text, i)])
    if result is None or result == ellipsis:
        clusters = [i for i in range(1, len(text)) if not inside[i] and _is_boundary(text, i)]
        result = best(clusters) or result
    return result if result is not None else ellipsis
