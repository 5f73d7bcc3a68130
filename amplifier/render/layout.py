"""The built-in layout: how a variant's blocks are put together, in Python.

    text = text_of(compose(render_block, budget=280))

Every variant is made of the blocks ``greeting``, ``body``, ``local``, ``link``,
``closing`` and ``hashtags`` (in that order). Each block is rendered, trimmed, and the
empty ones are dropped; the rest are joined with one blank line. So an empty block never
leaves extra blank lines, and unit template authors need not manage spacing.

``body`` is rendered last, so it knows the space left: the variable ``room`` is the
platform's ``budget`` minus the length of the other parts and their separators (on X a
link counts 23), minus a reserve of 5 (an emoji counts 2 on X), and at least 40. A
template that wants to shorten the body writes ``post.body | fit(room)``.

The block ``title`` (YouTube only) is not part of the text; the renderer renders it
separately as the video title. The blocks' default content lives in
``amplifier/data/templates/base.j2``; this module replaces the layout that file used to
compute in Jinja (same output, a fraction of the time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

#: the blocks rendered before ``body`` (whose length decides ``room``)
OTHERS = ("greeting", "local", "link", "closing", "hashtags")
#: the blocks of a variant's text, in the order they appear
ORDER = (OTHERS[0], "body", *OTHERS[1:])
TITLE = "title"
SEPARATOR = "\n\n"
X_LINK_LENGTH = 23  # X counts every link as 23 characters
RESERVE = 5
MIN_ROOM = 40


def join(parts: Iterable[str]) -> str:
    """Trim each part, drop the empty ones, join the rest with one blank line."""
    return SEPARATOR.join(p for p in (part.strip() for part in parts) if p)


def room_for(others: str, platform: str, budget: int) -> int:
    """Space left for ``body`` once ``others`` (the joined other blocks) are placed."""
    if not others:
        return max(budget - RESERVE, MIN_ROOM)
    return max(budget - use_of(others, platform) - RESERVE, MIN_ROOM)


def use_of(trimmed: str, platform: str) -> int:
    """What one trimmed, non-empty part takes of the budget before ``body``: its length
    and one separator (on X a link counts 23). The joined parts' words are the parts'
    words (the separators are white space), so the parts' uses add up to what
    ``room_for`` counts of their joined text."""
    used = len(trimmed) + len(SEPARATOR)
    if platform == "x":
        for word in trimmed.split():
            if "://" in word and len(word) > X_LINK_LENGTH:
                used -= len(word) - X_LINK_LENGTH
    return used


class Part(Protocol):
    """A rendered block: ``tidy`` is its text trimmed (``str.strip``) and tidied (lines
    right-trimmed, runs of blank lines made one); ``used`` is ``use_of`` its trimmed text
    (0 when empty)."""

    @property
    def tidy(self) -> str: ...
    @property
    def used(self) -> int: ...


_P = TypeVar("_P", bound=Part)


def compose(render_block: Callable[[str, int | None], _P], budget: int) -> list[_P]:
    """The variant's non-empty parts in ``ORDER``: its tidied text is their ``tidy`` joined
    with ``SEPARATOR`` (``text_of``). ``render_block(name, room)`` renders one block
    (``room`` is given for ``body`` only).

    Tidying the joined parts is joining the tidied parts: each trimmed part starts and ends
    with a character that is neither white space nor a line break, so the lines of the
    joined text are the parts' lines with one empty line between parts, and no run of blank
    lines crosses a separator. So the tidy text of a block is worked out once per memo entry
    rather than once per variant (``tests/test_render_memo.py`` checks the equality)."""
    others = [render_block(name, None) for name in OTHERS]
    return ordered(others, render_block("body", room_left(others, budget)))


def room_left(others: Sequence[Part], budget: int) -> int:
    """``room`` for ``body``, once the ``OTHERS`` blocks are rendered (their ``used``
    summed: ``room_for`` of their joined text)."""
    return max(budget - sum([p.used for p in others]) - RESERVE, MIN_ROOM)


def ordered(others: Sequence[_P], body: _P) -> list[_P]:
    """The non-empty parts of the ``OTHERS`` blocks (in that order) and ``body``, in ``ORDER``."""
    greeting, *rest = others
    return [p for p in (greeting, body, *rest) if p.tidy]


def text_of(parts: Iterable[Part]) -> str:
    return SEPARATOR.join([p.tidy for p in parts])
