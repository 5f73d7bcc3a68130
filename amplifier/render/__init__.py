"""Render: a central post through a unit's template chain, in the sandbox.

    renderer = Renderer(workspace_root / "templates", institution)
    result = renderer.render(unit, ancestors, account, campaign, post)
    if result.error:
        print(result.error.source, result.error.message)   # templates/units/X/post.j2:3
    else:
        print(result.text)

A failing template fails only the variants it renders: the error comes back as a
``RenderError`` located at the template's file:line, and the plan goes on.
"""

from __future__ import annotations

import hashlib
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from amplifier.platforms import rules_for
from amplifier.render.chain import BUILTIN, ChainLoader, chain_for, stacked_name
from amplifier.render.context import FILTERS, local_time, zone_abbreviation
from amplifier.render.layout import (
    OTHERS,
    SEPARATOR,
    TITLE,
    compose,
    ordered,
    room_left,
    text_of,
    use_of,
)
from amplifier.render.memo import LATE_NAME, ChainReads, FileReads, chain_reads, file_reads
from amplifier.render.sandbox import (
    MAX_ITERATIONS,
    MAX_OUTPUT,
    RenderBudget,
    TemplateLimitError,
    make_environment,
)

__all__ = ["RenderError", "RenderResult", "Renderer", "chain_for"]

_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


@dataclass(frozen=True)
class RenderError:
    message: str
    source: str  # "templates/units/KANWIL-BALI/post.j2:3"


@dataclass(frozen=True)
class RenderResult:
    text: str
    title: str | None
    chain: tuple[str, ...]
    error: RenderError | None = None
    #: the text's paragraphs (``text.split("\n\n")``, none if it is empty), as the memo
    #: holds them: checks look each one up without splitting the text. None: not known.
    paragraphs: Sequence[str] | None = field(default=None, compare=False, repr=False)


