"""Read YAML and TOML workspace files while remembering where every key and value stood.

Validation then reports each problem at its file, line and column::

    doc = read_yaml(root / "org.yaml", root)
    model, problems = validate(OrgFile, doc)
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml
from yaml.constructor import SafeConstructor

from amplifier.errors import Problem

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass
class Document:
    """A parsed file: its data, and the 1-based (line, column) of every key and value."""

    file: str
    data: Any
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Parsed into data that validation can look at (it may still have problems)."""
        return self.data is not None

    def where(self, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """Position of ``loc``, or of its nearest known ancestor."""
        path = tuple(loc)
        while True:
            if key and path in self.keys:
                return self.keys[path]
            if path in self.values:
                return self.values[path]
            if path in self.keys:
                return self.keys[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        line, column = self.where(loc, key=key)
        return Problem(self.file, line, column, format_loc(loc), message)


def format_loc(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        close = sorted(o for o in options if o.startswith(word))[:1]
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_text(path: Path, root: Path) -> tuple[str | None, Problem | None]:
    rel = relative_name(path, root)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        msg = f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        return None, Problem(rel, line, column, "", msg)


def relative_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# --- YAML -----------------------------------------------------------------------------


def read_yaml(path: Path, root: Path, *, expect_mapping: bool = True) -> Document:
    rel = relative_name(path, root)
    text, problem = read_text(path, root)
    if problem is not None:
        return Document(rel, None, problems=[problem])
    assert text is not None
    return parse_yaml(text, rel, expect_mapping=expect_mapping)


def parse_yaml(text: str, file: str, *, expect_mapping: bool = True) -> Document:
    doc = Document(file, None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        doc.problems.append(Problem(file, line, column, "", f"invalid YAML: {what}"))
        return doc
    except yaml.YAMLError as exc:  # pragma: no cover - reader errors without a mark
        doc.problems.append(Problem(file, 1, 1, "", f"invalid YAML: {exc}"))
        return doc
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        if expect_mapping:
            doc.problems.append(
                Problem(file, 1, 1, "", "file is empty; expected a mapping of keys")
            )
        return doc
    if expect_mapping and not isinstance(node, yaml.MappingNode):
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        doc.problems.append(
            Problem(file, line, column, "", f"expected a mapping of keys, found {_kind(node)}")
        )
        return doc
    # one constructor per document: it keeps every object it built (keyed by node) until
    # it is dropped, and is not safe to share between threads
    doc.data = _build(node, (), doc, SafeConstructor())
    return doc


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.ScalarNode):
        return f"the value {node.value!r}" if node.value else "an empty value"
    return "a mapping"


def _build(node: yaml.Node, loc: Loc, doc: Document, make: SafeConstructor) -> Any:
    doc.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, make) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int) or isinstance(key, bool):
                line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                doc.problems.append(
                    Problem(doc.file, line, column, format_loc(loc), "keys must be plain text")
                )
                continue
            key = str(key)
            child = (*loc, key)
            doc.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                doc.problems.append(doc.problem(child, f"duplicate key '{key}'", key=True))
            out[key] = _build(value_node, child, doc, make)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), doc, make) for i, item in enumerate(node.value)]
    return _scalar(node, make)


def _scalar(node: yaml.Node, make: SafeConstructor) -> Any:
    try:
        return make.construct_object(node, deep=True)
    except (ValueError, yaml.constructor.ConstructorError):
        # An impossible date such as 2027-02-30: keep the text so validation reports it.
        return node.value


# --- TOML -----------------------------------------------------------------------------

_TOML_ERR = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_TOML_HEADER = re.compile(r"^\s*\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_\-.\"' ]+?)\s*=")


