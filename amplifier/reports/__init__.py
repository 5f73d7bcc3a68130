"""Reports: which units amplified the central agenda, when, and which did not.

    from amplifier.reports import coverage, leaderboard, render

    report = coverage(ws, "hari-pelayanan-publik")       # per post, unit, account, region …
    board = leaderboard(ws, top=10)                      # on-time rate, streaks, admins
    print(render(report, "markdown"))

Both return plain dataclasses with ``as_dict()`` (what ``--format json`` prints). The
definitions of on time, late, missed, not confirmed and not applicable are in
``amplifier.reports.coverage``; ranking and streaks in ``amplifier.reports.recognition``.
"""

from amplifier.reports.coverage import (
    BREAKDOWNS,
    DEFAULT_GRACE,
    CampaignCoverage,
    Counts,
    CoverageReport,
    CoverageRow,
    Outcome,
    amplified_at,
    classify,
    coverage,
)
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
    "FORMATS",
    "AdminCredit",
    "CampaignCoverage",
    "Counts",
    "CoverageReport",
    "CoverageRow",
    "Leaderboard",
    "LeaderboardEntry",
    "Outcome",
    "amplified_at",
    "classify",
    "coverage",
    "leaderboard",
    "markdown",
    "print_report",
    "render",
    "renderables",
    "to_json",
]
