"""Scaffold a new, minimal workspace that ``sync`` accepts as it is.

from amplifier.scaffold import init_workspace
created = init_workspace(Path("humas-kanwil"))
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from amplifier.errors import InvalidOperation

_RENAMES = {"gitignore": ".gitignore"}


def init_workspace(target: Path, *, force: bool = False) -> list[Path]:
    """Copy the scaffold into ``target``; refuse to overwrite existing files unless ``force``."""
    source = resources.files("amplifier") / "data" / "scaffold"
    plan = list(_walk(source, target))
    clashes = [dest for _, dest in plan if dest.exists()]
    if clashes and not force:
        names = ", ".join(str(p) for p in clashes[:5])
        raise InvalidOperation(f"not overwriting existing files: {names} (use --force)")
    created = []
    for src, dest in plan:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
        created.append(dest)
    return created


def _walk(node: Traversable, dest: Path) -> list[tuple[Traversable, Path]]:
    out: list[tuple[Traversable, Path]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        target = dest / _RENAMES.get(child.name, child.name)
        if child.is_dir():
            out += _walk(child, target)
        elif child.name != "__pycache__":
            out.append((child, target))
    return out
