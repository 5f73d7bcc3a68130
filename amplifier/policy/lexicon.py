"""Category-tagged lexicons, and a matcher that sees through obfuscation.

A lexicon entry flags a word or phrase in one category: ``sara`` (incitement against
suku, agama, ras, antargolongan), ``hoax`` (chain-message markers), ``profanity`` and
``electoral`` (partisan terms, checked only in a masa tenang). Entries flag for
``review`` unless they say ``block``::

    lexicon = Lexicon.load(["lexicons/"], allow=["coblos surat suara"])
    for m in lexicon.scan("Dasar b-a-n-g-s-a-t!!", categories={"profanity"}):
        print(m.rule_id, m.severity, m.start, m.end, m.matched)
    # profanity.bangsat review 6 19 b-a-n-g-s-a-t

How a term matches a text:

* Case and diacritics are ignored (``É`` is ``e``), as are invisible characters (zero-width
  space/joiners, word joiner, BOM, soft hyphen, bidi marks). Look-alike Cyrillic and Greek
  letters count as Latin.
* Digits and symbols used as letters match: 4 @ → a, 8 → b, 3 → e, 9 → g, 1 → i or l,
  0 → o, 5 $ → s, 7 → t. Repeated letters match one (``anjiiing``).
* Inside a word, the separators ``. - _ * ' ` ~ | +`` may stand between letters
  (``b-a-n-g-s-a-t``, ``bang.sat``). Runs of three or more single characters separated by
  spaces or those separators are joined (``a n j i n g``); ordinary words never are.
* A term matches whole words only: ``bangsat`` is not found in ``bangsa`` or in ``bangsatu``.
  Words of a phrase may be separated by any spaces or punctuation.
* An entry with ``plain: false`` (a word with an everyday meaning, such as *anjing*, dog)
  matches only when it is disguised; its insult phrases are separate entries.
* A match that lies inside an allow-phrase is dropped.

Each match reports its span in the original text, so ``text[m.start:m.end] == m.matched``.

Speed: a scan splits the text on whitespace and looks every token up in a memo of tokens
already analysed. A text whose tokens are all known to be clean returns at once; only texts
holding a candidate word run the entry's full pattern.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import os
import re
import threading
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from amplifier.errors import Problem

__all__ = [
    "CATEGORIES",
    "Category",
    "Lexicon",
    "LexiconEntry",
    "LexiconError",
    "LexiconMatch",
    "Severity",
]


class Category(StrEnum):
    SARA = "sara"  # suku, agama, ras, antargolongan: incitement and slurs
    HOAX = "hoax"  # markers of hoax chain messages
    PROFANITY = "profanity"  # kata kasar
    ELECTORAL = "electoral"  # partisan terms: checked only in a masa tenang


class Severity(StrEnum):
    BLOCK = "block"
    REVIEW = "review"


CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
_SEVERITY_RANK = {Severity.BLOCK: 2, Severity.REVIEW: 1}


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One rule: a term (and its spellings) in one category."""

    id: str
    term: str
    category: Category
    severity: Severity = Severity.REVIEW
    variants: tuple[str, ...] = ()
    plain: bool = True  # False: match only disguised spellings
    suffixes: tuple[str, ...] = ()  # endings that may follow the last word (-nya, -lah)
    note: str = ""
    source: str = ""  # "file:line" where the entry was written

    @property
    def terms(self) -> tuple[str, ...]:
        return (self.term, *self.variants)


@dataclass(frozen=True, slots=True)
class LexiconMatch:
    """One hit in a text. ``text[start:end] == matched``."""

    rule_id: str
    category: Category
    severity: Severity
    start: int
    end: int
    matched: str
    term: str  # the spelling of the entry that matched