class Renderer:
    """One per plan: a sandboxed environment whose cache holds one template per chain, and
    one block memo per chain (``amplifier.render.memo``)."""

    def __init__(self, templates_dir: Path, institution: dict[str, Any]) -> None:
        self.loader = ChainLoader(templates_dir)
        self.env = make_environment(self.loader)
        self.env.filters.update(FILTERS)
        self.institution = institution
        self._chains: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self._chain_hashes: dict[tuple[str, ...], str] = {}
        self._hashed_sources: dict[str, bytes] = {}  # name -> its part of a chain's digest
        self._compiled_chains: dict[tuple[str, ...], _Compiled] = {}
        self._files: dict[str, tuple[FileReads, str | None]] = {}
        self._unit_folders = frozenset(
            name.split("/")[1] for name in self.loader.files if name.startswith("units/")
        )

    def chain(
        self, unit_codes: Sequence[str], kind: str, platform: str, names: Sequence[str] = ()
    ) -> tuple[str, ...]:
        # only the units with a folder of their own can change a chain
        codes = tuple(code for code in unit_codes if code in self._unit_folders)
        key = (codes, kind, platform, tuple(names))
        found = self._chains.get(key)
        if found is None:
            found = self._chains[key] = chain_for(self.loader, codes, kind, platform, names)
        return found

    def chain_hash(self, chain: tuple[str, ...]) -> str:
        """Digest of the sources in a chain, so an edited template re-renders its variants."""
        digest = self._chain_hashes.get(chain)
        if digest is None:
            h = hashlib.blake2b(digest_size=16)
            for name in chain:
                h.update(self._hashed_source(name))
            digest = self._chain_hashes[chain] = h.hexdigest()
        return digest

    def _hashed_source(self, name: str) -> bytes:
        """One template's part of a chain digest: each file is read once per renderer
        (chains share most of their files; a re-plan hashes thousands of chains)."""
        part = self._hashed_sources.get(name)
        if part is None:
            try:
                source, _ = self.loader.read(name)
            except TemplateError:
                source = ""
            part = self._hashed_sources[name] = name.encode() + b"\0" + source.encode() + b"\0"
        return part

    @cached_property
    def tree_digest(self) -> str:
        """Digest of every template a chain could use: the workspace's files (names and
        sources) and the package's built-ins. Equal digests, equal chains and sources."""
        h = hashlib.blake2b(digest_size=16)
        for name in sorted(self.loader.files):
            h.update(self._hashed_source(name))
        for name in self.loader.builtins():
            h.update(self._hashed_source(name))
        return h.hexdigest()

    @cached_property
    def builtin_hash(self) -> str:
        return self.chain_hash(("builtin/base.j2",))

    def render(self, chain: tuple[str, ...], variables: dict[str, Any]) -> RenderResult:
        """Render one variant: its blocks (from the memo where the inputs they read were
        seen before), put together by the built-in layout (``amplifier.render.layout``)."""
        try:
            compiled = self._compiled(chain)
            parts, title = self._compose(compiled, variables)
        except TemplateSyntaxError as exc:
            return RenderResult("", None, chain, RenderError(_syntax(exc), _where(exc, chain)))
        except (TemplateError, SecurityError, TemplateLimitError) as exc:
            return RenderResult("", None, chain, RenderError(_describe(exc), _where(exc, chain)))
        except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
            return RenderResult("", None, chain, RenderError(_describe(exc), _where(exc, chain)))
        paragraphs = [q for p in parts for q in p.paragraphs]
        return RenderResult(text_of(parts), title, chain, paragraphs=paragraphs)

    def _compiled(self, chain: tuple[str, ...]) -> _Compiled:
        found = self._compiled_chains.get(chain)
        if found is None:
            found = self._compiled_chains[chain] = self._compile(chain)  # errors: not cached
        return found

    def _compile(self, chain: tuple[str, ...]) -> _Compiled:
        """The chain's templates from the most specific down, their blocks in the order
        Jinja's ``extends`` would stack them, and what each block reads.

        A memoizable chain renders only its blocks, and a block's code does not depend on
        what its file extends: its blocks come from each file compiled once on its own
        (chains share most files), unless a file's code holds its (stacked) name. Any
        other chain runs its stacked templates in full."""
        names = list(chain)
        files: list[FileReads] = []
        while len(files) < len(names):
            file, parent = self._file_reads(names[len(files)])
            files.append(file)
            if parent is not None:
                names.append(parent)
        reads = chain_reads(files)
        shared = reads.memoizable and not any(f.names_itself for f in files)
        if shared:
            levels = names
        else:
            levels = [stacked_name(chain[i:]) for i in range(len(chain))] + names[len(chain) :]
        templates = [self.env.get_template(level) for level in levels]
        blocks: dict[str, list[Any]] = {}
        for level in templates:
            for name, fn in level.blocks.items():
                blocks.setdefault(name, []).append(fn)
        template = templates[0] if shared else self.env.get_template(stacked_name(chain))
        return _Compiled(
            template,
            stacked_name(chain),
            blocks,
            reads,
            {},
            dict(template.globals),
            _Keys.of(reads),
        )

    def _file_reads(self, name: str) -> tuple[FileReads, str | None]:
        """What one file's blocks read, and the built-in it extends (parsed once a plan)."""
        found = self._files.get(name)
        if found is None:
            source, filename = self.loader.read(name)
            tree = self.env.parse(source, name, filename)
            builtin = name.startswith(BUILTIN)
            parent = _builtin_parent(tree) if builtin else None
            found = self._files[name] = (file_reads(tree, builtin=builtin), parent)
        return found

    def _compose(
        self, compiled: _Compiled, variables: dict[str, Any]
    ) -> tuple[list[_Part], str | None]:
        """The variant's parts (``layout.compose``) and title. Each block's text is trimmed
        and tidied once per memo entry: tidying the joined text is the same as joining the
        tidied parts (``amplifier.render.layout``)."""
        template, reads, memo = compiled.template, compiled.reads, compiled.memo
        platform, budget_size = str(variables["platform"]), int(variables["budget"])
        shared = reads.values(variables)  # None: each block keyed on its own, if it can be
        keys = compiled.keys
        if keys is not None and shared is not None:
            found = keys.from_memo(memo, shared, budget_size)
            if found is not None:
                return found
        context: list[Any] = []  # made on the first block the memo does not have
        values = variables
        picks, late = reads.picks, reads.late

        with RenderBudget() as budget:

            def block(name: str, room: int | None) -> _Part:
                nonlocal values
                if room is not None:
                    values = {**variables, "room": room}
                    if context:
                        context[0].vars["room"] = room
                if shared is None:
                    key = reads.key(name, values)
                elif name in late or name not in picks:
                    key = reads.block_key(name, shared, values)
                else:
                    key = picks[name](shared)  # what block_key does, without the calls
                if key is not None:
                    hit = memo.get((name, key))
                    if hit is not None:
                        budget.charge(len(hit.text), hit.loops)
                        return hit
                if not context:
                    context.append(self._context(compiled, values, budget))
                functions = context[0].blocks.get(name)
                loops = budget.loops[0]
                text = budget.collect(functions[0](context[0])) if functions else ""
                part = _part(text, budget.loops[0] - loops, platform)
                if key is not None:
                    memo[(name, key)] = part
                return part

            try:
                parts = compose(block, budget_size)
                title = block(TITLE, None)
            except Exception:
                # re-raise with the traceback rewritten to template file:line frames
                template.environment.handle_exception()
                raise  # pragma: no cover - handle_exception always raises
        return parts, _title(title)

    @staticmethod
    def _context(compiled: _Compiled, values: dict[str, Any], budget: RenderBudget) -> Context:
        template = compiled.template
        if compiled.reads.memoizable:
            # what ``template.new_context(values)`` makes, without going through the
            # template's ChainMap of globals each time (half the cost of a context)
            env, flat = template.environment, compiled.globals
            ctx = env.context_class(env, {**flat, **values}, compiled.name, {}, globals=flat)
            # only block definitions: running the templates' top level would do nothing
            ctx.blocks = compiled.blocks  # read, never changed, while blocks render
        else:
            ctx = template.new_context(values)
            budget.collect(template.root_render_func(ctx))  # top-level code runs
        return ctx


