"""Block memo: render each block once per distinct input it actually reads.

    reads = chain_reads([env.parse(source) for source in chain_sources])
    key = reads.key("local", variables)          # None: do not memoize this render
    text = memo.get(key) or render_block("local")

Thousands of units share a handful of distinct blocks: the body of a post on a platform
does not depend on the unit, a greeting depends on the unit's region, and so on. What a
block reads is found statically, from the templates' syntax trees: every ``name`` and
``name.attribute`` (or ``name["key"]``) the block's definitions use anywhere in the chain,
plus what the blocks it calls read. The memo key is the block, the chain and the values of
exactly those reads, so a unit override that reads ``unit.name`` gets one entry per unit,
and a block that reads no unit field one entry for all of them.

The analysis is conservative. A name used in any other way (passed whole, iterated,
aliased with ``set``) keys on its whole value; ``self`` keys a block on every block's
reads. A chain is not memoized at all when a file includes or imports another template,
uses the ``random`` filter, or has code outside its blocks (which would run for every
render); such chains render in full, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from jinja2 import nodes

#: names every block depends on through filters that read the context (``fit``, ``panjang``)
CONTEXT_NAMES = ("platform",)
#: the variable the layout sets before ``body`` (``amplifier.render.layout``)
LATE_NAME = "room"
_OPAQUE = (nodes.Include, nodes.Import, nodes.FromImport)
_UNSAFE_FILTERS = frozenset({"random"})
_DICT_ATTRIBUTES = frozenset(dir(dict))
_MISSING = object()
#: entries of ``ChainReads.frozen`` before it starts again (one per unit and zone,
#: account, post and campaign dict the chain renders in a plan)
MAX_FROZEN = 100_000

Read = tuple[str, str | None]  # (name, attribute) — attribute None: the whole value


class Unkeyable(Exception):
    """A value the memo cannot key on (an unknown type): render without the memo."""


@dataclass
class FileReads:
    """What one template file's blocks read."""

    blocks: dict[str, set[Read]] = field(default_factory=dict)
    calls: dict[str, set[str]] = field(default_factory=dict)  # nested blocks rendered inside
    uses_self: set[str] = field(default_factory=set)
    opaque: bool = False  # includes/imports, ``random``: never memoize
    top_level_code: bool = False  # statements outside blocks: run the whole template
    #: Jinja writes the template's name into the compiled code of an inline ``if`` without
    #: ``else`` (its undefined value names the template): compile the file in its chain
    names_itself: bool = False


def file_reads(tree: nodes.Template, *, builtin: bool = False) -> FileReads:
    """Analyse one parsed file. ``builtin``: a package file, whose top level is known to
    hold only ``extends`` and block definitions (``base.j2`` keeps them in ``{% if false %}``)."""
    out = FileReads()
    for node in tree.body:
        if isinstance(node, nodes.Output) and all(
            isinstance(n, nodes.TemplateData) and not n.data.strip() for n in node.nodes
        ):
            continue
        if isinstance(node, nodes.Block):
            continue
        if not builtin:
            out.top_level_code = True
    for block in tree.find_all(nodes.Block):
        reads: set[Read] = set()
        calls: set[str] = set()
        _walk(block, reads, calls, out, block.name)
        out.blocks.setdefault(block.name, set()).update(reads)
        out.calls.setdefault(block.name, set()).update(calls)
    if any(True for _ in tree.find_all(_OPAQUE)):
        out.opaque = True
    out.names_itself = any(node.expr2 is None for node in tree.find_all(nodes.CondExpr))
    return out


