from __future__ import annotations

import doctest
import os
import re
import re._compiler as sre_compile
import re._constants as sre  # the regex parser's node types, to check the library's regexes
import re._parser as sre_parse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from amplifier import platforms
from amplifier.platforms import (
    DEFAULT_RULES,
    PlatformRules,
    RuleFinding,
    check_text,
    count_hashtags,
    measure,
    rules_for,
    truncate,
)
from amplifier.vocab import Platform

# --- the twitter-text conformance suite, read from the shared folder at collection time ----------

CONFORMANCE_DIR = Path(
    os.environ.get("AMPLIFIER_CONFORMANCE_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "conformance"
)
VALIDATE_YML = CONFORMANCE_DIR / "twitter-text" / "validate.yml"
V3_SECTIONS = (
    "WeightedTweetsWithDiscountedEmojiCounterTest",
    "UnicodeDirectionalMarkerCounterTest",
)
INVALID_CHARS = "\ufffe\ufeff\uffff"  # twitter-text's invalid characters


def _v3_cases() -> list[Any]:
    if not VALIDATE_YML.is_file():
        reason = (
            f"twitter-text conformance suite not found at {VALIDATE_YML} "
            "(set AMPLIFIER_CONFORMANCE_DIR to the shared/conformance folder)"
        )
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=reason), id="missing")]
    with VALIDATE_YML.open(encoding="utf-8") as f:
        tests = yaml.safe_load(f)["tests"]
    cases = []
    for section in V3_SECTIONS:
        if section not in tests:  # a renamed section must fail, not silently shrink the suite
            cases.append(pytest.param(section, None, id=f"{section}-absent"))
            continue
        for case in tests[section]:
            cases.append(pytest.param(section, case, id=f"{section}: {case['description']}"))
    return cases


V3_CASES = _v3_cases()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(("section", "case"), V3_CASES)
def test_x_weighted_length_conformance(section: str, case: dict[str, Any] | None) -> None:
    assert case is not None, f"section {section} is missing from {VALIDATE_YML}"
    text, expected = case["text"], case["expected"]
    assert measure(text, Platform.X) == expected["weightedLength"]
    findings = check_text(text, Platform.X)
    assert (findings == []) == expected["valid"], findings
    length = [f for f in findings if f.rule_id == "platform.x.length"]
    assert bool(length) == (expected["weightedLength"] > 280)
    if length and not any(c in text for c in INVALID_CHARS):
        # The span starts where twitter-text's valid range ends (it counts UTF-16 code units).
        span = length[0].span
        assert span is not None
        assert _utf16_len(text[: span[0]]) == expected["validRangeEnd"] + 1


@pytest.mark.parametrize(("section", "case"), V3_CASES)
def test_library_itself_passes_conformance(section: str, case: dict[str, Any] | None) -> None:
    from twitter_text import parse_tweet

    assert case is not None, f"section {section} is missing from {VALIDATE_YML}"
    result = parse_tweet(case["text"]).asdict()
    assert {key: result[key] for key in case["expected"]} == case["expected"]


# --- the fast weighted length agrees with twitter-text's parse_tweet ----------------------------

PIECES = st.sampled_from(
    [
        "Halo ",
        "Sobat ",
        " ",
        "\n",
        "\r\n",
        "\r",
        "😷",
        "🇮🇩",
        "👨\u200d👩\u200d👧\u200d👦",
        "🙋🏽",
        "1\ufe0f\u20e3",
        "#\u20e3",
        "1",
        "#",
        "❤\ufe0f",
        "©",
        "…",
        "“kutipan”",
        "故人西辞",
        "e\u0301",
        "\u202a",
        "\u2066",
        "\ufffe",
        "https://www.kemkes.go.id/vaksin",
        "http://test.co",
        "kemkes.go.id",
        "https://t.co/abc123",
        "http://foobar.پاکستان/",
        ".",
        "/",
        "x" * 50,
    ]
)
MIXED_TEXT = st.lists(PIECES, max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(MIXED_TEXT, st.text(max_size=120)))
def test_fast_weighted_length_matches_library(text: str) -> None:
    from twitter_text import parse_tweet

    assert measure(text, Platform.X) == parse_tweet(text).weightedLength


