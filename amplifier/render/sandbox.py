"""The sandbox every template renders in: no internals, bounded loops, bounded output.

Unit-authored templates are untrusted. On top of Jinja2's ``ImmutableSandboxedEnvironment``
(no underscore attributes, no unsafe callables, and no method that changes a list, dict or
set: the variables are shared by every unit's render, so ``campaign.hashtags.append(…)``
in one unit's template would change the others') this caps:

- ``range()`` at ``MAX_RANGE`` items, and all ``range`` iterations in one render at
  ``MAX_ITERATIONS``;
- ``*``, ``**`` and ``%`` so a template cannot build a huge string or number;
- width arguments of ``center``, ``indent``, ``wordwrap`` and format specs;
- the rendered output at ``MAX_OUTPUT`` characters (``RenderBudget``).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, Template
from jinja2.filters import do_center, do_indent, do_wordwrap
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RANGE = 1_000
MAX_ITERATIONS = 20_000
MAX_OUTPUT = 100_000
MAX_WIDTH = 1_000
MAX_POWER = 64

_iterations: contextvars.ContextVar[list[int]] = contextvars.ContextVar("iterations")
_WIDE_SPEC = re.compile(r"%[-+ #0]*\d{4,}|\{[^}]*:[^}]*\d{4,}[^}]*\}")


class TemplateLimitError(RuntimeError):
    """A template went past one of the sandbox's limits."""


def _range(*args: int) -> Iterator[int]:
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise TemplateLimitError(f"range() of {len(items)} items is over the limit of {MAX_RANGE}")
    budget = _iterations.get(None)
    for item in items:
        if budget is not None:
            budget[0] += 1
            if budget[0] > MAX_ITERATIONS:
                raise TemplateLimitError(f"more than {MAX_ITERATIONS} loop iterations")
        yield item


def _capped(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def wrapper(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> Any:
        if isinstance(width, int) and width > MAX_WIDTH:
            raise TemplateLimitError(f"{name} width {width} is over the limit of {MAX_WIDTH}")
        return fn(value, width, *args, **kwargs)

    return wrapper


class AmplifierSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Template] = {}

    def _load_template(self, name: str, globals: MutableMapping[str, Any] | None) -> Template:
        """A plain dict in front of Jinja's LRU cache (which locks and reorders on every
        hit, ~11 µs per ``extends`` level): templates never reload within a plan."""
        if globals or self.auto_reload:
            return super()._load_template(name, globals)
        found = self._loaded.get(name)
        if found is None:
            found = self._loaded[name] = super()._load_template(name, globals)
        return found

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > MAX_OUTPUT:
                    raise TemplateLimitError("repetition would build a too-large value")
        elif operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER:
                raise TemplateLimitError(f"exponent {right} is over the limit of {MAX_POWER}")
        elif operator == "%" and isinstance(left, str) and _WIDE_SPEC.search(left):
            raise TemplateLimitError("format width is over the limit")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _WIDE_SPEC.search(str(getattr(value, "__self__", ""))):
            raise TemplateLimitError("format width is over the limit")
        return wrapped


def make_environment(loader: BaseLoader, *, cache_size: int = 50_000) -> AmplifierSandbox:
    """One environment per plan: large cache (thousands of units), no stat() per render."""
    env = AmplifierSandbox(
        loader=loader,
        cache_size=cache_size,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
        autoescape=False,
    )
    env.globals.pop("lipsum", None)
    env.globals["range"] = _range
    env.filters["center"] = _capped(do_center, "center")
    env.filters["indent"] = _capped(do_indent, "indent")
    env.filters["wordwrap"] = _capped(do_wordwrap, "wordwrap")
    return env


class RenderBudget:
    """The output and loop caps over one variant's render, across all its blocks.

    with RenderBudget() as budget:
        text = budget.collect(block_function(context))
    """

    __slots__ = ("_token", "loops", "size")

    def __init__(self) -> None:
        self.size = 0
        self.loops = [0]  # counted by ``range()`` through the context variable

    def __enter__(self) -> RenderBudget:
        self._token = _iterations.set(self.loops)
        return self

    def __exit__(self, *exc: object) -> None:
        _iterations.reset(self._token)

    def collect(self, chunks: Iterable[str]) -> str:
        """Join a block's output, stopping as soon as the render is over the limit."""
        parts: list[str] = []
        for chunk in chunks:
            self.size += len(chunk)
            if self.size > MAX_OUTPUT:
                raise TemplateLimitError(f"output is over the limit of {MAX_OUTPUT} characters")
            parts.append(chunk)
        return "".join(parts)

    def charge(self, size: int, loops: int) -> None:
        """Count a block taken from the memo as if it had been rendered again."""
        self.size += size
        self.loops[0] += loops
        if self.size > MAX_OUTPUT:
            raise TemplateLimitError(f"output is over the limit of {MAX_OUTPUT} characters")
        if self.loops[0] > MAX_ITERATIONS:
            raise TemplateLimitError(f"more than {MAX_ITERATIONS} loop iterations")
