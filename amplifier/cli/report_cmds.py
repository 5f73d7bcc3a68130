"""Commands for reports: coverage per campaign, and the units' leaderboard."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from amplifier.cli.app import err, out, state
from amplifier.errors import InvalidOperation
from amplifier.reports import coverage, leaderboard, print_report, render
from amplifier.reports.coverage import BREAKDOWNS
from amplifier.reports.render import Report

report_app = typer.Typer(
    help="Reports: which units amplified the central posts, when, and which did not.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


class ReportFormat(StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"
    HTML = "html"


class Section(StrEnum):
    """The breakdowns of a coverage report (``amplifier.reports.coverage.BREAKDOWNS``)."""

    POSTS = "posts"
    UNITS = "units"
    ACCOUNTS = "accounts"
    REGIONS = "regions"
    TIMEZONES = "timezones"
    KINDS = "kinds"
    PLATFORMS = "platforms"


assert tuple(Section) == BREAKDOWNS

CampaignOption = Annotated[
    str | None, typer.Option("--campaign", "-c", help="only this campaign (default: all)")
]
ReportFormatOption = Annotated[
    ReportFormat,
    typer.Option(
        "--format",
        "-f",
        help="table for people, markdown for documents, json for scripts, html with charts",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="write to this file instead of the terminal", dir_okay=False),
]
GraceOption = Annotated[
    int,
    typer.Option(
        "--grace", min=0, help="minutes after the planned time that still count as on time"
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="judge as of this moment, with offset (2027-10-30T00:00+07:00); default: now",
        show_default=False,
    ),
]


def _as_of(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError as exc:
        raise InvalidOperation(f"--as-of '{text}' is not an ISO date-time: {exc}") from exc
    if moment.tzinfo is None:
        raise InvalidOperation(f"--as-of '{text}' needs a UTC offset, e.g. 2027-10-30T00:00+07:00")
    return moment.astimezone(dt.UTC)


def _emit(report: Report, fmt: ReportFormat, target: Path | None, sections: list[str]) -> None:
    chosen = sections or None
    if target is not None:
        text = render(report, fmt.value, chosen)
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidOperation(f"cannot write {target}: {exc.strerror or exc}") from exc
        err.print(f"wrote {target}", highlight=False)
    elif fmt is ReportFormat.TABLE:
        print_report(out, report, chosen)
    else:
        out.file.write(render(report, fmt.value, chosen))


@report_app.command("coverage")
def coverage_cmd(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    fmt: ReportFormatOption = ReportFormat.TABLE,
    target: OutOption = None,
    grace: GraceOption = 15,
    as_of: AsOfOption = None,
    section: Annotated[
        list[Section] | None,
        typer.Option("--section", "-s", help="only these breakdowns (repeatable)"),
    ] = None,
) -> None:
    """Who amplified each central post: on time, late, missed, not confirmed, not applicable;
    coverage and median delay per post, unit, account, region, timezone, kind, platform."""
    report = coverage(
        state(ctx).open(),
        campaign,
        now=_as_of(as_of),
        grace=dt.timedelta(minutes=grace),
    )
    _emit(report, fmt, target, [s.value for s in section or []])


@report_app.command("leaderboard")
def leaderboard_cmd(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    top: Annotated[
        int | None, typer.Option("--top", "-n", min=1, help="only the first N units")
    ] = None,
    fmt: ReportFormatOption = ReportFormat.TABLE,
    target: OutOption = None,
    grace: GraceOption = 15,
    as_of: AsOfOption = None,
) -> None:
    """Rank units by on-time rate and streak of central posts amplified on time, with the
    admins behind each unit and whether their assignment letters are in force."""
    board = leaderboard(
        state(ctx).open(),
        campaign,
        top=top,
        now=_as_of(as_of),
        grace=dt.timedelta(minutes=grace),
    )
    _emit(board, fmt, target, [])
