"""The template chain: which files render a (unit, platform), and how they stack.

For each level, most specific first — the unit's folder, each parent unit's folder up the
tree, the unit kind's folder, the institution's folder — the chain takes
``<name>.<platform>.j2`` then ``<name>.j2`` for each template name the post asks for, then
``post``. The package's ``builtin/<platform>.j2`` closes the chain.

Override files hold only ``{% block %}`` definitions. The loader stacks them: the chain
``("units/A/post.j2", "institution/post.j2", "builtin/x.j2")`` is served as a template
named ``"units/A/post.j2|institution/post.j2|builtin/x.j2"`` whose source is the unit file
with ``{% extends "institution/post.j2|builtin/x.j2" %}`` put in front on its first line,
so line numbers stay those of the file and ``super()`` reaches the next level. Templates
are compiled once per distinct chain, not per unit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from jinja2 import BaseLoader, Environment, TemplateNotFound

BUILTIN = "builtin/"
SEPARATOR = "|"
DEFAULT_NAME = "post"


def builtin_name(platform: str) -> str:
    return f"{BUILTIN}{platform}.j2"


class ChainLoader(BaseLoader):
    """Serves workspace files, package built-ins, and stacked chains of them."""

    def __init__(self, templates_dir: Path) -> None:
        self.root = templates_dir.resolve()
        self.files = frozenset(self._scan())
        self._builtin = resources.files("amplifier") / "data" / "templates"

    def _scan(self) -> list[str]:
        if not self.root.is_dir():
            return []
        out = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                if name.endswith(".j2"):
                    out.append((Path(dirpath) / name).relative_to(self.root).as_posix())
        return out

    def exists(self, name: str) -> bool:
        return name in self.files

    def builtins(self) -> list[str]:
        """The names of the package's built-in templates, sorted."""
        return sorted(
            f"{BUILTIN}{node.name}" for node in self._builtin.iterdir() if node.name.endswith(".j2")
        )

    def path_of(self, name: str) -> Path:
        """The file behind a workspace template name; never outside the templates folder."""
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or name not in self.files:
            raise TemplateNotFound(name)
        return path

    def read(self, name: str) -> tuple[str, str]:
        """(source, filename shown in errors) of one real template."""
        if name.startswith(BUILTIN):
            node = self._builtin / name[len(BUILTIN) :]
            if ".." in name or not node.is_file():
                raise TemplateNotFound(name)
            return node.read_text(encoding="utf-8"), f"amplifier:{name}"
        path = self.path_of(name)
        try:
            return path.read_text(encoding="utf-8"), f"templates/{name}"
        except (OSError, UnicodeDecodeError) as exc:  # removed meanwhile, or not UTF-8
            raise TemplateNotFound(f"{name} ({exc.__class__.__name__}: {exc})") from exc

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        first, sep, rest = template.partition(SEPARATOR)
        source, filename = self.read(first)
        if sep:
            # same line: the file's own line numbers stay right in error messages
            source = '{% extends "' + rest + '" %}' + source
        return source, filename, lambda: True


def chain_for(
    loader: ChainLoader,
    unit_folders: Sequence[str],
    kind: str,
    platform: str,
    names: Sequence[str] = (),
) -> tuple[str, ...]:
    """The chain of template names for one unit and platform, most specific first.

    ``unit_folders`` are the unit's code then its ancestors' codes.
    """
    levels = [f"units/{code}" for code in unit_folders] + [f"kinds/{kind}", "institution"]
    wanted = [*dict.fromkeys([*names, DEFAULT_NAME])]
    chain = [
        candidate
        for level in levels
        for name in wanted
        for candidate in (f"{level}/{name}.{platform}.j2", f"{level}/{name}.j2")
        if loader.exists(candidate)
    ]
    chain.append(builtin_name(platform))
    return tuple(chain)


def stacked_name(chain: Sequence[str]) -> str:
    return SEPARATOR.join(chain)
