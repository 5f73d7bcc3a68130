"""Commands for fan-out: targets, preview, plan."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from amplifier.cli.app import Format, FormatOption, err, out, print_json, state
from amplifier.vocab import Platform


def register(app: typer.Typer) -> None:
    app.command("targets")(targets)
    app.command("preview")(preview)
    app.command("plan")(plan)


PostArg = Annotated[str, typer.Argument(help="campaign-slug/post-key, or a unique post-key")]


def targets(ctx: typer.Context, post: PostArg, fmt: FormatOption = Format.TABLE) -> None:
    """List the unit accounts that receive a post, and why."""
    found = state(ctx).open().targets(post)
    if fmt is Format.JSON:
        print_json(
            [
                {
                    "unit": t.unit.code,
                    "platform": str(t.account.platform),
                    "handle": t.account.handle,
                    "reasons": list(t.reasons),
                }
                for t in found
            ]
        )
        return
    table = Table("unit", "account", "why", title=f"targets of {post}")
    for t in found:
        table.add_row(
            t.unit.code, f"{t.account.platform}:@{t.account.handle}", "; ".join(t.reasons)
        )
    out.print(table)
    units = len({t.unit.code for t in found})
    out.print(f"{len(found)} accounts in {units} units")


def preview(
    ctx: typer.Context,
    unit: Annotated[str, typer.Argument(help="unit code, e.g. KANWIL-BALI")],
    post: PostArg,
    platform: Annotated[
        Platform | None, typer.Option("--platform", "-p", help="only this platform")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="also show the template chain that was used")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Print the rendered variant(s) of a post for one unit, writing nothing."""
    shown = state(ctx).open().preview(unit, post, platform.value if platform else None)
    if fmt is Format.JSON:
        print_json([p.as_dict() for p in shown])
        return
    for p in shown:
        body = p.text if p.title is None else f"[bold]{p.title}[/]\n\n{p.text}"
        subtitle = "" if p.targeted else "[yellow]this account is not targeted by the post[/]"
        out.print(Panel(body, title=p.account, subtitle=subtitle, title_align="left"))
        if explain:
            out.print("template chain (most specific first):")
            for i, name in enumerate(p.chain, 1):
                where = f"amplifier:{name}" if name.startswith("builtin/") else f"templates/{name}"
                out.print(f"  {i}. {where}", highlight=False)
        for f in p.findings:
            color = "red" if f["severity"] == "block" else "yellow"
            at = f" ({f['source']})" if f.get("source") else ""
            out.print(
                f"  [{color}]{f['severity']}[/] {f['rule']}: {f['message']}{at}", highlight=False
            )


def plan(
    ctx: typer.Context,
    campaign: Annotated[
        str | None, typer.Option("--campaign", "-c", help="only this campaign")
    ] = None,
    post: Annotated[
        str | None, typer.Option("--post", "-p", help="only posts with this key")
    ] = None,
    sync: Annotated[
        bool, typer.Option("--sync/--no-sync", help="sync the workspace files first")
    ] = True,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="compare every stored variant, even when nothing changed since the last "
            "plan (after the database was written with other tools)",
        ),
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Render and check every targeted variant and save them (re-running changes nothing)."""
    ws = state(ctx).open()
    if sync:
        ws.sync()
    show_progress = fmt is Format.TABLE and err.is_terminal
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not show_progress,
        transient=True,
    ) as bar:
        task = bar.add_task("planning", total=None)
        summary = ws.plan(
            campaign=campaign,
            post=post,
            full=full,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if fmt is Format.JSON:
        print_json(summary.as_dict())
        return
    table = Table("", "variants", title=f"plan: {summary.posts} posts, {summary.targets} targets")
    for name in ("created", "updated", "unchanged", "kept", "cancelled"):
        table.add_row(name, str(summary.counts.get(name, 0)))
    out.print(table)
    if summary.by_status:
        out.print(
            "by status: "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items()) if v),
            highlight=False,
        )
    if summary.findings:
        rules = Counter((f["severity"], f["rule"]) for f in summary.findings)
        findings = Table("severity", "rule", "variants", "example", title="findings")
        for (severity, rule), count in rules.most_common():
            example = next(f for f in summary.findings if f["rule"] == rule)
            findings.add_row(
                severity,
                rule,
                str(count),
                f"{example['unit']} {example['account']}: {example['message']}",
            )
        out.print(findings)
    stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in summary.stages.items())
    out.print(f"done in {summary.seconds:.2f} s ({stages})", highlight=False)