def test_emoji_regex_is_only_tried_where_an_emoji_can_start() -> None:
    # The fast path's assumption about the library's emoji regex (see amplifier/platforms.py):
    # no ASCII character is an emoji, and an emoji that starts with an ASCII character is a
    # keycap whose second code point is not ASCII.
    from twitter_text.regexp.emoji import emoji, emoji_list

    assert emoji.search("".join(map(chr, range(128)))) is None
    for entry in emoji_list:
        points = [chr(int(code, 16)) for code in entry.codepoint.split()]
        if points[0].isascii():
            assert points[0] in platforms._KEYCAP_BASES, entry
            assert len(points) > 1 and not points[1].isascii(), entry
        assert not any(point.isascii() for point in points[1:]), entry


def test_emoji_regex_match_depends_only_on_the_head() -> None:
    # _emoji_spans() asks the regex about at most emoji_width code points, cut before the first
    # ASCII character after the first. That is enough if the regex is literal sequences and
    # character classes (no repeats, no assertions), at most emoji_width code points long, and
    # never ASCII after the first code point.
    from twitter_text.regexp.emoji import emoji

    tree = sre_parse.parse(emoji.pattern, emoji.flags)
    assert tree.getwidth()[1] == platforms._twitter().emoji_width
    assert not emoji.flags & re.IGNORECASE  # a LITERAL matches exactly its own code point

    def can_be_ascii(op: Any, av: Any) -> bool:
        if op is sre.LITERAL:
            return bool(av < 128)
        return any(_alone(tree, (op, av), emoji.flags).fullmatch(chr(c)) for c in range(128))

    def offsets_after(data: Any, offsets: set[int]) -> set[int]:
        for op, av in data:
            if op is sre.BRANCH:
                offsets = set().union(*(offsets_after(alt, offsets) for alt in av[1]))
            elif op is sre.SUBPATTERN:
                offsets = offsets_after(av[3], offsets)
            elif op in (sre.LITERAL, sre.IN):
                if max(offsets) >= 1:
                    assert not can_be_ascii(op, av), (op, av)
                offsets = {offset + 1 for offset in offsets}
            else:
                raise AssertionError(f"unexpected regex node {op} in the emoji regex")
        return offsets

    assert max(offsets_after(tree, {0})) == platforms._twitter().emoji_width