class LexiconError(ValueError):
    """A lexicon file or entry is invalid. ``problems`` lists every error found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the lexicons"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


# --------------------------------------------------------------------------- characters

_SEPARATORS = ".-_*'`~|+"  # may stand between the letters of a word
_SEP_CLASS = re.escape(_SEPARATORS)
_SEPARATOR_SET = frozenset(_SEPARATORS)
_LEET = {"a": "4@", "b": "8", "e": "3", "g": "9", "i": "1", "l": "1", "o": "0", "s": "5$", "t": "7"}
# Skeleton of a word, used to find candidate tokens: leet read as letters, l and i
# merged (1 may be either), separators dropped. Repeated letters are collapsed after.
_SKELETON = str.maketrans(
    {"4": "a", "@": "a", "8": "b", "3": "e", "9": "g", "1": "i", "l": "i", "0": "o"}
    | {"5": "s", "$": "s", "7": "t"}
    | dict.fromkeys(_SEPARATORS)
)
_REPEAT = re.compile(r"(.)\1+", re.DOTALL)
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e"
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"
)
_SEPARATOR_LIKE = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    **dict.fromkeys("\u2018\u2019\u201b\u02bc\u02b9\u00b4\u2032", "'"),
    **dict.fromkeys("\u00b7\u2022\u2219\u22c5\u30fb", "."),
}
_CONFUSABLE = str.maketrans(
    "аеорсухіјѕԁһкмтвнαβεικνορτυχͅıɑɡ",
    "aeopcyxijsdhkmtbhabeiknoptuxiiag",
)
_WORDCHAR_EXTRA = "@$"  # symbols read as letters


def _is_wordchar(ch: str) -> bool:
    return ch.isalnum() or ch in _WORDCHAR_EXTRA


@functools.lru_cache(maxsize=16384)
def _fold_char(c: str) -> str:
    """What one character reads as: lower case, no accents, symbols as spaces."""
    if c < "\x80":
        return c.lower()
    if c in _INVISIBLE:
        return ""
    if c in _SEPARATOR_LIKE:
        return _SEPARATOR_LIKE[c]
    if c.isspace():
        return " "
    decomposed = unicodedata.normalize("NFKD", c.casefold())
    out = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        ch = ch.translate(_CONFUSABLE)
        if ch.isalnum() or ch < "\x80":
            out.append(ch)
        elif ch in _SEPARATOR_LIKE:
            out.append(_SEPARATOR_LIKE[ch])
        else:  # emoji, quotation marks, other symbols: a word break
            out.append(" ")
    return "".join(out)


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


def _skeleton(word: str) -> str:
    return _REPEAT.sub(r"\1", word.translate(_SKELETON))


# Boundaries: "@" and "$" count as word characters (they may be letters).
_LEFT = r"(?<![^\W_])(?<![@$])"
_LEFT_AFTER_FIRST = r"(?<![^\W_].)(?<![@$].)"  # the same, checked after the first char
_RIGHT = r"(?![^\W_])(?![@$])"
_BETWEEN_WORDS = r"(?:[^\w@$]|_)+"
_SINGLE = r"(?:[^\W_]|[@$])"
_RUN = re.compile(rf"{_LEFT}{_SINGLE}(?:[\s{_SEP_CLASS}]+{_SINGLE}{_RIGHT}){{2,}}")
_RUN_GAP = re.compile(rf"[\s{_SEP_CLASS}]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@dataclass(slots=True)
class _Normalized:
    """The folded text and, unless it is the identity, where each of its characters came from."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def _normalize(text: str, *, join: bool) -> _Normalized:
    if text.isascii():
        norm = _Normalized(text.lower())
    else:
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for m in _NON_ASCII.finditer(text):
            i = m.start()
            if pos < i:
                parts.append(text[pos:i].lower())
                starts.extend(range(pos, i))
                ends.extend(range(pos + 1, i + 1))
            c = m.group()
            folded = _fold_char(c)
            if folded:
                parts.append(folded)
                starts.extend([i] * len(folded))
                ends.extend([i + 1] * len(folded))
            elif ends and unicodedata.combining(c):
                ends[-1] = i + 1  # an accent belongs to the letter before it
            pos = i + 1
        if pos < len(text):
            parts.append(text[pos:].lower())
            starts.extend(range(pos, len(text)))
            ends.extend(range(pos + 1, len(text) + 1))
        norm = _Normalized("".join(parts), starts, ends)
    if join:
        norm = _join_runs(norm)
    return norm


def _join_runs(norm: _Normalized) -> _Normalized:
    """Join spaced-out single characters ("a n j i n g" → "anjing"), keeping the map."""
    drop: list[tuple[int, int]] = []
    for run in _RUN.finditer(norm.text):
        gaps = [g.span() for g in _RUN_GAP.finditer(norm.text, run.start(), run.end())]
        # Only runs spread over words are joined: "a.n.j.i.n.g" is one word already.
        if any(not set(norm.text[a:b]) <= _SEPARATOR_SET for a, b in gaps):
            drop.extend(gaps)
    if not drop:
        return norm
    n = len(norm.text)
    starts = norm.starts if norm.starts is not None else list(range(n))
    ends = norm.ends if norm.ends is not None else list(range(1, n + 1))
    keep: list[int] = []
    pos = 0
    for a, b in drop:
        keep.extend(range(pos, a))
        pos = b
    keep.extend(range(pos, n))
    return _Normalized(
        "".join(norm.text[k] for k in keep), [starts[k] for k in keep], [ends[k] for k in keep]
    )


# --------------------------------------------------------------------------- terms

_SLOT_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_ENTRY_ID = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*\Z")
_TERM_TOKEN = re.compile(
    rf"\{{(?P<slot>[^{{}}]*)\}}"
    rf"|(?P<word>[^\W_]+(?:[{_SEP_CLASS}]+[^\W_]+)*)"
    rf"|(?P<gap>[\s{_SEP_CLASS}]+)"
    rf"|(?P<punct>[^\w\s{{}}])"
    rf"|(?P<bad>.)",
    re.DOTALL,
)
_STRIP_SEPARATORS = str.maketrans(dict.fromkeys(_SEPARATORS))
# Words too common to be a good needle (only speed depends on these lists). Words in
# _UBIQUITOUS are assumed present in every text: the pre-check does not look for them.
_UBIQUITOUS = frozenset(
    re.findall(
        r"\S+",
        """di ke dari yang dan ini itu untuk dengan pada ada akan atau juga kita kami anda kamu
        mau tahu tidak jangan ayo mari semua harus sudah bisa the to of and for all you it is
        no a an in on""",
    )
)
_COMMON = _UBIQUITOUS | frozenset(
    re.findall(r"\S+", "dasar info media grup tim pilih nomor kampanye sebelum share vote persen")
)