def read_toml(path: Path, root: Path) -> Document:
    rel = relative_name(path, root)
    text, problem = read_text(path, root)
    if problem is not None:
        return Document(rel, None, problems=[problem])
    assert text is not None
    doc = Document(rel, None)
    try:
        doc.data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_ERR.match(str(exc))
        line, column = (int(m["line"]), int(m["col"])) if m else (1, 1)
        doc.problems.append(
            Problem(rel, line, column, "", f"invalid TOML: {m['msg'] if m else exc}")
        )
        return doc
    table: Loc = ()
    for number, line_text in enumerate(text.splitlines(), start=1):
        header = _TOML_HEADER.match(line_text)
        if header:
            table = tuple(_toml_key_parts(header["name"]))
            column = line_text.index("[") + 1
            doc.keys.setdefault(table, (number, column))
            doc.values.setdefault(table, (number, column))
            continue
        key = _TOML_KEY.match(line_text)
        if key:
            key_loc: Loc = (*table, *_toml_key_parts(key["key"]))
            column = len(line_text) - len(line_text.lstrip()) + 1
            doc.keys.setdefault(key_loc, (number, column))
            doc.values.setdefault(key_loc, (number, line_text.index("=") + 2))
    return doc


def _toml_key_parts(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


# --- validation -----------------------------------------------------------------------


def validate(model: type[M], doc: Document, *, base: Loc = ()) -> tuple[M | None, list[Problem]]:
    """Validate ``doc.data`` (or the part at ``base``) against ``model``; locate every error."""
    data = doc.data
    for part in base:
        data = data[part]
    try:
        return model.model_validate(data), []
    except pydantic.ValidationError as exc:
        problems = [_problem(model, doc, base, err) for err in exc.errors()]
        return None, _drop_missing_explained_by_typos(problems)


def _drop_missing_explained_by_typos(problems: list[Problem]) -> list[Problem]:
    """``timzone`` reported as unknown (did you mean 'timezone'?) explains 'timezone' missing."""
    explained = set()
    for p in problems:
        m = re.match(r"unknown key '[^']*' \(did you mean '([^']*)'\?\)", p.message)
        if m:
            parent = p.key.rpartition(".")[0]
            explained.add(f"{parent}.{m[1]}" if parent else m[1])
    return [
        p
        for p in problems
        if not (p.message.startswith("missing required key") and p.key in explained)
    ]


def _problem(model: type[pydantic.BaseModel], doc: Document, base: Loc, err: Any) -> Problem:
    loc: Loc = (*base, *(p for p in err["loc"] if isinstance(p, int) or _is_data_key(p)))
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        parent = _model_at(model, loc[len(base) : -1])
        known = _field_names(parent) if parent else []
        return doc.problem(loc, f"unknown key '{name}'{suggest(name, known)}", key=True)
    if kind == "missing":
        return doc.problem(loc, f"missing required key '{loc[-1]}'")
    message = _message(err)
    if kind in {"enum", "literal_error"} and isinstance(err.get("input"), str):
        expected = err.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        message += suggest(err["input"], choices)
    return doc.problem(loc, message)


def _is_data_key(part: str | int) -> bool:
    # pydantic adds tags such as 'function-after[...]' or 'str' inside unions; data keys have none
    return isinstance(part, str) and not re.search(r"[\[\]()]", part)


def _message(err: Any) -> str:
    msg: str = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    kind = err["type"]
    value = err.get("input")
    if (
        kind.endswith("_type")
        or kind.endswith("_parsing")
        or kind in {"date_from_datetime_parsing"}
    ) and not isinstance(value, dict | list):
        msg = f"{msg}; got {value!r}"
        if isinstance(value, bool) and kind == "string_type":
            msg += " (YAML reads yes/no/on/off/true/false as booleans: put the text in quotes)"
    return msg[0].lower() + msg[1:] if msg[:1].isupper() and not msg[:2].isupper() else msg


def _field_names(model: type[pydantic.BaseModel]) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        names.append(info.alias or name)
    return names


def _model_at(model: type[pydantic.BaseModel], loc: Loc) -> type[pydantic.BaseModel] | None:
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, pydantic.BaseModel):
            info = current.model_fields.get(part) or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
            current = info.annotation if info else None
        else:  # dict[str, X]
            args = typing.get_args(current)
            current = args[-1] if args else None
        if current is None:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated and pick the model member of a union."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [
                a for a in members if isinstance(a, type) and issubclass(a, pydantic.BaseModel)
            ]
            annotation = (models or members)[0]
            continue
        return annotation
