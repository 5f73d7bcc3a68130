"""``amplifier check``: the institution's guideline on the workspace and the planned variants."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from amplifier.check import check_workspace_and_variants
from amplifier.cli.app import Format, FormatOption, out, print_json, state


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    ctx: typer.Context,
    today: Annotated[
        str | None,
        typer.Option("--today", help="judge assignment letters as of this date (YYYY-MM-DD)"),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Check naming, profile photos, admins' letters, and every planned variant's findings.

    Exits 1 when anything blocks (so a PR team can run it in CI), else 0.
    """
    ws = state(ctx).open()
    day = dt.date.fromisoformat(today) if today else None
    report = check_workspace_and_variants(ws, today=day)
    if fmt is Format.JSON:
        print_json(report.as_dict())
    else:
        table = Table("severity", "rule", "where", "message", title="workspace")
        for f in sorted(report.workspace, key=lambda f: (f.severity != "block", f.rule)):
            color = "red" if f.severity == "block" else "yellow"
            table.add_row(f"[{color}]{f.severity}[/]", f.rule, f.source or "", escape(f.message))
        out.print(table)
        if report.variants:
            counts = Counter((f["severity"], f["rule"]) for f in report.variants)
            vt = Table("severity", "rule", "variants", "example", title="planned variants")
            for (severity, rule), n in counts.most_common():
                ex = next(f for f in report.variants if f["rule"] == rule)
                vt.add_row(severity, rule, str(n), f"{ex['unit']} {ex['account']}: {ex['message']}")
            out.print(vt)
        total = len(report.workspace) + len(report.variants)
        verdict = "[red]blocking findings[/]" if report.blocking else "[green]nothing blocks[/]"
        out.print(f"{total} findings; {verdict}")
    if report.blocking:
        raise typer.Exit(1)