class _TermError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Unit:
    kind: str  # "word", "slot" or "punct"
    text: str  # the folded word (separators removed), slot name or punctuation mark
    spaced: bool  # whether a space or separator stood before it


def _parse_term(term: str) -> list[_Unit]:
    folded = _fold(term).strip()
    units: list[_Unit] = []
    spaced = False
    for m in _TERM_TOKEN.finditer(folded):
        kind = m.lastgroup or "bad"
        if kind == "gap":
            spaced = True
            continue
        if kind == "bad":
            raise _TermError(f"unexpected character {m.group()!r}")
        if kind == "slot":
            name = m.group("slot").strip()
            if not _SLOT_NAME.match(name):
                raise _TermError(f"bad slot name {{{name}}}: use lower-case letters, digits, _")
            units.append(_Unit("slot", name, spaced))
        elif kind == "word":
            units.append(_Unit("word", m.group().translate(_STRIP_SEPARATORS), spaced))
        else:
            units.append(_Unit("punct", m.group(), spaced))
        spaced = False
    words = [u for u in units if u.kind != "punct"]
    if not words:
        raise _TermError("a term needs at least one word")
    for before, after in itertools.pairwise(units):
        if before.kind != "punct" and after.kind != "punct" and not after.spaced:
            raise _TermError("a {slot} must stand as a whole word")
    if all(u.kind == "word" for u in words) and sum(len(u.text) for u in words) < 3:
        raise _TermError("a term needs at least 3 letters or digits, or it matches too much")
    return units


def _word_pattern(word: str) -> str:
    """Regex for one word: leet, repeats and inner separators allowed."""
    letters = _REPEAT.sub(r"\1", word)
    out = []
    for i, c in enumerate(letters):
        chars = c + _LEET.get(c, "")
        cls = f"[{re.escape(chars)}]" if len(chars) > 1 else re.escape(c)
        last = i == len(letters) - 1
        tail = f"{cls}*" if last else f"[{re.escape(chars)}{_SEP_CLASS}]*"
        if i == 0:
            out.append(f"{cls}{_LEFT_AFTER_FIRST}{tail}")
        else:
            out.append(f"{cls}+" if last else f"{cls}{tail}")
    return "".join(out)


def _phrase_pattern(units: Sequence[_Unit], slots: Mapping[str, Sequence[str]]) -> str:
    out = []
    prev: _Unit | None = None
    for unit in units:
        if prev is not None:
            if unit.kind == "punct":
                out.append(r"\s*")
            elif prev.kind == "punct":
                out.append(r"(?:[^\w@$]|_)*")
            else:
                out.append(_BETWEEN_WORDS)
        if unit.kind == "word":
            out.append(_word_pattern(unit.text))
        elif unit.kind == "slot":
            out.append(_slot_pattern(unit.text, slots))
        else:
            out.append(re.escape(unit.text) + "+")
        prev = unit
    return "".join(out)


def _slot_pattern(name: str, slots: Mapping[str, Sequence[str]]) -> str:
    if name not in slots:
        raise _TermError(f"unknown slot {{{name}}}{_suggest(name, slots)}")
    values = sorted({_fold(v).strip() for v in slots[name]}, key=len, reverse=True)
    alternatives = [_phrase_pattern(_parse_slot_value(v), {}) for v in values]
    return "(?:" + "|".join(alternatives) + ")"


@functools.lru_cache(maxsize=4096)
def _parse_slot_value(value: str) -> tuple[_Unit, ...]:
    units = _parse_term(value) if len(value.translate(_STRIP_SEPARATORS)) >= 3 else None
    if units is None:  # short slot values ("01", "ai") are fine inside a phrase
        units = [_Unit("word", w.translate(_STRIP_SEPARATORS), True) for w in value.split()]
        if not units or not all(re.fullmatch(r"[^\W_]+", u.text) for u in units):
            raise _TermError(f"bad slot value {value!r}")
    if any(u.kind != "word" for u in units):
        raise _TermError(f"slot value {value!r} may hold only words")
    return tuple(units)


def _plain_pattern(units: Sequence[_Unit], slots: Mapping[str, Sequence[str]]) -> str:
    out = []
    for i, unit in enumerate(units):
        if i:
            out.append(r"\s+" if unit.spaced else r"\s*" if unit.kind == "punct" else "")
        if unit.kind == "word":
            out.append(re.escape(unit.text))
        elif unit.kind == "slot":
            values = sorted(slots[unit.text], key=len, reverse=True)
            out.append("(?:" + "|".join(r"\s+".join(map(re.escape, v.split())) for v in values))
            out.append(")")
        else:
            out.append(re.escape(unit.text) + "+")
    return "".join(out)


