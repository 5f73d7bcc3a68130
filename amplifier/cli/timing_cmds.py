"""Commands for timing: why a variant got its time, and embargoes (crisis pauses)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pendulum
import typer
from rich.table import Table

from amplifier import timetable
from amplifier.cli.app import Format, FormatOption, out, print_json, state
from amplifier.errors import InvalidOperation

embargo_app = typer.Typer(
    help="Embargoes: hold every affected variant at once (mourning, disaster, incident).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("why")(why)
    app.add_typer(embargo_app, name="embargo")


def why(
    ctx: typer.Context,
    variant: Annotated[int, typer.Argument(help="variant id (see `amplifier review list`)")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Explain how a variant's time was chosen: window, hours, blackouts, conflicts, shifts."""
    lines = timetable.why(state(ctx).open(), variant)
    if fmt is Format.JSON:
        print_json({"variant": variant, "steps": lines})
        return
    for line in lines:
        out.print(line, highlight=False)


def _moment(text: str) -> dt.datetime:
    try:
        parsed = pendulum.parse(text, strict=False)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise InvalidOperation(f"'{text}' is not a date-time: {exc}") from exc
    explicit = "+" in text[10:] or "Z" in text or "-" in text[10:]
    if not isinstance(parsed, dt.datetime) or not explicit:
        raise InvalidOperation(f"'{text}' needs a UTC offset, e.g. 2027-06-01T00:00+07:00")
    return parsed.astimezone(dt.UTC)


Many = Annotated[list[str] | None, typer.Option(help="repeatable")]


@embargo_app.command("add")
def add(
    ctx: typer.Context,
    starts: Annotated[
        str, typer.Option("--from", help="start, with offset: 2027-06-01T00:00+07:00")
    ],
    ends: Annotated[str, typer.Option("--to", help="end, with offset")],
    reason: Annotated[str, typer.Option("--reason", help="why (shown with held variants)")],
    region: Annotated[
        list[str] | None, typer.Option("--region", help="only units in this region")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="only units of this kind")
    ] = None,
    timezone: Annotated[
        list[str] | None, typer.Option("--timezone", help="only units in this zone")
    ] = None,
    unit: Annotated[list[str] | None, typer.Option("--unit", help="only this unit")] = None,
    subtree: Annotated[
        list[str] | None, typer.Option("--subtree", help="a unit and all below it")
    ] = None,
    campaign: Annotated[
        list[str] | None, typer.Option("--campaign", help="only this campaign")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="a name for it (default: derived)")
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Add an embargo and hold every pending or scheduled variant it covers."""
    scope = {
        name: values
        for name, values in (
            ("regions", region),
            ("kinds", kind),
            ("timezones", timezone),
            ("units", unit),
            ("subtrees", subtree),
        )
        if values
    }
    embargo, held = timetable.add_embargo(
        state(ctx).open(),
        _moment(starts),
        _moment(ends),
        reason=reason,
        scope=scope,
        campaigns=campaign or [],
        key=key,
    )
    if fmt is Format.JSON:
        print_json({"key": embargo.key, "held": held})
        return
    out.print(f"embargo [bold]{embargo.key}[/] added; {held} variants held")
    out.print(f"lift it with: amplifier embargo lift {embargo.key}", highlight=False)


@embargo_app.command("lift")
def lift(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="the embargo's key (see `amplifier embargo list`)")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Lift an embargo: re-time what it held, or mark it missed if its window has passed."""
    counts = timetable.lift_embargo(state(ctx).open(), key)
    if fmt is Format.JSON:
        print_json(dict(counts))
        return
    out.print(
        f"embargo {key} lifted: {counts['released']} released, "
        f"{counts['rescheduled']} re-timed, {counts['missed']} missed"
    )


@embargo_app.command("list")
def list_(ctx: typer.Context, fmt: FormatOption = Format.TABLE) -> None:
    """Show embargoes, active and lifted."""
    found = timetable.list_embargoes(state(ctx).open())
    if fmt is Format.JSON:
        print_json(
            [
                {
                    "key": e.key,
                    "from": e.starts_at.isoformat(),
                    "to": e.ends_at.isoformat(),
                    "reason": e.reason,
                    "scope": e.scope,
                    "campaigns": e.campaigns,
                    "active": e.active,
                }
                for e in found
            ]
        )
        return
    table = Table("key", "from (UTC)", "to (UTC)", "scope", "reason", "state", title="embargoes")
    for e in found:
        table.add_row(
            e.key,
            f"{e.starts_at:%Y-%m-%d %H:%M}",
            f"{e.ends_at:%Y-%m-%d %H:%M}",
            ", ".join(f"{k}={'/'.join(v)}" for k, v in e.scope.items()) or "all units",
            e.reason or "",
            "active" if e.active else "lifted",
        )
    out.print(table)
