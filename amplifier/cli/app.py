"""The Typer application, its global options and the error boundary."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from amplifier import __version__
from amplifier.errors import AmplifierError, WorkspaceError
from amplifier.workspace import Workspace

app = typer.Typer(
    name="amplifier",
    help="Fan the institution's central digital agenda out to every work unit's accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table for people, json for scripts")
]


@dataclass
class State:
    workspace: Path
    database_url: str | None

    def open(self) -> Workspace:
        return Workspace.open(self.workspace, database_url=self.database_url)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"amplifier {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace",
            "-w",
            envvar="AMPLIFIER_WORKSPACE",
            help="workspace folder (amplifier.toml, org.yaml, templates/, calendars/)",
            file_okay=False,
        ),
    ] = Path("."),
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL; overrides amplifier.toml and AMPLIFIER_DATABASE_URL",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="show the version")
    ] = False,
) -> None:
    ctx.obj = State(workspace=workspace, database_url=database_url)


def report_error(exc: AmplifierError) -> int:
    if isinstance(exc, WorkspaceError):
        for problem in exc.problems:
            err.print(
                f"[bold red]error[/]: {escape(str(problem))}",
                highlight=False,
                markup=True,
                soft_wrap=True,
            )
        count = len(exc.problems)
        err.print(f"{count} problem{'s' if count != 1 else ''}; nothing was changed.")
        return 2
    err.print(f"[bold red]error[/]: {escape(str(exc))}", highlight=False, soft_wrap=True)
    return 2


def run(argv: list[str]) -> int:
    """Run the CLI; return the exit code. Library errors print cleanly, never a traceback."""
    try:
        app(args=argv, prog_name="amplifier")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except AmplifierError as exc:
        return report_error(exc)
    return 0
