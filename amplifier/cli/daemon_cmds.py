"""Commands for publishing: run (the daemon), status, retry, cancel, demo."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from amplifier import status as ops
from amplifier.cli.app import Format, FormatOption, err, out, print_json, state


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("status")(status)
    app.command("retry")(retry)
    app.command("cancel")(cancel)
    app.command("demo")(demo)


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(json_lines: bool, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonLines()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))


LogJson = Annotated[bool, typer.Option("--log-json", help="log JSON lines to stderr")]
LogLevel = Annotated[str, typer.Option("--log-level", help="debug, info, warning, error")]


def run(
    ctx: typer.Context,
    log_json: LogJson = False,
    log_level: LogLevel = "info",
    worker: Annotated[str | None, typer.Option("--worker", help="name in claims and logs")] = None,
) -> None:
    """Run the scheduler daemon until SIGTERM/SIGINT (publishes due, approved variants)."""
    from amplifier.schedule import Daemon

    setup_logging(log_json, log_level)
    Daemon(state(ctx).open(), worker=worker).run()


def status(ctx: typer.Context, fmt: FormatOption = Format.TABLE) -> None:
    """What is due, running, late, failed, missed and uncertain."""
    found = ops.status(state(ctx).open())
    if fmt is Format.JSON:
        print_json(found)
        return
    table = Table("", "variants", title="status")
    for name in ("due", "running", "late", "failed", "missed", "uncertain"):
        table.add_row(name, str(found[name]))
    out.print(table)
    out.print("by status: " + ", ".join(f"{k} {v}" for k, v in sorted(found["by_status"].items())))
    out.print(f"next publish time: {found['next'] or '-'}")


def retry(ctx: typer.Context, variant: Annotated[int, typer.Argument(help="variant id")]) -> None:
    """Send a failed, missed or uncertain variant again, now (same idempotency key)."""
    ops.retry_variant(state(ctx).open(), variant)
    out.print(f"variant {variant} scheduled again, due now")


def cancel(ctx: typer.Context, variant: Annotated[int, typer.Argument(help="variant id")]) -> None:
    """Cancel a variant that has not gone out (it stays on record; plans will not revive it)."""
    ops.cancel_variant(state(ctx).open(), variant)
    out.print(f"variant {variant} cancelled")


def demo(
    ctx: typer.Context,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="where the demo database and outbox go")
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Plan the bundled calendar and publish it with the real daemon, in under a minute.

    The workspace's own database is not touched: the demo uses a fresh folder.
    """
    from amplifier.demo import run_demo

    root = state(ctx).workspace
    say = (lambda msg: err.print(f"[dim]{msg}[/]")) if fmt is Format.TABLE else None
    result = run_demo(root, folder, progress=say)
    data = result.as_dict()
    if fmt is Format.JSON:
        print_json(data)
    else:
        table = Table(title="amplifier demo", show_header=False)
        table.add_column()
        table.add_column()
        table.add_row("variants planned", str(data["planned"]["variants"]))
        table.add_row(
            "planned by status",
            ", ".join(f"{k} {v}" for k, v in data["planned"]["by_status"].items()),
        )
        table.add_row("published by the daemon", str(data["outcomes"].get("published", 0)))
        table.add_row(
            "final statuses", ", ".join(f"{k} {v}" for k, v in sorted(data["statuses"].items()))
        )
        lateness = data["lateness_seconds"]
        table.add_row("lateness median / p99", f"{lateness['median']} s / {lateness['p99']} s")
        table.add_row("scheduler jobs at the end", json.dumps(data["scheduler_jobs"]))
        table.add_row("took", f"{data['seconds']} s")
        out.print(table)
        out.print(f"outbox (ready-to-copy texts per unit): {data['outbox']}", highlight=False)
        out.print(f"index: {Path(data['outbox']) / 'index.md'}", highlight=False)
        out.print(f"database: {data['database_url']}", highlight=False)
        again = f"amplifier -w {root} --database-url {data['database_url']}"
        out.print(f"status:   {again} status", highlight=False)
        out.print(
            f"calendar: {again} export ics --out {Path(data['folder']) / 'ics'}", highlight=False
        )
        if data["calendar"]:
            out.print(f"HTML calendar of the plan: {data['calendar']}", highlight=False)
        out.print(f"report:   {again} report coverage", highlight=False)
    remaining = data["statuses"].get("scheduled", 0) + data["statuses"].get("publishing", 0)
    if remaining:
        raise typer.Exit(1)
