"""Reports as a terminal table (rich), Markdown, JSON or HTML (``reports.html``).

    report = coverage(ws, "hut")
    print(render(report, "markdown"))
    Path("coverage.json").write_text(render(report, "json"))
    print_report(console, report)                # rich tables, for a terminal

Every format shows the same numbers from the same plain objects (``as_dict()`` is the JSON).
``sections`` limits a coverage report to some breakdowns (``coverage.BREAKDOWNS``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from amplifier.reports.cells import duration, percent, utc
from amplifier.reports.coverage import (
    BREAKDOWNS,
    CampaignCoverage,
    Counts,
    CoverageReport,
    CoverageRow,
    breakdowns,
)
from amplifier.reports.html import to_html
from amplifier.reports.recognition import AdminCredit, Leaderboard, LeaderboardEntry

__all__ = [
    "FORMATS",
    "duration",
    "markdown",
    "percent",
    "print_report",
    "render",
    "renderables",
    "to_json",
]

FORMATS = ("table", "markdown", "json", "html")
Report = CoverageReport | Leaderboard

# --- cells --------------------------------------------------------------------------------


COUNT_COLUMNS: list[tuple[str, Callable[[Counts], str]]] = [
    ("targeted", lambda c: str(c.targeted)),
    ("on time", lambda c: str(c.on_time)),
    ("late", lambda c: str(c.late)),
    ("missed", lambda c: str(c.missed)),
    ("not confirmed", lambda c: str(c.not_confirmed)),
    ("n/a", lambda c: str(c.not_applicable)),
    ("pending", lambda c: str(c.pending)),
    ("coverage", lambda c: percent(c.coverage_pct)),
    ("on-time rate", lambda c: percent(c.on_time_pct)),
    ("median delay", lambda c: duration(c.median_delay)),
]

# breakdown -> (title, leading columns)
_Columns = list[tuple[str, Callable[[CoverageRow], str]]]
BREAKDOWN_COLUMNS: dict[str, tuple[str, _Columns]] = {
    "posts": (
        "by central post",
        [
            ("post", lambda r: r.key or ""),
            ("central time", lambda r: utc(dt.datetime.fromisoformat(r.details["central_at"]))),
        ],
    ),
    "units": (
        "by unit",
        [("unit", lambda r: r.key or ""), ("name", lambda r: r.details["name"])],
    ),
    "accounts": (
        "by account",
        [
            ("unit", lambda r: r.details["unit"]),
            ("account", lambda r: r.label),
            ("mode", lambda r: r.details["mode"]),
        ],
    ),
    "regions": ("by region", [("region", lambda r: r.label)]),
    "timezones": ("by timezone", [("timezone", lambda r: r.label)]),
    "kinds": ("by unit kind", [("kind", lambda r: r.label)]),
    "platforms": ("by platform", [("platform", lambda r: r.label)]),
}


def _summary(c: Counts) -> str:
    return (
        f"coverage {percent(c.coverage_pct)} ({c.amplified} of {c.targeted} targeted variants "
        f"amplified), on time {percent(c.on_time_pct)}, median delay "
        f"{duration(c.median_delay)} after the central post; on time {c.on_time}, late "
        f"{c.late}, missed {c.missed}, not confirmed {c.not_confirmed}, not applicable "
        f"{c.not_applicable}, pending {c.pending}"
    )


def _legend(as_of: dt.datetime, grace: dt.timedelta) -> str:
    return (
        f"as of {utc(as_of)}; on time = posted within {duration(grace)} of the planned time "
        "(manual accounts: confirmed)"
    )


def _letter(a: AdminCredit) -> str:
    if a.letter_in_force:
        return f"{a.letter_number} valid to {a.letter_valid_until}"
    if a.letter_state == "expired":
        return f"{a.letter_number} EXPIRED {a.letter_valid_until}"
    return f"{a.letter_number} NOT VALID before {a.letter_issued}"


def _entry_admins(entry: LeaderboardEntry) -> str:
    parts = []
    for a in entry.admins:
        scope = "" if a.covers == ["unit"] else f" ({', '.join(a.covers)})"
        parts.append(f"{a.name}{scope}, {_letter(a)}")
    return "; ".join(parts) or "no active admin"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


LEADERBOARD_COLUMNS: list[tuple[str, Callable[[LeaderboardEntry], str]]] = [
    ("#", lambda e: str(e.rank)),
    ("unit", lambda e: e.unit),
    ("name", lambda e: e.name),
    ("on-time rate", lambda e: percent(e.counts.on_time_pct)),
    ("on time", lambda e: f"{e.counts.on_time}/{e.counts.targeted}"),
    ("posts on time", lambda e: f"{e.posts_on_time}/{e.posts}"),
    ("streak", lambda e: str(e.current_streak)),
    ("best streak", lambda e: str(e.best_streak)),
    ("median delay", lambda e: duration(e.counts.median_delay)),
    ("admins", _entry_admins),
]

_LEADERBOARD_TEXT = frozenset({"unit", "name", "admins"})


def _leaderboard_heading(board: Leaderboard) -> str:
    scope = f"campaign {board.campaign}" if board.campaign else "all campaigns"
    shown = len(board.entries)
    more = f", top {shown} of {board.units} units" if shown < board.units else ""
    return f"Leaderboard: {scope}{more}"


# --- Markdown -----------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[str]], text: Iterable[str]) -> str:
    left = set(text)
    align = ["---" if h in left else "---:" for h in headers]
    lines = [
        "| " + " | ".join(_md_cell(h) for h in headers) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _campaign_markdown(camp: CampaignCoverage, sections: list[str]) -> str:
    parts = [
        f"## {_md_cell(camp.title)} (`{camp.slug}`)",
        f"Period {camp.period_start} to {camp.period_end}: {_summary(camp.total)}.",
    ]
    for name in sections:
        title, lead = BREAKDOWN_COLUMNS[name]
        rows = camp.breakdown(name)
        headers = [h for h, _ in lead] + [h for h, _ in COUNT_COLUMNS]
        body = [[f(r) for _, f in lead] + [f(r.counts) for _, f in COUNT_COLUMNS] for r in rows]
        parts += [
            f"### {title[0].upper()}{title[1:]}",
            _md_table(headers, body, [h for h, _ in lead]),
        ]
    return "\n\n".join(parts)


def markdown(report: Report, sections: Iterable[str] | None = None) -> str:
    if isinstance(report, Leaderboard):
        headers = [h for h, _ in LEADERBOARD_COLUMNS]
        body = [[f(e) for _, f in LEADERBOARD_COLUMNS] for e in report.entries]
        table = (
            _md_table(headers, body, _LEADERBOARD_TEXT)
            if body
            else "No unit has a judged variant yet."
        )
        return (
            f"# {_leaderboard_heading(report)}\n\n"
            f"{_sentence(_legend(report.as_of, report.grace))}; streak = consecutive central "
            f"posts amplified on time on every targeted account; letters checked on "
            f"{report.today}.\n\n{table}\n"
        )
    chosen = breakdowns(sections)
    parts = ["# Coverage report", _sentence(_legend(report.as_of, report.grace)) + "."]
    parts += [_campaign_markdown(c, chosen) for c in report.campaigns]
    if not report.campaigns:
        parts.append("No campaign.")
    return "\n\n".join(parts) + "\n"


# --- JSON ---------------------------------------------------------------------------------


def to_json(report: Report, sections: Iterable[str] | None = None) -> str:
    data = report.as_dict()
    if isinstance(report, CoverageReport) and sections is not None:
        dropped = set(BREAKDOWNS) - set(breakdowns(sections))
        for camp in data["campaigns"]:
            for name in dropped:
                del camp[name]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# --- terminal -----------------------------------------------------------------------------


_STYLES = {"missed": "red", "not confirmed": "yellow", "late": "yellow"}


def _count_cells(c: Counts) -> list[Text]:
    cells = []
    for header, f in COUNT_COLUMNS:
        value = f(c)
        style = _STYLES.get(header, "") if value not in ("0", "–") else ""
        cells.append(Text(value, style=style))
    return cells


def _rich_table(title: str, headers: Sequence[str], numeric_from: int) -> Table:
    """Compact: no vertical rules, numeric headers on two lines, the key column unwrapped."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True)
    for i, header in enumerate(headers):
        if i >= numeric_from:
            table.add_column(header.replace(" ", "\n"), justify="right", no_wrap=True)
        else:
            table.add_column(header, no_wrap=i == 0, overflow="fold")
    return table