def test_twitter_text_imports_without_pkg_resources() -> None:
    # twitter-text-parser imports pkg_resources, which setuptools 82 removed (see platforms.py).
    code = (
        "import sys; sys.modules['pkg_resources'] = None\n"
        "from amplifier.platforms import measure\n"
        "assert measure('Halo 😷 https://example.go.id', 'x') == 31\n"
        "assert sys.modules['pkg_resources'] is None\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- URLs: the library's extractor, run chunk by chunk, finds what it finds in the whole text ----
#
# The argument is in amplifier/platforms.py (the comment above _LINE_ENDINGS); the first tests
# check its premises on the library's compiled regexes, the others compare the results.


def _separators() -> str:
    from twitter_text.regexp.spaces_group import spaces_group

    return "".join(re.findall(f"[{spaces_group}]", "".join(map(chr, range(0x110000)))))


def _walk(data: Any) -> Iterator[tuple[Any, Any]]:
    """Every node of a parsed regex, except inside lookarounds."""
    for op, av in data:
        yield op, av
        if op is sre.SUBPATTERN:
            yield from _walk(av[3])
        elif op is sre.BRANCH:
            for alternative in av[1]:
                yield from _walk(alternative)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            yield from _walk(av[2])
        elif op is sre.ATOMIC_GROUP:
            yield from _walk(av)


def _alone(tree: Any, node: tuple[Any, Any], flags: int) -> re.Pattern[str]:
    """One node of a parsed regex, compiled on its own with the regex's flags."""
    return sre_compile.compile(sre_parse.SubPattern(tree.state, [node]), flags)


CHARACTER_NODES = (sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY, sre.CATEGORY)


def test_url_regex_never_reads_across_a_separator() -> None:
    from twitter_text.regexp.extract_url import extract_url

    separators = _separators()
    assert " " in separators and "\n" in separators and "\u3000" in separators
    flags = extract_url.flags
    assert not flags & (re.MULTILINE | re.DOTALL | re.VERBOSE)  # "^" is only the string's start
    tree = sre_parse.parse(extract_url.pattern, flags)
    [(op, (group, _, _, whole))] = tree.data
    assert (op, group) == (sre.SUBPATTERN, 1)
    [(op2, (group2, _, _, preceding)), (op3, (group3, _, _, url))] = whole.data
    assert (op2, group2, op3, group3) == (sre.SUBPATTERN, 2, sre.SUBPATTERN, 3)

    # The preceding character: at most one, no assertion but "^".
    assert preceding.getwidth() == (0, 1)
    for op, av in _walk(preceding):
        assert op not in (sre.ASSERT, sre.ASSERT_NOT, sre.GROUPREF, sre.GROUPREF_EXISTS)
        assert op is not sre.AT or av is sre.AT_BEGINNING

    # The URL: never empty; no character node takes a separator; the only assertions are
    # one-character lookaheads that succeed both on a separator and at the end of the string.
    assert url.getwidth()[0] >= 1
    lookaheads = 0
    for op, av in _walk(url):
        assert op not in (sre.AT, sre.ASSERT_NOT, sre.GROUPREF, sre.GROUPREF_EXISTS), op
        if op in CHARACTER_NODES:
            node = _alone(tree, (op, av), flags)
            assert not any(node.fullmatch(s) for s in separators), (op, av)
        elif op is sre.ASSERT:
            lookaheads += 1
            direction, body = av
            assert direction == 1  # ahead, not behind
            [(branch, (_, alternatives))] = body.data
            assert branch is sre.BRANCH
            on_separator = dict.fromkeys(separators, False)
            at_end = False
            for alternative in alternatives:
                [(kind, value)] = alternative.data  # one node each
                if kind is sre.AT:
                    assert value is sre.AT_END
                    at_end = True
                else:
                    assert kind in CHARACTER_NODES
                    node = _alone(tree, (kind, value), flags)
                    for s in separators:
                        on_separator[s] = on_separator[s] or bool(node.fullmatch(s))
            assert at_end and all(on_separator.values())
    assert lookaheads == 2  # after a generic TLD and after a country TLD


def test_every_url_has_a_dot_before_an_ascii_letter_or_a_non_ascii_character() -> None:
    # Why _urls() may skip chunks without such a "." (amplifier/platforms.py, point 4).
    from twitter_text.regexp.extract_url import extract_url
    from twitter_text.regexp.valid_cctld import valid_cctld
    from twitter_text.regexp.valid_domain import valid_domain
    from twitter_text.regexp.valid_domain_name import valid_domain_name
    from twitter_text.regexp.valid_gtld import valid_gtld
    from twitter_text.regexp.valid_punycode import valid_punycode
    from twitter_text.regexp.valid_subdomain import valid_subdomain

    tlds = (valid_gtld.pattern, valid_cctld.pattern, valid_punycode.pattern)
    assert valid_domain.pattern == (
        f"(?:{valid_subdomain.pattern}*{valid_domain_name.pattern}(?:{'|'.join(tlds)}))"
    )
    assert valid_domain.pattern in extract_url.pattern
    assert valid_domain_name.pattern.endswith("\\.)")  # a label, then "." and at once the TLD
    assert valid_punycode.pattern.startswith("(?:xn--")
    for pattern in tlds[:2]:
        head, tail = "(?:(?:", ")(?=[^0-9a-zA-Z@+-]|$))"
        assert pattern.startswith(head) and pattern.endswith(tail)
        for tld in pattern[len(head) : -len(tail)].split("|"):
            assert tld and re.escape(tld) == tld, tld  # plain words
            assert tld[0].isascii() <= tld[0].isalpha(), tld
    url_dot = platforms._twitter().url_dot
    for c in map(chr, range(128)):
        assert bool(url_dot.fullmatch("." + c)) == c.isalpha(), c
    assert not any(url_dot.fullmatch("." + s) for s in _separators())
    assert url_dot.fullmatch(".\u212a") and url_dot.fullmatch(
        ".р"
    )  # Kelvin sign (folds to k), Cyrillic


def _library_urls(text: str) -> list[tuple[int, int, int]]:
    from twitter_text import extract_urls_with_indices

    found = extract_urls_with_indices(text)
    return [(e["indices"][0], e["indices"][1], len(e["url"])) for e in found]


TRICKY_URL_TEXTS = [
    "Info: https://www.kemkes.go.id/vaksin #Sehat",
    "Daftar di www.kptd.go.id/x. Pukul 08.00 WIB, Rp50.000 terdekat.",
    "@example.com ＠example.com $example.com #example.com ＃example.com",
    "-example.com _example.com .example.com /example.com a.example.com",
    '"example.com `example.com (example.com) [example.com]',
    "\u202aexample.com \u200eexample.com \u2066https://example.com \ufeffexample.com",
    "x\u3000www.kptd.go.id/x\u3000y\u00a0kemkes.go.id\u2028a.com\x85b.com\x1cc.com",
    "https://t.co/abc123 https://t.co/abc123/more http://t.co/abc?x=1 https://t.co/" + "a" * 41,
    "http://日本語.jp 日本語.jp 中国.cn/路径 www.例え.jp пример.рф http://foobar.پاکستان/",
    "example.com:8080/path https://example.com/path(with)parens?q=(1)&r=2#frag",
    "a.co a.b a.com. a.com, go.id xn--p1ai.xn--p1ai \u212a.com ſ.com EXAMPLE.COM",
    "user@example.com a@b.com http://user@example.com/ https:// http:// www. .com",
    "ａｂｃ．ｃｏｍ abc。com abc．com abc｡com",
    "https://example.com/" + "x" * 4100 + " example.com/" + "y" * 4100,
    "a." * 6 + "com",
]


@pytest.mark.parametrize("text", TRICKY_URL_TEXTS)
def test_urls_match_the_library_on_tricky_text(text: str) -> None:
    assert platforms._urls(text) == _library_urls(text)


def _conformance_texts() -> list[str]:
    if not VALIDATE_YML.is_file():
        return []
    with VALIDATE_YML.open(encoding="utf-8") as f:
        tests = yaml.safe_load(f)["tests"]
    return [case["text"] for cases in tests.values() for case in cases]


def test_urls_and_length_match_the_library_on_every_conformance_text() -> None:
    from twitter_text import parse_tweet

    texts = _conformance_texts()
    if not texts:
        pytest.skip(f"twitter-text conformance suite not found at {VALIDATE_YML}")
    assert len(texts) > 90
    for text in texts:
        assert platforms._urls(text) == _library_urls(text), text
        norm = platforms._x_normalize(text)
        assert platforms._urls(norm) == _library_urls(norm), text
        assert measure(text, Platform.X) == parse_tweet(text).weightedLength, text


def test_the_extractor_runs_only_on_chunks_with_a_possible_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tt = platforms._twitter()
    extract, seen = tt.extract_urls, []

    def spy(text: str) -> Any:
        seen.append(text)
        return extract(text)

    monkeypatch.setattr(tt, "extract_urls", spy)
    platforms._chunk_urls.cache_clear()
    try:
        text = "Halo. Pukul 08.00 WIB, Rp50.000 terdekat...\nInfo: https://www.kemkes.go.id/v #a"
        assert platforms._urls(text) == _library_urls(text) == [(50, 76, 26)]
        assert seen == [" https://www.kemkes.go.id/v"]
        assert platforms._urls(text + "!") and seen == [" https://www.kemkes.go.id/v"]  # cached
        assert platforms._urls("Tanpa tautan, tanpa titik") == [] and len(seen) == 1
    finally:
        platforms._chunk_urls.cache_clear()


# Adversarial text: Indonesian words, URLs with and without protocol, the characters that stop a
# URL from starting ("@", "$", "#" and their full-width forms, "-", "_", ".", "/"), punctuation,
# emoji, every kind of separator (and look-alikes that are not: "\x1c", ZWSP), full-width dots.
ID_WORDS = ["Halo", "Sobat", "vaksin", "gratis", "terdekat", "pukul", "WIB", "Rp50.000", "08.00"]
URL_PARTS = [
    "https://www.kemkes.go.id/vaksin",
    "http://kemkes.go.id",
    "www.kptd.go.id/x",
    "kemkes.go.id",
    "kptd.go.id/x?a=1&b=2#c",
    "https://t.co/abc123",
    "https://t.co/" + "a" * 41,
    "example.com:8080/p(1)",
    "http://日本語.jp",
    "日本語.jp",
    "пример.рф",
    "xn--p1ai",
    "a.co",
    "a.b",
    ".com",
    ".id",
    "go",
    "https://",
    "www",
    "\u212a.com",
    "EXAMPLE.COM",
]
PREFIX_PARTS = ["@", "＠", "$", "#", "＃", "-", "_", ".", "/", "(", '"', "'", ":", "&", "=", "?"]
PUNCT_PARTS = [".", ",", "!", "?", "…", "．", "。", "｡", ":", ";", ")", "...", "-", "/", "%"]
SEPARATOR_PARTS = [
    *" \n\t\u3000\u00a0\u0085\u2028\u2029\u202f\u205f\u1680\u180e\u2000\u200a\x0b\x0c",
    "\r\n",
    "\r",
    "\x1c",  # str.isspace(), but not a separator for twitter-text
    "\u200b",
]
SPECIAL_PARTS = [
    "😷",
    "📢",
    "👉",
    "🇮🇩",
    "1\ufe0f\u20e3",
    "#\u20e3",
    "❤\ufe0f",
    "👨\u200d👩\u200d👧\u200d👦",
    "é",
    "e\u0301",
    "故",
    "\u202a",
    "\u200e",
    "\u2066",
    "\ufeff",
    "\ufffe",
]
ADVERSARIAL_TEXT = st.lists(
    st.one_of(
        st.sampled_from(ID_WORDS),
        st.sampled_from(URL_PARTS),
        st.sampled_from(PREFIX_PARTS),
        st.sampled_from(PUNCT_PARTS),
        st.sampled_from(SEPARATOR_PARTS),
        st.sampled_from(SPECIAL_PARTS),
        st.text(alphabet='abcxn.:/-_@#$?=&"é日\u3000\u00a0 ', max_size=8),
    ),
    max_size=50,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(ADVERSARIAL_TEXT)
def test_urls_match_the_library_on_generated_text(text: str) -> None:
    assert platforms._urls(text) == _library_urls(text)
    norm = platforms._x_normalize(text)
    assert platforms._urls(norm) == _library_urls(norm)


@settings(max_examples=400, deadline=None)
@given(st.one_of(ADVERSARIAL_TEXT, MIXED_TEXT), st.integers(1, 120))
def test_x_length_and_overflow_match_the_library_on_generated_text(text: str, limit: int) -> None:
    from twitter_text import parse_tweet
    from twitter_text.config import config

    expected = parse_tweet(text, {**config["defaults"], "max_weighted_tweet_length": limit})
    assert measure(text, Platform.X) == expected.weightedLength
    findings = check_text(text, rules_for(Platform.X, {"max_length": limit}))
    length = [f for f in findings if f.rule_id == "platform.x.length"]
    assert bool(length) == (expected.weightedLength > limit)
    if length and not any(c in text for c in INVALID_CHARS):
        span = length[0].span
        assert span is not None
        # Compared where the library's range can say the same: when not even the first character
        # (or URL, or emoji) fits, it still reports that one as valid (its range cannot be empty);
        # and when normalization changed the text, it shifts the end by the whole difference in
        # UTF-16 units, which may land inside a surrogate pair, where the span shifts by the
        # difference in code points.
        tt = platforms._twitter()
        norm = platforms._x_normalize(text)
        _, _, weight, entity = next(platforms._x_pieces(norm))
        if norm == text and (weight if entity else tt.weights[norm[0]]) <= limit * tt.scale:
            assert _utf16_len(text[: span[0]]) == expected.validRangeEnd + 1


# --- each platform's limits, at the boundary ------------------------------------------------------


@pytest.mark.parametrize("platform", list(Platform))
def test_length_limit_boundary(platform: Platform) -> None:
    limit = DEFAULT_RULES[platform].max_length
    assert check_text("x" * limit, platform) == []
    findings = check_text("x" * (limit + 1), platform)
    assert [f.rule_id for f in findings] == [f"platform.{platform}.length"]
    assert findings[0].severity == "block"
    assert findings[0].span == (limit, limit + 1)
    assert str(limit + 1) in findings[0].message and str(limit) in findings[0].message


def test_default_limits() -> None:
    assert set(DEFAULT_RULES) == set(Platform)
    limits = {p: r.max_length for p, r in DEFAULT_RULES.items()}
    assert limits == {
        Platform.X: 280,
        Platform.INSTAGRAM: 2200,
        Platform.THREADS: 500,
        Platform.TIKTOK: 2200,
        Platform.FACEBOOK: 63206,
        Platform.YOUTUBE: 5000,
    }
    assert DEFAULT_RULES[Platform.INSTAGRAM].max_hashtags == 5
    assert DEFAULT_RULES[Platform.YOUTUBE].title_max == 100


def test_x_message_and_weights() -> None:
    url = "https://www.kemkes.go.id/" + "artikel/" * 20
    text = "a" * 257 + " " + url  # 258 + 23
    assert measure(text, Platform.X) == 281
    (finding,) = check_text(text, Platform.X)
    assert finding.message == "X weighted length 281 exceeds 280"
    assert finding.span == (258, len(text))  # the URL counts whole or not at all
    assert check_text("😷" * 140, Platform.X) == []  # an emoji counts 2
    assert check_text("😷" * 140 + "a", Platform.X) != []
    assert check_text("故" * 140, Platform.X) == []
    assert check_text("故" * 141, Platform.X)[0].span == (140, 141)


def test_x_invalid_characters() -> None:
    (finding,) = check_text("Halo\ufeff Sobat", Platform.X)
    assert finding.rule_id == "platform.x.invalid_characters"
    assert finding.span == (4, 5)


def test_x_limit_override() -> None:
    long_post = "a" * 1000
    assert check_text(long_post, Platform.X) != []
    assert check_text(long_post, rules_for(Platform.X, {"max_length": 25000})) == []


def test_instagram_hashtags_limit_and_override() -> None:
    five = "Ayo vaksin! #Sehat #Vaksin #Indonesia #Merdeka78 #GotongRoyong"
    assert count_hashtags(five) == 5
    assert check_text(five, Platform.INSTAGRAM) == []
    six = five + " #ĐoànKết"
    (finding,) = check_text(six, Platform.INSTAGRAM)
    assert finding.rule_id == "platform.instagram.hashtags"
    assert finding.message == "Instagram has 6 hashtags, more than 5"
    assert finding.span == (six.index("#ĐoànKết"), len(six))
    assert check_text(six, rules_for("instagram", {"max_hashtags": 10})) == []
    none_allowed = rules_for(Platform.INSTAGRAM, {"max_hashtags": 0})
    assert check_text("tanpa tagar", none_allowed) == []
    assert check_text("satu #tagar", none_allowed)[0].span == (5, 11)


def test_hashtags_inside_urls_and_words_do_not_count() -> None:
    text = "Lihat https://example.go.id/#jadwal dan www.example.go.id/#a a#b C# &#39; ## #_ok #1 #x"
    assert count_hashtags(text) == 3  # #_ok, #1, #x


def _hashtags_by_pattern(text: str) -> list[tuple[int, int]]:
    """What ``platforms._hashtags`` finds, by its definition: ``#word`` not after a word
    character, ``&`` or ``#``, and not inside a URL that starts earlier in its word."""
    tags = []
    for m in re.finditer(r"#\w+", text):
        start = m.start()
        if start and re.match(r"[\w&#]", text[start - 1]):
            continue
        word = start
        while word and not text[word - 1].isspace():
            word -= 1
        if word < start and re.search(r"https?://|www\.", text[word:start], re.IGNORECASE):
            continue
        tags.append(m.span())
    return tags


@settings(max_examples=300)
@given(st.lists(st.sampled_from([*"#a_&é٣ \n/:.wHTPS", "http://", "www."])).map("".join))
@example("&#a _#b ##c é#d ٣#e /#f www.x/#g #h")
def test_hashtags_are_found_as_defined(text: str) -> None:
    assert platforms._hashtags(text) == _hashtags_by_pattern(text)


def test_instagram_length_boundary_with_emoji() -> None:
    rules = DEFAULT_RULES[Platform.INSTAGRAM]
    assert check_text("😷" * rules.max_length, rules) == []  # characters, not bytes


def test_youtube_description_counts_utf8_bytes() -> None:
    assert check_text("é" * 2500, Platform.YOUTUBE) == []  # 5000 bytes
    (finding,) = check_text("é" * 2500 + "a", Platform.YOUTUBE)
    assert finding.rule_id == "platform.youtube.length"
    assert finding.message == "YouTube description length 5001 bytes exceeds 5000"
    assert finding.span == (2500, 2501)
    assert check_text("😷" * 1250, Platform.YOUTUBE) == []
    (finding,) = check_text("😷" * 1251, Platform.YOUTUBE)
    assert finding.span == (1250, 1251)
    assert finding.message == "YouTube description length 5004 bytes exceeds 5000"


def test_youtube_title() -> None:
    assert check_text("deskripsi", Platform.YOUTUBE, title="é" * 100) == []
    (finding,) = check_text("deskripsi", Platform.YOUTUBE, title="t" * 101)
    assert finding == RuleFinding(
        rule_id="platform.youtube.title_length",
        severity="block",
        message="YouTube title length 101 characters exceeds 100",
        span=(100, 101),
        field="title",
    )


def test_youtube_angle_brackets() -> None:
    findings = check_text("Live <b>sekarang</b>", Platform.YOUTUBE, title="A > B")
    assert [(f.rule_id, f.field, f.span) for f in findings] == [
        ("platform.youtube.angle_brackets", "text", (5, 6)),
        ("platform.youtube.angle_brackets", "title", (2, 3)),
    ]
    assert "4 forbidden characters" in findings[0].message
    assert check_text("tanpa kurung", Platform.YOUTUBE, title="judul") == []
    assert check_text("a < b", Platform.INSTAGRAM) == []


def test_check_text_never_changes_the_text() -> None:
    text = "a" * 3000
    findings = check_text(text, Platform.INSTAGRAM)
    assert len(text) == 3000 and findings[0].span == (2200, 3000)


# --- rules_for ------------------------------------------------------------------------------------


def test_rules_for_defaults_and_replace() -> None:
    assert rules_for(Platform.THREADS) is DEFAULT_RULES[Platform.THREADS]
    rules = rules_for("instagram", {"max_hashtags": 10, "max_length": 3000})
    assert (rules.max_hashtags, rules.max_length) == (10, 3000)
    assert DEFAULT_RULES[Platform.INSTAGRAM].max_hashtags == 5  # defaults untouched


def test_rules_for_unknown_key() -> None:
    with pytest.raises(
        ValueError, match=r"unknown setting 'max_hashtag'.*did you mean 'max_hashtags'"
    ):
        rules_for(Platform.INSTAGRAM, {"max_hashtag": 10})
    with pytest.raises(ValueError, match="unknown setting 'platform'"):
        rules_for(Platform.INSTAGRAM, {"platform": "x"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_hashtags": "ten"}, r"platforms\.instagram\.max_hashtags: expected a whole number"),
        ({"max_length": 0}, r"platforms\.instagram\.max_length"),
        ({"max_length": True}, r"platforms\.instagram\.max_length"),
        ({"measure": "words"}, r"platforms\.instagram\.measure: expected one of"),
    ],
)
def test_rules_for_bad_values(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rules_for(Platform.INSTAGRAM, overrides)


def test_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        rules_for("myspace")


def test_rules_are_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_RULES[Platform.X].max_length = 1  # type: ignore[misc]


# --- truncate ------------------------------------------------------------------------------------


def test_truncate_examples() -> None:
    text = "Baca https://www.kemkes.go.id/artikel/panjang-sekali-sekali selengkapnya di sana"
    assert (
        truncate(text, Platform.X, budget=31)
        == "Baca https://www.kemkes.go.id/artikel/panjang-sekali-sekali …"
    )
    assert truncate(text, Platform.INSTAGRAM, budget=30) == "Baca…"
    assert truncate("pendek", Platform.X) == "pendek"
    assert (
        truncate("Selamat pagi semua", Platform.THREADS, budget=10, ellipsis="...") == "Selamat..."
    )
    assert truncate("Supercalifragilistik", Platform.THREADS, budget=6) == "Super…"
    assert truncate("🇮🇩🇮🇩🇮🇩", Platform.THREADS, budget=5) == "🇮🇩🇮🇩…"
    assert truncate("t" * 150, Platform.YOUTUBE, field="title") == "t" * 99 + "…"
    assert measure(truncate("é " * 3000, Platform.YOUTUBE), Platform.YOUTUBE) <= 5000


def test_truncate_budget_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        truncate("Selamat pagi", Platform.X, budget=1)  # "…" weighs 2 on X


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzÉéñ", min_size=1, max_size=12)
EMOJI = st.sampled_from(
    [
        "😷",
        "🇮🇩",
        "👨\u200d👩\u200d👧\u200d👦",
        "🙋🏽",
        "1\ufe0f\u20e3",
        "❤\ufe0f",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        "e\u0301",
    ]
)
URL = st.sampled_from(
    [
        "https://www.kemkes.go.id/vaksin",
        "http://example.com/a?b=1#c",
        "kemkes.go.id",
        "https://t.co/abc123",
        "https://example.go.id/" + "x" * 60,
    ]
)
SEPARATOR = st.sampled_from([" ", "  ", "\n", ", ", ""])


@st.composite
def texts_with_atoms(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    """A text, and the spans (URLs, emoji) that must never be cut inside."""
    parts: list[str] = []
    whole: list[tuple[int, int]] = []
    at = 0
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["word", "word", "word", "emoji", "url"]))
        atom = draw({"word": WORD, "emoji": EMOJI, "url": URL}[kind])
        before = " " if kind == "url" else draw(SEPARATOR)
        after = " " if kind == "url" else ""
        parts += [before, atom, after]
        start = at + len(before)
        if kind != "word":
            whole.append((start, start + len(atom)))
        at = start + len(atom) + len(after)
    return "".join(parts), whole


@settings(max_examples=200, deadline=None)
@given(
    texts_with_atoms(),
    st.sampled_from([Platform.X, Platform.INSTAGRAM, Platform.YOUTUBE]),
    st.sampled_from(["…", "...", ""]),
    st.data(),
)
def test_truncate_properties(
    sample: tuple[str, list[tuple[int, int]]],
    platform: Platform,
    ellipsis: str,
    data: st.DataObject,
) -> None:
    text, whole = sample
    full = measure(text, platform)
    budget = data.draw(st.integers(measure(ellipsis, platform), full + 3), label="budget")
    result = truncate(text, platform, budget=budget, ellipsis=ellipsis)

    assert measure(result, platform) <= budget
    if full <= budget:
        assert result == text
        return
    assert result.endswith(ellipsis)
    kept = result[: len(result) - len(ellipsis)].rstrip()
    assert text.startswith(kept)
    cut = len(kept)
    urls = platforms._url_spans(text)
    for start, end in [*whole, *urls]:
        assert not start < cut < end, (text[start:end], cut)
    assert platforms._is_boundary(text, cut)


@given(st.text(max_size=300), st.integers(1, 400))
def test_truncate_fits_any_text(text: str, budget: int) -> None:
    result = truncate(text, Platform.THREADS, budget=budget)
    assert len(result) <= budget
    assert text.startswith(result.removesuffix("…").rstrip())


def test_rule_types() -> None:
    assert isinstance(DEFAULT_RULES[Platform.X], PlatformRules)
    assert DEFAULT_RULES[Platform.X].measure == "weighted"


def test_module_docstring_examples() -> None:
    assert doctest.testmod(platforms).failed == 0