def _walk(node: nodes.Node, reads: set[Read], calls: set[str], out: FileReads, block: str) -> None:
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Getattr) and _loaded_name(child.node):
            reads.add(_attribute_read(child.node.name, child.attr))  # type: ignore[attr-defined]
            continue
        if (
            isinstance(child, nodes.Getitem)
            and _loaded_name(child.node)
            and isinstance(child.arg, nodes.Const)
            and isinstance(child.arg.value, str)
        ):
            reads.add(_attribute_read(child.node.name, child.arg.value))  # type: ignore[attr-defined]
            continue
        if isinstance(child, nodes.Name):
            if child.name == "self":
                out.uses_self.add(block)
            reads.add((child.name, None))
        elif isinstance(child, nodes.Block):
            calls.add(child.name)
        elif isinstance(child, nodes.Filter | nodes.FilterBlock) and (
            getattr(child, "name", None) in _UNSAFE_FILTERS
            or (isinstance(child, nodes.FilterBlock) and child.filter.name in _UNSAFE_FILTERS)
        ):
            out.opaque = True
        _walk(child, reads, calls, out, block)


def _loaded_name(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.ctx == "load" and node.name != "self"


def _attribute_read(name: str, attribute: str) -> Read:
    # ``unit.items`` is the dict's method, not a key: it sees the whole value
    return (name, None) if attribute in _DICT_ATTRIBUTES else (name, attribute)


@dataclass(frozen=True)
class ChainReads:
    """What each block of one chain reads, closed over the blocks it calls.

    ``shared`` is every read of the chain's blocks but those of ``room`` (which only the
    blocks rendered after ``body`` see), so a variant's values are frozen once for all its
    blocks (``values``) and each block's key is picked out of them (``block_key``)."""

    memoizable: bool
    blocks: Mapping[str, tuple[Read, ...]]
    shared: tuple[Read, ...] = ()
    picks: Mapping[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = field(default_factory=dict)
    late: Mapping[str, tuple[Read, ...]] = field(default_factory=dict)  # the ``room`` reads
    groups: tuple[tuple[str, tuple[str | None, ...]], ...] = ()  # ``shared`` by variable
    #: per group, id of a dict -> (the dict, its frozen values): a plan passes the same
    #: dict for every variant of a unit, account, post or campaign (templates cannot change
    #: it: the sandbox is immutable). The dict is held, so its id is not reused meanwhile.
    frozen: tuple[dict[int, tuple[dict[str, Any], tuple[Any, ...]]], ...] = field(
        default=(), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if len(self.frozen) != len(self.groups):
            object.__setattr__(self, "frozen", tuple({} for _ in self.groups))

    def key(self, block: str, variables: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The values ``block`` reads from ``variables``; None when it cannot be keyed."""
        reads = self.blocks.get(block)
        if reads is None or not self.memoizable:
            return None
        try:
            return _frozen(reads, variables)
        except Unkeyable:
            return None

    def values(self, variables: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The frozen values of the ``shared`` reads; None when one cannot be keyed (then
        ``key`` keys each block on its own, and only the blocks that read it go unkeyed)."""
        if not self.memoizable:
            return None
        out: list[Any] = []
        get = variables.get
        try:
            for (name, attributes), cache in zip(self.groups, self.frozen, strict=True):
                whole = get(name, _MISSING)
                kind = type(whole)
                if kind is not dict:  # each attribute read sees the whole value
                    if kind is not str and kind is not int:
                        whole = freeze(whole)
                    if len(attributes) == 1:
                        out.append(whole)
                    else:
                        out.extend([whole] * len(attributes))
                    continue
                hit = cache.get(id(whole))
                if hit is None or hit[0] is not whole:
                    if len(cache) >= MAX_FROZEN:
                        cache.clear()
                    hit = cache[id(whole)] = (whole, _frozen_group(whole, attributes))
                out.extend(hit[1])
        except Unkeyable:
            return None
        return tuple(out)

    def block_key(
        self, block: str, values: tuple[Any, ...], variables: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """``block``'s key from ``values`` (``values(variables)`` of the variant, whose
        variables are ``variables`` but for ``room``): the same as ``key(block, variables)``."""
        pick = self.picks.get(block)
        if pick is None:
            return None
        late = self.late.get(block)
        if late is None:
            return pick(values)
        try:
            return pick(values + _frozen(late, variables))
        except Unkeyable:
            return None


def _frozen_group(whole: dict[str, Any], attributes: tuple[str | None, ...]) -> tuple[Any, ...]:
    return tuple(freeze(whole if a is None else whole.get(a, _MISSING)) for a in attributes)


def _frozen(reads: Iterable[Read], variables: Mapping[str, Any]) -> tuple[Any, ...]:
    out = []
    get = variables.get
    for name, attr in reads:
        value = get(name, _MISSING)
        if attr is not None and type(value) is dict:
            value = value.get(attr, _MISSING)
        out.append(value if type(value) is str or value is _MISSING else freeze(value))
    return tuple(out)


def _picker(
    block_reads: tuple[Read, ...], shared: tuple[Read, ...]
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """Picks a block's reads, in its own order, out of the values of ``shared``."""
    indexes = [shared.index(read) for read in block_reads]
    if len(indexes) == 1:
        (index,) = indexes
        return lambda values: (values[index],)
    if not indexes:
        return lambda values: ()
    return itemgetter(*indexes)


def chain_reads(files: Iterable[FileReads]) -> ChainReads:
    """Combine the files of one chain (most specific first)."""
    files = list(files)
    if any(f.opaque or f.top_level_code for f in files):
        return ChainReads(False, {})
    direct: dict[str, set[Read]] = {}
    calls: dict[str, set[str]] = {}
    selfish: set[str] = set()
    for f in files:
        for name, reads in f.blocks.items():
            direct.setdefault(name, set()).update(reads)
        for name, called in f.calls.items():
            calls.setdefault(name, set()).update(called)
        selfish |= f.uses_self
    everything = set().union(*direct.values()) if direct else set()
    closed: dict[str, tuple[Read, ...]] = {}
    for name in direct:
        if name in selfish:
            reads = set(everything)
        else:
            reads, todo, done = set(direct[name]), list(calls.get(name, ())), {name}
            while todo:
                other = todo.pop()
                if other in done:
                    continue
                done.add(other)
                if other in selfish:
                    reads |= everything
                reads |= direct.get(other, set())
                todo.extend(calls.get(other, ()))
        reads |= {(n, None) for n in CONTEXT_NAMES}
        # a whole-value read makes its attribute reads redundant
        whole = {n for n, a in reads if a is None}
        closed[name] = tuple(sorted((n, a) for n, a in reads if a is None or n not in whole))
    every = {r for reads in closed.values() for r in reads if r[0] != LATE_NAME}
    shared = tuple(sorted(every, key=lambda r: (r[0], r[1] is not None, r[1] or "")))
    late = {
        name: found
        for name, reads in closed.items()
        if (found := tuple(r for r in reads if r[0] == LATE_NAME))
    }
    # a block that reads ``room`` picks from the shared values followed by its own late ones
    picks = {name: _picker(reads, shared + late.get(name, ())) for name, reads in closed.items()}
    groups = tuple(
        (name, tuple(a for n, a in shared if n == name))
        for name in dict.fromkeys(n for n, _ in shared)
    )
    return ChainReads(True, closed, shared, picks, late, groups)


def freeze(value: Any) -> Any:
    """A hashable stand-in for a template variable; equal only when the values render
    alike (datetimes keep their zone: equal instants in two zones differ)."""
    t = type(value)
    if value is None or t is str or t is int or t is float or t is bool or value is _MISSING:
        return value
    if t is list or t is tuple:
        out: list[Any] = [t.__name__]
        for v in value:  # most are lists of strings
            out.append(v if type(v) is str else freeze(v))
        return tuple(out)
    if t is dict:
        return ("dict", *((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, dt.datetime):
        return ("datetime", t.__name__, value.isoformat(), str(value.tzinfo))
    raise Unkeyable(t.__name__)
