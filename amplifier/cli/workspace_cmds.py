"""Commands for the workspace itself: init, sync, units, db."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from amplifier import database
from amplifier.cli.app import Format, FormatOption, err, out, print_json, state
from amplifier.errors import WorkspaceError
from amplifier.scaffold import init_workspace
from amplifier.workspace import UnitNode

db_app = typer.Typer(help="Inspect and upgrade the database schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("sync")(sync)
    app.command("units")(units)
    app.add_typer(db_app, name="db")


def init(
    directory: Annotated[Path, typer.Argument(help="folder to create the workspace in")],
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Scaffold a new, minimal, valid workspace."""
    created = init_workspace(directory, force=force)
    for path in created:
        out.print(f"created {path}", highlight=False)
    out.print(f"next: cd {directory} && amplifier sync && amplifier units", highlight=False)


def sync(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate and show what would change; write nothing")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Import the workspace files into the database (idempotent; removed items are deactivated)."""
    ws = state(ctx).open()
    report = ws.sync(dry_run=dry_run)
    if fmt is Format.JSON:
        print_json({"dry_run": dry_run, "changed": report.changed, "tables": report.as_dict()})
        return
    table = Table(
        "table",
        "created",
        "updated",
        "deactivated",
        title="sync" + (" (dry run)" if dry_run else ""),
    )
    for name, changes in report.tables.items():
        table.add_row(name, str(changes.created), str(changes.updated), str(changes.deactivated))
    out.print(table)
    out.print("no changes" if not report.changed else ("would apply" if dry_run else "applied"))


def units(
    ctx: typer.Context,
    include_inactive: Annotated[
        bool, typer.Option("--all", help="include deactivated units and accounts")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Show the unit tree with timezones and accounts (from the database; run sync first)."""
    ws = state(ctx).open()
    roots = ws.unit_tree(include_inactive=include_inactive)
    if fmt is Format.JSON:
        print_json([r.as_dict() for r in roots])
        return
    if not roots:
        err.print("no units in the database yet: run `amplifier sync` first")
        raise typer.Exit(0)
    try:
        title = ws.files.org.institution.name
    except WorkspaceError:
        title = str(ws.root)
    tree = Tree(f"[bold]{title}[/]")
    for root in roots:
        _add(tree, root)
    out.print(tree)
    count = sum(len(r.walk()) for r in roots)
    accounts = sum(len(n.accounts) for r in roots for n in r.walk())
    out.print(f"{count} units, {accounts} accounts")


def _add(parent: Tree, node: UnitNode) -> None:
    label = f"[bold]{node.code}[/] {node.name} [dim]{node.kind} · {node.timezone}[/]"
    if not node.active:
        label += " [red](inactive)[/]"
    if node.accounts:
        handles = ", ".join(
            f"{a.platform}:@{a.handle}" + ("" if a.active else " (inactive)") for a in node.accounts
        )
        label += f"\n[cyan]{handles}[/]"
    branch = parent.add(label)
    for child in node.children:
        _add(branch, child)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the database schema to this version of amplifier (back it up first)."""
    ws = state(ctx).open()
    engine = database.create_engine(ws.database_url)
    before, after = database.upgrade(engine)
    if before == after:
        out.print(f"schema already at {after}")
    else:
        out.print(f"schema upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def db_status(ctx: typer.Context, fmt: FormatOption = Format.TABLE) -> None:
    """Show the database URL and whether its schema is current."""
    ws = state(ctx).open()
    engine = database.create_engine(ws.database_url)
    current = database.current_revision(engine)
    head = database.head_revision()
    safe_url = engine.url.render_as_string(hide_password=True)
    if fmt is Format.JSON:
        print_json(
            {"url": safe_url, "current": current, "head": head, "up_to_date": current == head}
        )
        return
    out.print(f"database: {safe_url}", highlight=False)
    out.print(f"schema: {current or 'empty'} (this amplifier: {head})")
    if current != head:
        out.print("run `amplifier db upgrade`" if current else "created on first use")
