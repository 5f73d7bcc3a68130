"""Exceptions raised by amplifier.

Every exception the library raises on purpose derives from ``AmplifierError``::

    AmplifierError
    ├── WorkspaceError          one or more problems in workspace files (carries .problems)
    ├── DatabaseError
    │   └── SchemaOutOfDate     the database needs `amplifier db upgrade`
    ├── NotFound                a unit, post, variant … named by the caller does not exist
    └── InvalidOperation        the request is understood but not allowed in the current state

A ``Problem`` is one located complaint about a workspace file: the file, line and
column (1-based), the key concerned, and a message that says what was expected::

    try:
        ws = amplifier.open_workspace(".")
    except amplifier.WorkspaceError as exc:
        for problem in exc.problems:
            print(problem)
            # org.yaml:12:5: units[3].timzone: unknown key 'timzone' (did you mean 'timezone'?)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One error in one workspace file, with where it is."""

    file: str
    line: int
    column: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key,
            "message": self.message,
        }


class AmplifierError(Exception):
    """Base class of every error amplifier raises on purpose."""


class WorkspaceError(AmplifierError):
    """The workspace files have one or more problems; all of them are in ``problems``."""

    def __init__(self, problems: list[Problem], root: Path | None = None) -> None:
        self.problems = sorted(problems)
        self.root = root
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the workspace"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class DatabaseError(AmplifierError):
    """The database cannot be used as asked."""


class SchemaOutOfDate(DatabaseError):
    """The database schema is older (or newer) than this version of amplifier expects."""


class NotFound(AmplifierError):
    """Something named by the caller does not exist."""


class InvalidOperation(AmplifierError):
    """The operation is understood but not allowed in the current state."""
