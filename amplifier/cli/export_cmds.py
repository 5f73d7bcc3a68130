"""Commands for exports (calendars, spreadsheet) and proof of posting (confirm)."""

from __future__ import annotations

import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from amplifier.cli.app import Format, FormatOption, err, out, print_json, state
from amplifier.errors import InvalidOperation

export_app = typer.Typer(
    help=(
        "Exports: calendars a unit admin can subscribe to (ICS) or open in a browser (HTML), "
        "and a spreadsheet (CSV)."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.command("confirm")(confirm)


class By(StrEnum):
    UNIT = "unit"
    ACCOUNT = "account"
    CAMPAIGN = "campaign"


DEFAULT_ICS = Path(".amplifier") / "exports" / "ics"
DEFAULT_HTML = Path(".amplifier") / "exports" / "html"


@export_app.command("ics")
def ics(
    ctx: typer.Context,
    by: Annotated[
        list[By] | None,
        typer.Option("--by", help="one calendar per unit, account or campaign (repeatable)"),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="folder for the .ics files (default: .amplifier/exports/ics in the workspace)",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Write one iCalendar file per unit, account or campaign, to subscribe to.

    Files: units/<CODE>.ics, accounts/<platform>-<handle>.ics, campaigns/<slug>.ics. File
    names and event UIDs stay the same from one export to the next; SEQUENCE rises when a
    time or status changes.
    """
    from amplifier.exports import export_ics

    ws = state(ctx).open()
    ways = [str(b) for b in (by or [By.UNIT])]
    report = export_ics(ws, folder if folder is not None else ws.root / DEFAULT_ICS, by=ways)
    if fmt is Format.JSON:
        print_json(report.as_dict())
        return
    table = Table("view", "calendars", "with events", "events", title="calendars written")
    for way, files in report.calendars.items():
        table.add_row(
            way,
            str(len(files)),
            str(sum(1 for _, n in files if n)),
            str(sum(n for _, n in files)),
        )
    out.print(table)
    out.print(
        f"{report.events} variants; {report.new} new, {report.changed} with a new time or "
        f"status (SEQUENCE raised); {report.seconds:.1f} s",
        highlight=False,
    )
    out.print(f"folder: {escape(str(report.folder))}", highlight=False)


@export_app.command("csv")
def csv_(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Option("--out", help="file to write (default: standard output)", dir_okay=False),
    ] = None,
    bom: Annotated[
        bool, typer.Option("--bom", help="start with a UTF-8 byte order mark, for Excel")
    ] = False,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="write cells exactly (no apostrophe before text that starts with = + - @)",
        ),
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """One row per variant: unit, account, status, review, times, text, findings, URL."""
    from amplifier.exports import export_csv

    ws = state(ctx).open()
    if path is None:
        export_csv(ws, sys.stdout, bom=bom, formula_guard=not raw)
        return
    report = export_csv(ws, path, bom=bom, formula_guard=not raw)
    if fmt is Format.JSON:
        print_json(report.as_dict())
        return
    out.print(
        f"{report.rows} variants written to {escape(str(report.path))} in {report.seconds:.1f} s",
        highlight=False,
    )


@export_app.command("html")
def html(
    ctx: typer.Context,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="folder for the pages (default: .amplifier/exports/html in the workspace)",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option("--campaign", help="write only this campaign's page (slug)"),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Write the HTML calendar: index.html and campaigns/<slug>.html, to open offline.

    Month and week views, filters by unit, campaign and platform, shaded blackout days,
    times in each unit's own zone; click an entry for its text. No network is needed: the
    pages open from the disk (file://) or from any static web server.
    """
    from amplifier.exports import export_html

    ws = state(ctx).open()
    say = (lambda msg: err.print(f"[dim]{escape(msg)}[/]")) if fmt is Format.TABLE else None
    target = folder if folder is not None else ws.root / DEFAULT_HTML
    report = export_html(ws, target, campaign=campaign, progress=say)
    if fmt is Format.JSON:
        print_json(report.as_dict())
        return
    table = Table("page", "entries", title="pages written")
    for name, count in report.pages:
        table.add_row(escape(name), str(count))
    out.print(table)
    out.print(
        f"{len(report.pages)} files, {report.variants} variants; {report.seconds:.1f} s",
        highlight=False,
    )
    if report.index is not None:
        out.print(f"open: {escape(report.index.as_uri())}", highlight=False, soft_wrap=True)


def confirm(
    ctx: typer.Context,
    variant: Annotated[int | None, typer.Argument(help="variant id", show_default=False)] = None,
    url: Annotated[
        str | None, typer.Argument(help="the live post's address", show_default=False)
    ] = None,
    import_file: Annotated[
        Path | None,
        typer.Option(
            "--import",
            help="CSV or JSON file with variant,url rows (export csv's file works too)",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Record the live URL of a post that went out (proof of posting).

    The URL must be a post of the variant's account (see `amplifier.confirm`). A scheduled,
    missed, uncertain or failed variant becomes published. With --import, every row gets a
    result and the exit status is 2 if any row was rejected (the others are applied).
    """
    from amplifier import confirm as proof

    ws = state(ctx).open()
    if import_file is not None:
        if variant is not None or url is not None:
            raise InvalidOperation("give either VARIANT URL or --import FILE, not both")
        results = proof.import_confirmations(ws, import_file)
        counts = Counter(r.result for r in results)
        if fmt is Format.JSON:
            print_json(
                {
                    "ok": counts["ok"],
                    "rejected": counts["rejected"],
                    "skipped": counts["skipped"],
                    "rows": [r.as_dict() for r in results],
                }
            )
        else:
            table = Table("row", "variant", "result", "status", "detail", title="confirmations")
            for r in results:
                colour = {"ok": "green", "rejected": "red"}.get(r.result, "dim")
                table.add_row(
                    str(r.row or ""),
                    escape(str(r.variant if r.variant is not None else "")),
                    f"[{colour}]{r.result}[/]",
                    r.status or "",
                    escape(r.reason or ""),
                )
            out.print(table)
            out.print(
                f"{counts['ok']} ok, {counts['rejected']} rejected, {counts['skipped']} skipped"
            )
        if counts["rejected"]:
            if fmt is Format.TABLE:
                err.print("some rows were rejected; the others were applied")
            raise typer.Exit(2)
        return
    if variant is None or not url:
        raise InvalidOperation("give VARIANT URL, or --import FILE")
    result = proof.confirm_variant(ws, variant, url)
    if fmt is Format.JSON:
        print_json(result.as_dict())
        return
    detail = f" ({result.reason})" if result.reason else ""
    out.print(
        f"variant {variant} confirmed: {result.status}{detail}; {escape(result.url)}",
        highlight=False,
        soft_wrap=True,
    )