def _needles(
    units: Sequence[_Unit], slots: Mapping[str, Sequence[str]], suffixes: Sequence[str]
) -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
    """The skeleton keys a text must hold for the term to match in it.

    Every word (and slot) of a matching phrase is a whole word of the text, or a part of
    one between separators, so its skeleton is one of the text's token keys. Returns the
    keys of the rarest word, used to index the rule, and for every word and slot the keys
    of which one must be present.
    """
    last_word = max(i for i, u in enumerate(units) if u.kind != "punct")
    options = []
    for i, unit in enumerate(units):
        if unit.kind == "word":
            words = [unit.text]
        elif unit.kind == "slot":
            words = [
                max((u.text for u in _parse_slot_value(_fold(value).strip())), key=len)
                for value in slots[unit.text]
            ]
        else:
            continue
        keys = {_skeleton(w) for w in words}
        if i == last_word:
            keys.update(_skeleton(w + _fold(s)) for w in words for s in suffixes)
        shortest = min(len(_skeleton(w)) for w in words)
        rare = shortest >= 3 and not any(w in _COMMON for w in words)
        options.append(((rare, shortest, unit.kind == "word", i), frozenset(keys), words))
    best = max(options)[1]
    required = tuple(k for _, k, w in options if not any(x in _UBIQUITOUS for x in w))
    return best, required


