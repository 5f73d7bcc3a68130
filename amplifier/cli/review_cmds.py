"""Commands for the review workflow: list, approve, reject."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from amplifier import review
from amplifier.cli.app import Format, FormatOption, out, print_json, state
from amplifier.review import Action
from amplifier.vocab import ReviewState

review_app = typer.Typer(help="Review variants: list, approve, reject.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")


Campaign = Annotated[str | None, typer.Option("--campaign", "-c", help="variants of this campaign")]
Unit = Annotated[str | None, typer.Option("--unit", "-u", help="variants of this unit code")]
Post = Annotated[
    str | None, typer.Option("--post", "-p", help="variants of this post (slug/key or key)")
]
Ids = Annotated[list[int] | None, typer.Option("--id", help="variant id (repeatable)")]
By = Annotated[
    str, typer.Option("--by", envvar="AMPLIFIER_REVIEWER", help="who is reviewing (recorded)")
]
Note = Annotated[str | None, typer.Option("--note", "-n", help="a note kept with the decision")]


@review_app.command("list")
def list_(
    ctx: typer.Context,
    review_state: Annotated[
        ReviewState, typer.Option("--state", help="which review state to list")
    ] = ReviewState.NEEDS_REVIEW,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Variants waiting in a review state (default: needs_review), with their findings."""
    ws = state(ctx).open()
    queue = review.review_queue(ws, review_state)
    if fmt is Format.JSON:
        print_json(
            [
                {"id": v.id, "text": v.text, "findings": v.findings, "status": str(v.status)}
                for v in queue
            ]
        )
        return
    table = Table("id", "status", "findings", "text", title=f"{review_state}: {len(queue)}")
    for v in queue:
        found = "; ".join(f"{f['severity']} {f['rule']}" for f in v.findings) or "-"
        table.add_row(str(v.id), str(v.status), found, v.text[:80].replace("\n", " "))
    out.print(table)
    out.print("totals: " + ", ".join(f"{k} {n}" for k, n in sorted(review.counts(ws).items())))


def _act(
    ctx: typer.Context,
    action: Action,
    by: str,
    note: str | None,
    campaign: str | None,
    unit: str | None,
    post: str | None,
    ids: list[int] | None,
    fmt: Format,
) -> None:
    ws = state(ctx).open()
    result = review.review_variants(
        ws, action, by=by, note=note, campaign=campaign, unit=unit, post=post, ids=ids or ()
    )
    if fmt is Format.JSON:
        print_json(result.as_dict())
        return
    verb = "approved" if action == "approve" else "rejected"
    out.print(f"{verb} {len(result.changed)} variants")
    for vid, why in sorted(result.refused.items()):
        out.print(f"  [yellow]not {verb}[/] {vid}: {why}", highlight=False)


@review_app.command("approve")
def approve(
    ctx: typer.Context,
    by: By,
    note: Note = None,
    campaign: Campaign = None,
    unit: Unit = None,
    post: Post = None,
    ids: Ids = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Approve every matching variant (variants with a blocking finding are refused)."""
    _act(ctx, "approve", by, note, campaign, unit, post, ids, fmt)


@review_app.command("reject")
def reject(
    ctx: typer.Context,
    by: By,
    note: Note = None,
    campaign: Campaign = None,
    unit: Unit = None,
    post: Post = None,
    ids: Ids = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Reject every matching variant; rejected variants are never scheduled."""
    _act(ctx, "reject", by, note, campaign, unit, post, ids, fmt)