class _Part(NamedTuple):
    """One rendered block: as rendered (what the output cap counts) and tidied (what the
    variant's text is made of), with what its trimmed text takes of the budget."""

    text: str
    loops: int  # ``range()`` iterations it took, charged again when the memo has it
    tidy: str
    used: int  # of the budget, before ``body`` (``layout.use_of``)
    #: ``tidy`` split at its blank lines: the variant's paragraphs are its parts'
    paragraphs: tuple[str, ...]


def _part(text: str, loops: int, platform: str) -> _Part:
    trimmed = text.strip()
    if not trimmed:
        return _Part(text, loops, "", 0, ())
    tidy = _tidy(trimmed)
    return _Part(text, loops, tidy, use_of(trimmed, platform), tuple(tidy.split(SEPARATOR)))


def _title(title: _Part) -> str | None:
    if not title.text:
        return None
    if len(title.text) <= MAX_OUTPUT:
        return title.tidy
    return _tidy(title.text[:MAX_OUTPUT])


_Pick = Callable[[tuple[Any, ...]], tuple[Any, ...]]


class _Keys(NamedTuple):
    """How a chain's blocks are keyed from a variant's shared values, for chains whose
    every block is keyed that way (``ChainReads.picks``), ``body`` reading at most
    ``room`` besides them: then a variant the memo has in full is put together without
    a render context or a budget."""

    others: tuple[tuple[str, _Pick], ...]  # ``OTHERS``, in order
    body: _Pick
    body_reads_room: bool
    title: _Pick

    @classmethod
    def of(cls, reads: ChainReads) -> _Keys | None:
        picks, late = reads.picks, reads.late
        if not reads.memoizable or any(
            name not in picks or name in late for name in (*OTHERS, TITLE)
        ):
            return None
        body_late = late.get("body", ())
        if "body" not in picks or body_late not in ((), ((LATE_NAME, None),)):
            return None
        return cls(
            tuple((name, picks[name]) for name in OTHERS),
            picks["body"],
            bool(body_late),
            picks[TITLE],
        )

    def from_memo(
        self,
        memo: dict[tuple[str, Any], _Part],
        shared: tuple[Any, ...],
        budget: int,
    ) -> tuple[list[_Part], str | None] | None:
        """The variant's parts and title when the memo has every block it needs (what
        ``Renderer._compose`` would make of them); None when it lacks one, or when the
        blocks together are over a sandbox limit (the full path then raises)."""
        get = memo.get
        others: list[_Part] = []
        for name, pick in self.others:
            hit = get((name, pick(shared)))
            if hit is None:
                return None
            others.append(hit)
        room = room_left(others, budget)
        body = get(("body", self.body((*shared, room) if self.body_reads_room else shared)))
        if body is None:
            return None
        title = get((TITLE, self.title(shared)))
        if title is None:
            return None
        size = len(body.text) + len(title.text)
        loops = body.loops + title.loops
        for part in others:
            size += len(part.text)
            loops += part.loops
        if size > MAX_OUTPUT or loops > MAX_ITERATIONS:
            return None
        return ordered(others, body), _title(title)