@functools.cache
def _regex(source: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(source, flags)


@dataclass(frozen=True, slots=True)
class _Rule:
    """One spelling of an entry. Its regexes are compiled when first needed."""

    entry: LexiconEntry
    term: str
    source: str  # regex over the folded text
    plain_source: str | None  # set when only disguised spellings count
    needles: frozenset[str]  # keys of its rarest word: the rule is indexed under these
    required: tuple[frozenset[str], ...]  # for each word, keys of which one must be present

    @property
    def pattern(self) -> re.Pattern[str]:
        return _regex(self.source)

    @property
    def plain(self) -> re.Pattern[str] | None:
        return None if self.plain_source is None else _regex(self.plain_source, re.IGNORECASE)


def _compile_rule(entry: LexiconEntry, term: str, slots: Mapping[str, Sequence[str]]) -> _Rule:
    units = _parse_term(term)
    body = _phrase_pattern(units, slots)
    if units[-1].kind != "punct":
        if entry.suffixes:
            endings = "|".join(
                _word_pattern(_fold(s)).replace(_LEFT_AFTER_FIRST, "", 1) for s in entry.suffixes
            )
            body += f"(?:[{_SEP_CLASS}]*(?:{endings}))?"
        body += _RIGHT
    plain = None if entry.plain else _plain_pattern(units, slots)
    needles, required = _needles(units, slots, entry.suffixes)
    return _Rule(entry, term, body, plain, needles, required)


@functools.lru_cache(maxsize=4096)
def _compile_rule_cached(
    entry: LexiconEntry, term: str, slots: tuple[tuple[str, tuple[str, ...]], ...]
) -> _Rule:
    return _compile_rule(entry, term, dict(slots))


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class _TokenInfo:
    """What a whitespace-separated token can contribute to a match."""

    keys: frozenset[str]  # skeleton keys of its words that some rule requires
    rules: frozenset[int]  # rules indexed under one of those keys
    starts_single: bool  # begins with a lone character ("a", "g.sat")
    ends_single: bool  # ends with a lone character ("a", "xy.a")
    inner_run: bool  # holds lone characters that a folded space separates
    transparent: bool  # only separators or invisible characters

    @property
    def clean(self) -> bool:
        return not (self.keys or self.starts_single or self.ends_single or self.inner_run)


_PIECE = re.compile(r"(?:[^\W_]|[@$])+|[^\w@$]+|_+")


def _analyze(
    token: str, vocabulary: Collection[str], needles: Mapping[str, frozenset[int]]
) -> _TokenInfo:
    """Skeleton keys of every word a pattern could see in ``token``, and its lone characters.

    Words are runs of letters and digits; separators (``bang-sat``) may join runs into one
    word or part them, so every contiguous stretch of runs is a possible word.
    """
    keys: set[str] = set()
    subs = _fold(token).split()
    flags = []  # (transparent, starts_single, ends_single) per folded sub-token
    for sub in subs:
        pieces = _PIECE.findall(sub)
        groups: list[list[str]] = [[]]
        for piece in pieces:
            if _is_wordchar(piece[0]):
                groups[-1].append(piece)
            elif piece.strip(_SEPARATORS) and groups[-1]:
                groups.append([])  # hard punctuation ends the group of joined parts
        for group in groups:
            for i in range(len(group)):
                for j in range(i + 1, min(len(group), i + 40) + 1):
                    key = _skeleton("".join(group[i:j]))
                    if key in vocabulary:
                        keys.add(key)
        words = [k for k, p in enumerate(pieces) if _is_wordchar(p[0])]
        if not words:
            flags.append((not sub.strip(_SEPARATORS), False, False))
            continue
        first, last = words[0], words[-1]
        lead_ok = all(not p.strip(_SEPARATORS) for p in pieces[:first])
        trail_ok = all(not p.strip(_SEPARATORS) for p in pieces[last + 1 :])
        flags.append(
            (False, lead_ok and len(pieces[first]) == 1, trail_ok and len(pieces[last]) == 1)
        )
    solid = [f for f in flags if not f[0]]
    inner_run = any(a[2] and b[1] for a, b in itertools.pairwise(solid))
    rules = frozenset().union(*(needles.get(k, ()) for k in keys))
    return _TokenInfo(
        frozenset(keys),
        rules,
        bool(solid) and solid[0][1],
        bool(solid) and solid[-1][2],
        inner_run,
        not solid,
    )


@dataclass(slots=True)
class _Summary:
    """What a set of tokens holds: keys, indexed rules, tokens with lone edge characters."""

    keys: frozenset[str]
    rules: frozenset[int]
    edges: frozenset[str]
    inner_run: bool
    candidates: dict[frozenset[int], frozenset[int]] = field(default_factory=dict)

    def candidates_in(self, wanted: frozenset[int], rules: Sequence[_Rule]) -> frozenset[int]:
        """Rules among ``wanted`` whose every required word is present."""
        found = self.candidates.get(wanted)
        if found is None:
            found = frozenset(
                i
                for i in self.rules & wanted
                if all(not keys.isdisjoint(self.keys) for keys in rules[i].required)
            )
            self.candidates[wanted] = found
        return found


# --------------------------------------------------------------------------- lexicon

_MEMO_LIMIT = 200_000


class Lexicon:
    """A compiled set of entries and allow-phrases. Immutable; safe to share between threads."""

    def __init__(
        self,
        entries: Iterable[LexiconEntry],
        *,
        allow: Iterable[str] = (),
        slots: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.allow: tuple[str, ...] = tuple(allow)
        self.slots: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (slots or {}).items()}
        slots_key = tuple(sorted(self.slots.items()))
        problems: list[Problem] = []
        rules: list[_Rule] = []
        seen: set[str] = set()
        checked = []
        for entry in entries:
            if entry.category not in CATEGORIES or entry.severity not in tuple(Severity):
                problems.append(_problem(entry.source, f"{entry.id}: bad category or severity"))
                continue
            entry = replace(
                entry, category=Category(entry.category), severity=Severity(entry.severity)
            )
            checked.append(entry)
            if entry.id in seen:
                problems.append(_problem(entry.source, f"duplicate entry id {entry.id!r}"))
            seen.add(entry.id)
            for term in entry.terms:
                try:
                    rules.append(_compile_rule_cached(entry, term, slots_key))
                except _TermError as exc:
                    problems.append(_problem(entry.source, f"{entry.id}: {term!r}: {exc}"))
        allow_patterns: list[re.Pattern[str]] = []
        for phrase in self.allow:
            try:
                units = _parse_term(phrase)
                allow_patterns.append(re.compile(_phrase_pattern(units, self.slots) + _RIGHT))
            except _TermError as exc:
                problems.append(_problem("", f"allow-phrase {phrase!r}: {exc}"))
        if problems:
            raise LexiconError(problems)
        self.entries: tuple[LexiconEntry, ...] = tuple(checked)
        self._rules = tuple(rules)
        self._allow_patterns = tuple(allow_patterns)
        index: dict[str, set[int]] = {}
        for i, rule in enumerate(self._rules):
            for needle in rule.needles:
                index.setdefault(needle, set()).add(i)
        self._needles = {k: frozenset(v) for k, v in index.items()}
        self._vocabulary = frozenset(index).union(*(k for r in self._rules for k in r.required))
        self._memo: dict[str, _TokenInfo] = {}
        self._clean: set[str] = set()
        self._summaries: dict[frozenset[str], _Summary] = {}
        self._memo_lock = threading.Lock()
        self._by_category: dict[frozenset[str], frozenset[int]] = {}
        self._all_categories = frozenset(CATEGORIES)

    def __len__(self) -> int:
        return len(self.entries)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Digest of the entries, slots and allow-phrases: equal lexicons, equal digests."""
        text = repr((self.entries, sorted(self.slots.items()), self.allow))
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def __repr__(self) -> str:
        return f"<Lexicon {len(self.entries)} entries, {len(self.allow)} allow-phrases>"

    # ------------------------------------------------------------------ construction

    @classmethod
    def defaults(cls) -> Lexicon:
        """The lexicons shipped with amplifier (``amplifier/data/lexicons/*.yaml``)."""
        return _default_lexicon()

    @classmethod
    def load(
        cls,
        paths: Iterable[str | os.PathLike[str]] = (),
        *,
        defaults: bool = True,
        allow: Iterable[str] = (),
        disable: Iterable[str] = (),
    ) -> Lexicon:
        """Load lexicon files (or folders of ``*.yaml``) on top of the defaults.

        ``defaults=False`` switches the shipped lexicons off. ``allow`` adds allow-phrases,
        ``disable`` switches entries off by id. Raises ``LexiconError`` (a ``ValueError``)
        naming every bad file and entry.
        """
        sources: list[tuple[str, str]] = []
        if defaults:
            sources.extend(_default_sources())
        problems: list[Problem] = []
        for raw in paths:
            path = Path(raw)
            files = [path]
            if path.is_dir():
                files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            for file in files:
                try:
                    sources.append((str(file), file.read_bytes().decode("utf-8-sig")))
                except (OSError, UnicodeDecodeError) as exc:
                    problems.append(Problem(str(file), 1, 1, "", f"cannot read: {exc}"))
        return _build(sources, problems, list(allow), list(disable))

    # ------------------------------------------------------------------ scanning

    def scan(self, text: str, *, categories: Collection[str] | None = None) -> list[LexiconMatch]:
        """All matches in ``text``, ordered by position. ``categories`` limits the search."""
        wanted = self._rules_in(categories)
        tokens = text.split()
        if self._clean.issuperset(tokens) or not wanted:
            return []
        dirty = frozenset(tokens).difference(self._clean)
        summary = self._summaries.get(dirty) or self._summarize(dirty, store=True)
        norm: _Normalized | None = None
        if summary.inner_run or (summary.edges and self._runs_across(tokens, summary.edges)):
            norm = _normalize(text, join=True)
            summary = self._summarize(frozenset(norm.text.split()), store=False)
        candidates = summary.candidates_in(wanted, self._rules)
        if not candidates:
            return []
        if norm is None:
            norm = _normalize(text, join=False)
        return self._matches(text, norm, set(candidates))

    def _summarize(self, tokens: frozenset[str], *, store: bool) -> _Summary:
        infos = [self._info(t) for t in tokens]
        summary = _Summary(
            frozenset().union(*(info.keys for info in infos)),
            frozenset().union(*(info.rules for info in infos)),
            frozenset(
                t for t, i in zip(tokens, infos, strict=True) if i.starts_single or i.ends_single
            ),
            any(info.inner_run for info in infos),
        )
        if store:
            with self._memo_lock:
                if len(self._summaries) >= _MEMO_LIMIT // 4:
                    self._summaries.clear()
                self._summaries[tokens] = summary
        return summary

    def _runs_across(self, tokens: list[str], edges: frozenset[str]) -> bool:
        """Whether a token ending in a lone character is followed by one starting with one.

        Such neighbours may form a spaced-out word ("a n j i n g") to be joined. Tokens of
        separators only ("-") between them do not count.
        """
        for token in edges:
            if not self._info(token).ends_single:
                continue
            i = -1
            while True:
                try:
                    i = tokens.index(token, i + 1)
                except ValueError:
                    break
                j = i + 1
                while j < len(tokens) and self._info(tokens[j]).transparent:
                    j += 1
                if j < len(tokens) and tokens[j] in edges and self._info(tokens[j]).starts_single:
                    return True
        return False

    def _scan_exhaustive(
        self, text: str, *, categories: Collection[str] | None = None
    ) -> list[LexiconMatch]:
        """``scan`` without the token pre-check: every rule runs (for tests)."""
        return self._matches(text, _normalize(text, join=True), set(self._rules_in(categories)))

    def _rules_in(self, categories: Collection[str] | None) -> frozenset[int]:
        key = self._all_categories if categories is None else frozenset(categories)
        found = self._by_category.get(key)
        if found is None:
            unknown = sorted(key - set(CATEGORIES))
            if unknown:
                raise ValueError(f"unknown lexicon categories {unknown}; known: {CATEGORIES}")
            found = frozenset(i for i, r in enumerate(self._rules) if r.entry.category in key)
            self._by_category[key] = found
        return found

    def _info(self, token: str) -> _TokenInfo:
        info = self._memo.get(token)
        if info is None:
            info = _analyze(token, self._vocabulary, self._needles)
            with self._memo_lock:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                    self._clean = set()
                self._memo[token] = info
                if info.clean:
                    self._clean.add(token)
        return info

    def _matches(self, text: str, norm: _Normalized, rules: set[int]) -> list[LexiconMatch]:
        found: list[LexiconMatch] = []
        allowed: list[tuple[int, int]] | None = None
        for i in sorted(rules):
            rule = self._rules[i]
            plain = rule.plain
            for m in rule.pattern.finditer(norm.text):
                start, end = norm.span(*m.span())
                matched = text[start:end]
                if plain is not None and plain.fullmatch(matched):
                    continue
                if self._allow_patterns:
                    if allowed is None:
                        allowed = [
                            a.span() for p in self._allow_patterns for a in p.finditer(norm.text)
                        ]
                    if any(a <= m.start() and m.end() <= b for a, b in allowed):
                        continue
                entry = rule.entry
                found.append(
                    LexiconMatch(
                        entry.id, entry.category, entry.severity, start, end, matched, rule.term
                    )
                )
        return _prune(found)


def _prune(matches: list[LexiconMatch]) -> list[LexiconMatch]:
    """Drop a match covered by a wider (or equal, stronger) one of the same category,
    and a match that overlaps a wider one of the same entry."""
    order = sorted(
        matches, key=lambda m: (m.start - m.end, -_SEVERITY_RANK[m.severity], m.start, m.rule_id)
    )
    kept: list[LexiconMatch] = []
    for m in order:
        if any(
            (k.rule_id == m.rule_id and k.start < m.end and m.start < k.end)
            or (
                k.category == m.category
                and k.start <= m.start
                and m.end <= k.end
                and _SEVERITY_RANK[k.severity] >= _SEVERITY_RANK[m.severity]
            )
            for k in kept
        ):
            continue
        kept.append(m)
    return sorted(kept, key=lambda m: (m.start, m.end, m.rule_id))


# --------------------------------------------------------------------------- files

_DEFAULTS_PACKAGE = "amplifier"
_DEFAULTS_DIR = "data/lexicons"
_FILE_KEYS = ("category", "severity", "slots", "allow", "disable", "entries", "description")
_ENTRY_KEYS = ("id", "term", "variants", "category", "severity", "plain", "suffixes", "note")


def _problem(source: str, message: str, key: str = "") -> Problem:
    file, _, line = source.rpartition(":")
    if not file or not line.isdigit():
        return Problem(source or "<lexicon>", 1, 1, key, message)
    return Problem(file, int(line), 1, key, message)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _default_sources() -> list[tuple[str, str]]:
    folder = resources.files(_DEFAULTS_PACKAGE).joinpath(_DEFAULTS_DIR)
    out: list[tuple[str, str]] = []
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.name.endswith((".yaml", ".yml")):
            out.append(
                (f"{_DEFAULTS_PACKAGE}/{_DEFAULTS_DIR}/{item.name}", item.read_text("utf-8"))
            )
    return out


@functools.cache
def _default_lexicon() -> Lexicon:
    return _build(_default_sources(), [], [], [])


@dataclass
class _File:
    """A parsed lexicon file, with the (line, column) of every key and value."""

    name: str
    data: Any
    marks: dict[tuple[str | int, ...], tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, loc: tuple[str | int, ...], message: str) -> None:
        probe = loc
        while probe not in self.marks and probe:
            probe = probe[:-1]
        line, column = self.marks.get(probe, (1, 1))
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        self.problems.append(Problem(self.name, line, column, key, message))

    def where(self, loc: tuple[str | int, ...]) -> str:
        return f"{self.name}:{self.marks.get(loc, (1, 1))[0]}"


_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(name: str, text: str) -> _File:
    loader = _YAML_LOADER(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        return _File(name, None, problems=[Problem(name, line, column, "", f"bad YAML: {problem}")])
    finally:
        loader.dispose()
    doc = _File(name, data)
    if node is not None:
        _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, loc: tuple[str | int, ...], doc: _File) -> None:
    doc.marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                doc.marks[(*loc, key)] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                doc.problem((*loc, key), f"duplicate key {key!r}")
            seen.add(key)
            _walk(value_node, (*loc, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*loc, i), doc)


def _strings(doc: _File, loc: tuple[str | int, ...], value: Any, label: str = "") -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        doc.problem(loc, f"{label}expected a list of non-empty strings")
        return []
    return [v.strip() for v in value]


def _choice(
    doc: _File, loc: tuple[str | int, ...], value: Any, choices: Sequence[str], label: str = ""
) -> str | None:
    if isinstance(value, str) and value in choices:
        return value
    shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__}"
    hint = _suggest(value, choices) if isinstance(value, str) else ""
    doc.problem(loc, f"{label}expected one of {', '.join(choices)}, got {shown}{hint}")
    return None


def _parse_file(
    doc: _File,
) -> tuple[list[tuple[LexiconEntry, tuple[Any, ...]]], dict[str, list[str]], list[str], list[str]]:
    entries: list[tuple[LexiconEntry, tuple[Any, ...]]] = []
    slots: dict[str, list[str]] = {}
    data = doc.data
    if not isinstance(data, dict):
        doc.problem((), "a lexicon file must be a mapping with an 'entries' list")
        return entries, slots, [], []
    for key in data:
        if key not in _FILE_KEYS:
            doc.problem((str(key),), f"unknown key {key!r}{_suggest(str(key), _FILE_KEYS)}")
    file_category = data.get("category")
    if file_category is not None:
        file_category = _choice(doc, ("category",), file_category, CATEGORIES)
    file_severity = _choice(doc, ("severity",), data.get("severity", "review"), tuple(Severity))
    raw_slots = data.get("slots") or {}
    if not isinstance(raw_slots, dict):
        doc.problem(("slots",), "expected a mapping of slot name to a list of words")
        raw_slots = {}
    for name, values in raw_slots.items():
        if not isinstance(name, str) or not _SLOT_NAME.match(name):
            doc.problem(("slots", str(name)), "slot names use lower-case letters, digits and _")
            continue
        slots[name] = _strings(doc, ("slots", name), values)
        for k, value in enumerate(slots[name]):
            try:
                _parse_slot_value(_fold(value).strip())
            except _TermError as exc:
                doc.problem(("slots", name, k), str(exc))
    allow = _strings(doc, ("allow",), data.get("allow"))
    disable = _strings(doc, ("disable",), data.get("disable"))
    raw_entries = data.get("entries") or []
    if not isinstance(raw_entries, list):
        doc.problem(("entries",), "expected a list of entries")
        raw_entries = []
    for i, raw in enumerate(raw_entries):
        loc: tuple[str | int, ...] = ("entries", i)
        if not isinstance(raw, dict):
            doc.problem(loc, "an entry must be a mapping with id, term and category")
            continue
        entry = _parse_entry(doc, loc, raw, file_category, file_severity)
        if entry is not None:
            entries.append((entry, loc))
    return entries, slots, allow, disable


def _parse_entry(
    doc: _File, loc: tuple[str | int, ...], raw: dict[Any, Any], category: Any, severity: Any
) -> LexiconEntry | None:
    before = len(doc.problems)
    raw_id = raw.get("id")
    label = f"entry {raw_id!r}: " if isinstance(raw_id, str) else f"entry #{int(loc[-1]) + 1}: "

    def bad(key: str | int, message: str) -> None:
        doc.problem((*loc, key), label + message)

    for key in raw:
        if key not in _ENTRY_KEYS:
            bad(str(key), f"unknown key {key!r}{_suggest(str(key), _ENTRY_KEYS)}")
    if not isinstance(raw_id, str) or not _ENTRY_ID.match(raw_id):
        bad(
            "id",
            "expected an id of lower-case letters and digits joined by . - or _ "
            "(e.g. profanity.bangsat)",
        )
    term = raw.get("term")
    if not isinstance(term, str) or not term.strip():
        bad("term", "expected a word or phrase")
    if "category" in raw:
        category = _choice(doc, (*loc, "category"), raw["category"], CATEGORIES, label)
    elif category is None:
        bad("category", f"missing category: one of {', '.join(CATEGORIES)}")
    if "severity" in raw:
        severity = _choice(doc, (*loc, "severity"), raw["severity"], tuple(Severity), label)
    plain = raw.get("plain", True)
    if not isinstance(plain, bool):
        bad("plain", "expected true or false")
    variants = _strings(doc, (*loc, "variants"), raw.get("variants"), label)
    suffixes = _strings(doc, (*loc, "suffixes"), raw.get("suffixes"), label)
    note = raw.get("note", "")
    if not isinstance(note, str):
        bad("note", "expected text")
    if len(doc.problems) > before or severity is None:
        return None
    assert isinstance(raw_id, str) and isinstance(term, str)
    for k, spelling in enumerate([term, *variants]):
        try:
            _parse_term(spelling)
        except _TermError as exc:
            doc.problem(
                (*loc, "term") if k == 0 else (*loc, "variants", k - 1),
                f"{label}{spelling!r}: {exc}",
            )
    if len(doc.problems) > before:
        return None
    return LexiconEntry(
        id=raw_id,
        term=term.strip(),
        category=Category(category),
        severity=Severity(severity),
        variants=tuple(variants),
        plain=plain,
        suffixes=tuple(suffixes),
        note=note,
        source=doc.where(loc),
    )


def _build(
    sources: Sequence[tuple[str, str]],
    problems: list[Problem],
    allow: Sequence[str],
    disable: Sequence[str],
) -> Lexicon:
    entries: dict[str, LexiconEntry] = {}
    located: list[tuple[LexiconEntry, _File, tuple[Any, ...]]] = []
    slots: dict[str, list[str]] = {}
    disabled: list[tuple[str, _File | None, tuple[Any, ...]]] = []
    allowed: list[tuple[str, _File | None, tuple[Any, ...]]] = [(a, None, ()) for a in allow]
    docs: list[_File] = []
    for name, text in sources:
        doc = _read(name, text)
        docs.append(doc)
        if doc.data is None and not doc.problems:
            doc.problem((), "the file is empty: expected a mapping with an 'entries' list")
        if doc.problems:
            continue
        file_entries, file_slots, file_allow, file_disable = _parse_file(doc)
        for slot, values in file_slots.items():
            slots.setdefault(slot, []).extend(v for v in values if v not in slots.get(slot, []))
        allowed.extend((a, doc, ("allow", k)) for k, a in enumerate(file_allow))
        disabled.extend((d, doc, ("disable", k)) for k, d in enumerate(file_disable))
        for entry, loc in file_entries:
            if entry.id in entries:
                first = entries[entry.id].source
                doc.problem(
                    (*loc, "id"),
                    f"entry {entry.id!r}: duplicate entry id (first at {first});"
                    " use 'disable' to switch the first off and a new id",
                )
                continue
            entries[entry.id] = entry
            located.append((entry, doc, loc))
    # Terms are checked against the slots of all files together.
    for entry, doc, loc in located:
        for k, spelling in enumerate(entry.terms):
            where = (*loc, "term") if k == 0 else (*loc, "variants", k - 1)
            try:
                _phrase_pattern(_parse_term(spelling), slots)
            except _TermError as exc:
                doc.problem(where, f"entry {entry.id!r}: {spelling!r}: {exc}")
    disabled.extend((d, None, ()) for d in disable)
    for entry_id, dis_doc, loc in disabled:
        if entry_id not in entries:
            message = f"cannot disable unknown entry {entry_id!r}{_suggest(entry_id, entries)}"
            if dis_doc is None:
                problems.append(Problem("<arguments>", 1, 1, "disable", message))
            else:
                dis_doc.problem(loc, message)
        else:
            entries.pop(entry_id)
    for phrase, allow_doc, loc in allowed:
        try:
            _phrase_pattern(_parse_term(phrase), slots)
        except _TermError as exc:
            message = f"allow-phrase {phrase!r}: {exc}"
            if allow_doc is None:
                problems.append(Problem("<arguments>", 1, 1, "allow", message))
            else:
                allow_doc.problem(loc, message)
    for doc in docs:
        problems.extend(doc.problems)
    if problems:
        raise LexiconError(problems)
    return Lexicon(entries.values(), allow=[a for a, _, _ in allowed], slots=slots)
