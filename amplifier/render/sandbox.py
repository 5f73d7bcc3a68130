"""The sandbox every template renders in: no internals, bounded loops, bounded output.

Unit-authored templates are untrusted. On top of Jinja2's ``SandboxedEnvironment`` (no
underscore attributes, no unsafe callables) this caps:

- ``range()`` at ``MAX_RANGE`` items, and all ``range`` iterations in one render at
  ``MAX_ITERATIONS``;
- ``*``, ``**`` and ``%`` so a template cannot build a huge string or number;
- width arguments of ``center``, ``indent``, ``wordwrap`` and format specs;
- the rendered output at ``MAX_OUTPUT`` characters (``render_limited``).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, Template
from jinja2.filters import do_center, do_indent, do_wordwrap
from jinja2.sandbox import SandboxedEnvironment

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


class AmplifierSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

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


def render_limited(template: Template, variables: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Render with the output and iteration caps; return the text and the block functions."""
    token = _iterations.set([0])
    try:
        ctx = template.new_context(variables)
        parts: list[str] = []
        size = 0
        for chunk in template.root_render_func(ctx):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimitError(f"output is over the limit of {MAX_OUTPUT} characters")
            parts.append(chunk)
        blocks = {}
        if "title" in ctx.blocks:
            title = "".join(ctx.blocks["title"][0](ctx))
            blocks["title"] = title[:MAX_OUTPUT]
        return "".join(parts), blocks
    except Exception:
        # re-raise with the traceback rewritten to template file:line frames
        template.environment.handle_exception()
        raise  # pragma: no cover - handle_exception always raises
    finally:
        _iterations.reset(token)
