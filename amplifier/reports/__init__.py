"""Reports: which units amplified the central agenda, when, and which did not.

    from amplifier.reports import coverage, leaderboard, render, to_html

    report = coverage(ws, "hari-pelayanan-publik")       # per post, unit, account, region …
    board = leaderboard(ws, top=10)                      # on-time rate, streaks, admins
    print(render(report, "markdown"))
    Path("coverage.html").write_text(to_html(report))   # self-contained, with charts

Both return plain dataclasses with ``as_dict()`` (what ``--format json`` prints). The
definitions of on time, late, missed, not confirmed and not applicable are in
``amplifier.reports.coverage``; ranking and streaks in ``amplifier.reports.recognition``.
"""

from amplifier.reports.coverage import (
    BREAKDOWNS,
    DEFAULT_GRACE,
    DELAY_EDGES,
    CampaignCoverage,
    Counts,
    CoverageReport,
    CoverageRow,
    DelayBin,
    Outcome,
    amplified_at,
    classify,
    coverage,
    delay_histogram,
)
from amplifier.reports.html import to_html
from amplifier.reports.recognition import AdminCredit, Leaderboard, LeaderboardEntry, leaderboard
from amplifier.reports.render import (
    FORMATS,
    markdown,
    print_report,
    render,
    renderables,
    to_json,
)

__all__ = [
    "BREAKDOWNS",
    "DEFAULT_GRACE",
    "DELAY_EDGES",
    "FORMATS",
    "AdminCredit",
    "CampaignCoverage",
    "Counts",
    "CoverageReport",
    "CoverageRow",
    "DelayBin",
    "Leaderboard",
    "LeaderboardEntry",
    "Outcome",
    "amplified_at",
    "classify",
    "coverage",
    "delay_histogram",
    "leaderboard",
    "markdown",
    "print_report",
    "render",
    "renderables",
    "to_html",
    "to_json",
]