@dataclass
class _Compiled:
    template: Template  # the stacked chain's, or its first file's (see ``_compile``)
    name: str  # the stacked chain's: what its contexts are called (``{{ self }}`` shows it)
    blocks: dict[str, list[Any]]
    reads: ChainReads
    memo: dict[tuple[str, Any], _Part]  # (block, read values) -> the block rendered
    globals: dict[str, Any]  # the template's globals, flattened (set before any compile)
    keys: _Keys | None  # how a variant the memo has in full is put together from it


def _builtin_parent(tree: nodes.Template) -> str | None:
    for node in tree.find_all(nodes.Extends):
        if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str):
            return node.template.value
    return None


def unit_variables(unit: Any, zone_hint: Any = None) -> dict[str, Any]:
    return {
        "code": unit.code,
        "name": unit.name,
        "kind": str(unit.kind),
        "city": unit.city,
        "region": unit.region,
        "timezone": unit.timezone,
        "languages": list(unit.languages),
        "tags": list(unit.tags),
    }


def post_variables(post: Any, zone: str) -> dict[str, Any]:
    at = local_time(post.central_at, zone)
    return {
        "key": post.key,
        "title": post.title,
        "body": post.body,
        "link": post.link,
        "media": list(post.media),
        "at": at,
    }


def zone_of(post_time: Any, zone: str) -> str:
    return zone_abbreviation(local_time(post_time, zone))


def campaign_variables(campaign: Any) -> dict[str, Any]:
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "goal": campaign.goal,
        "hashtags": list(campaign.hashtags),
        "key_messages": list(campaign.key_messages),
        "links": list(campaign.links),
    }


def account_variables(account: Any) -> dict[str, Any]:
    return {"platform": str(account.platform), "handle": account.handle, "url": account.url}


def budget_of(platform: str) -> int:
    return rules_for(platform).max_length


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines))


def _syntax(exc: TemplateSyntaxError) -> str:
    return f"template syntax error: {exc.message}"


def _describe(exc: BaseException) -> str:
    kind = {
        "UndefinedError": "unknown name",
        "SecurityError": "not allowed in templates",
        "TemplateLimitError": "template limit",
        "TemplateNotFound": "template not found",
    }.get(type(exc).__name__, type(exc).__name__)
    return f"{kind}: {exc}"


def _where(exc: BaseException, chain: tuple[str, ...]) -> str:
    """The template file:line where it failed (the innermost template frame)."""
    if isinstance(exc, TemplateSyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    found = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith(("templates/", "amplifier:")):
            found = f"{filename}:{lineno}"
    if found:
        return found
    return f"templates/{chain[0]}" if chain and not chain[0].startswith("builtin/") else chain[-1]