def renderables(report: Report, sections: Iterable[str] | None = None) -> list[RenderableType]:
    """rich renderables for a terminal."""
    if isinstance(report, Leaderboard):
        table = Table(
            title=_leaderboard_heading(report),
            title_justify="left",
            box=box.SIMPLE_HEAD,
            collapse_padding=True,
        )
        for header, _ in LEADERBOARD_COLUMNS:
            if header in _LEADERBOARD_TEXT:
                table.add_column(header, no_wrap=header == "unit")
            else:
                table.add_column(header.replace(" ", "\n"), justify="right")
        for e in report.entries:
            table.add_row(*[Text(f(e)) for _, f in LEADERBOARD_COLUMNS])  # never markup
        legend = f"{_legend(report.as_of, report.grace)}; letters checked on {report.today}"
        return [table, Text(legend, style="dim")]
    chosen = breakdowns(sections)
    out: list[RenderableType] = [Text(_legend(report.as_of, report.grace), style="dim")]
    if not report.campaigns:
        out.append(Text("no campaign"))
    for camp in report.campaigns:
        head = Text.assemble(
            (f"{camp.title} ({camp.slug})", "bold"),
            f"  {camp.period_start} to {camp.period_end}\n",
            _summary(camp.total),
        )
        out += [Text(""), head]
        for name in chosen:
            title, lead = BREAKDOWN_COLUMNS[name]
            table = _rich_table(
                title, [h for h, _ in lead] + [h for h, _ in COUNT_COLUMNS], len(lead)
            )
            for r in camp.breakdown(name):
                table.add_row(*[Text(f(r)) for _, f in lead], *_count_cells(r.counts))
            out.append(table)
    return out


MAX_WIDTH = 240


def print_report(console: Console, report: Report, sections: Iterable[str] | None = None) -> None:
    """Print the report's tables. On a terminal they fit its width; into a pipe or a file
    each is printed at its natural width (up to ``MAX_WIDTH``), never squeezed."""
    for item in renderables(report, sections):
        if console.is_terminal:
            console.print(item)
            continue
        wide = console.options.update_width(MAX_WIDTH)
        width = max(console.width, console.measure(item, options=wide).maximum)
        Console(file=console.file, width=min(width, MAX_WIDTH), color_system=None).print(item)


def render(report: Report, fmt: str = "table", sections: Iterable[str] | None = None) -> str:
    """The report as text in ``fmt``: table (plain text, no colour), markdown, json or html."""
    if fmt == "html":
        return to_html(report, sections)
    if fmt == "json":
        return to_json(report, sections)
    if fmt == "markdown":
        return markdown(report, sections)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    buffer = io.StringIO()
    print_report(Console(file=buffer, width=80, color_system=None), report, sections)
    return buffer.getvalue()
