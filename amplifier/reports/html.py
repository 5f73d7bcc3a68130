"""Reports as one self-contained HTML page, with charts.

    report = coverage(ws, "hut")
    Path("coverage.html").write_text(to_html(report), encoding="utf-8")
    Path("leaderboard.html").write_text(to_html(leaderboard(ws, top=20)), encoding="utf-8")

The page has its CSS, its charts (inline SVG) and a little script of its own inline: it
loads nothing, works offline and opens from ``file://``. It shows the numbers of the same
plain objects as the other formats. A coverage page has, per campaign, the totals, a bar
chart of coverage by region, a histogram of the delays after the central post
(``Counts.delay_histogram()``), and the breakdowns as tables (``sections`` chooses them,
as for the other formats; the charts are always shown); the unit and account tables can
be filtered by region, unit kind and platform, and every table sorts by any column. A
leaderboard page has a chart of the on-time rate of the first units and the ranking with
streaks and admins, their assignment letters marked in force, expired or not yet valid.
Labels are in Bahasa Indonesia, with the English term where it helps. Everything that
comes from data (names, handles, titles) is escaped by the template.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from markupsafe import Markup, escape

from amplifier.reports.cells import duration, percent, utc
from amplifier.reports.charts import Chart, Item, bar_chart, column_chart
from amplifier.reports.coverage import (
    CampaignCoverage,
    Counts,
    CoverageReport,
    CoverageRow,
    DelayBin,
    breakdowns,
)
from amplifier.reports.recognition import (
    CENTRAL_ZONE,
    AdminCredit,
    Leaderboard,
    LeaderboardEntry,
)

__all__ = ["LEADERBOARD_CHART_UNITS", "delay_label", "to_html"]


LEADERBOARD_CHART_UNITS = 25  # units in the leaderboard's chart; the table has them all

Cell = str  # a ``<td>`` element (see "cells" below)


@dataclass
class Column:
    title: str  # Bahasa Indonesia
    english: str = ""
    text: bool = False  # left-aligned, sorts as text


@dataclass
class Row:
    cells: list[Cell]
    data: dict[str, str] = field(default_factory=dict)  # data-* attributes for the filters

    def html(self) -> Markup:
        """``<tr …>`` and the cells, without ``</tr>``."""
        attributes = "".join(f' data-{k}="{_attribute(v)}"' for k, v in self.data.items())
        return Markup(f"<tr{attributes}>{''.join(self.cells)}")


@functools.lru_cache(maxsize=4096)
def _attribute(value: str) -> str:
    return str(escape(value))  # few distinct values (regions, kinds, platforms)


@dataclass
class Filter:
    name: str  # the data-* attribute of the rows
    label: str
    options: list[tuple[str, str]]  # (value, shown)


@dataclass
class Table:
    id: str
    title: str
    columns: list[Column]
    rows: list[Row]
    filters: list[Filter] = field(default_factory=list)
    search: bool = False
    collapsed: bool = False

    def body(self) -> Markup:
        """Every row, for ``<tbody>``."""
        return Markup("</tr>\n".join(r.html() for r in self.rows) + "</tr>" if self.rows else "")


# --- cells ------------------------------------------------------------------------------

# A cell is its ``<td>`` element. Text from data goes through ``_text`` (escaped); the
# other cells are numbers we format. ``data-v`` is the value a cell sorts by when that is
# not its text. Rows are built here rather than in the template: a report can have 25,000
# of them, and strings are several times faster than a macro per row and cell.


def _int(value: int) -> Cell:
    return f"<td>{value}</td>"


def _sorted_by(text: str, key: float) -> Cell:
    return f'<td data-v="{key}">{text}</td>'


def _pct(value: float | None) -> Cell:
    return _sorted_by(percent(value), -1.0 if value is None else value)


def _delay(value: dt.timedelta | None) -> Cell:
    if value is None:
        return "<td>–</td>"
    return _sorted_by(duration(value), value.total_seconds())


def _text(value: str | None) -> Cell:
    return f"<td>{escape(value or '')}</td>"


COUNT_COLUMNS = [
    Column("Ditargetkan", "targeted"),
    Column("Tepat waktu", "on time"),
    Column("Terlambat", "late"),
    Column("Terlewat", "missed"),
    Column("Belum dikonfirmasi", "not confirmed"),
    Column("Tidak berlaku", "n/a"),
    Column("Menunggu", "pending"),
    Column("Cakupan", "coverage"),
    Column("Rasio tepat waktu", "on-time rate"),
    Column("Median jeda", "median delay"),
]


def _count_cells(c: Counts) -> list[Cell]:
    return [
        _int(c.targeted),
        _int(c.on_time),
        _int(c.late),
        _int(c.missed),
        _int(c.not_confirmed),
        _int(c.not_applicable),
        _int(c.pending),
        _pct(c.coverage_pct),
        _pct(c.on_time_pct),
        _delay(c.median_delay),
    ]


def _central(moment: dt.datetime) -> str:
    return f"{moment.astimezone(CENTRAL_ZONE):%Y-%m-%d %H:%M} WIB"


def _as_of(moment: dt.datetime) -> str:
    return f"{_central(moment)} ({utc(moment)})"


def delay_label(b: DelayBin) -> str:
    """'< 0' (before the central post), '0–15 mnt', '30–60 mnt', '1–2 jam', '≥ 24 jam'."""
    if b.low is None:
        return f"< {_span(b.high or 0)}"
    if b.high is None:
        return f"≥ {_span(b.low)}"
    if b.low % 3600 or b.high % 3600:
        return f"{b.low // 60}–{b.high // 60} mnt"
    return f"{b.low // 3600}–{b.high // 3600} jam"


def _span(seconds: int) -> str:
    if seconds == 0:
        return "0"
    return f"{seconds // 3600} jam" if seconds % 3600 == 0 else f"{seconds // 60} mnt"


# --- coverage ---------------------------------------------------------------------------


def _options(values: Iterable[str | None], none: str = "(tanpa provinsi)") -> list[tuple[str, str]]:
    distinct = sorted({v or "" for v in values})
    return [(v, v or none) for v in distinct]


def _region_chart(camp: CampaignCoverage) -> Chart:
    items = [
        Item(
            r.label,
            r.counts.coverage_pct,
            percent(r.counts.coverage_pct),
            f"{r.label}: {percent(r.counts.coverage_pct)}, {r.counts.amplified} dari "
            f"{r.counts.targeted} konten turunan diamplifikasi",
        )
        for r in camp.regions
    ]
    return bar_chart(
        "Cakupan per provinsi (coverage by region)",
        items,
        axis="cakupan (coverage): diamplifikasi / ditargetkan, %",
        maximum=100,
        unit="%",
        description=(
            "Persentase konten turunan yang diamplifikasi per provinsi (negara untuk kantor "
            "luar negeri)."
        ),
    )


def _delay_chart(camp: CampaignCoverage) -> Chart:
    bins = camp.total.delay_histogram()
    items = [
        Item(delay_label(b), b.count, str(b.count), f"{delay_label(b)}: {b.count} konten turunan")
        for b in bins
    ]
    return column_chart(
        "Sebaran jeda setelah konten pusat (distribution of delays)",
        items,
        x_axis="jeda setelah konten pusat (delay after the central post)",
        y_axis="konten turunan (variants)",
        description=(
            f"{len(camp.total.delays)} konten turunan yang diamplifikasi, menurut jeda antara "
            "konten pusat dan unggahan unit."
        ),
    )


def _breakdown_table(camp: CampaignCoverage, name: str, index: int) -> Table:
    """One breakdown as a table; units and accounts carry region and kind for the filters."""
    rows = camp.breakdown(name)
    table_id = f"c{index}-{name}"
    if name == "posts":
        columns = [
            Column("Konten pusat", "central post", True),
            Column("Waktu pusat", "central time", True),
        ]
        body = [
            Row(
                [
                    _text(r.label),
                    _text(_central(dt.datetime.fromisoformat(r.details["central_at"]))),
                    *_count_cells(r.counts),
                ]
            )
            for r in rows
        ]
        return Table(table_id, "Per konten pusat (by central post)", columns + COUNT_COLUMNS, body)
    if name == "units":
        return _units_table(table_id, rows)
    if name == "accounts":
        return _accounts_table(table_id, rows, camp.units)
    titles = {
        "regions": ("Per provinsi (by region)", "Provinsi", "region"),
        "timezones": ("Per zona waktu (by timezone)", "Zona waktu", "timezone"),
        "kinds": ("Per jenis unit (by unit kind)", "Jenis unit", "kind"),
        "platforms": ("Per platform (by platform)", "Platform", ""),
    }
    title, column, english = titles[name]
    body = [Row([_text(r.label), *_count_cells(r.counts)]) for r in rows]
    return Table(table_id, title, [Column(column, english, True), *COUNT_COLUMNS], body)


def _unit_data(details: dict[str, Any]) -> dict[str, str]:
    return {"region": details.get("region") or "", "kind": details.get("kind") or ""}


def _units_table(table_id: str, rows: list[CoverageRow]) -> Table:
    columns = [
        Column("Unit", "unit", True),
        Column("Nama", "name", True),
        Column("Provinsi", "region", True),
        Column("Jenis", "kind", True),
        *COUNT_COLUMNS,
    ]
    body = [
        Row(
            [
                _text(r.key),
                _text(r.details["name"]),
                _text(r.details["region"]),
                _text(r.details["kind"]),
                *_count_cells(r.counts),
            ],
            _unit_data(r.details),
        )
        for r in rows
    ]
    details = [r.details for r in rows]
    filters = [
        Filter("region", "Provinsi", _options(d["region"] for d in details)),
        Filter("kind", "Jenis unit", _options(d["kind"] for d in details)),
    ]
    return Table(table_id, "Per unit kerja (by unit)", columns, body, filters, search=True)


def _accounts_table(table_id: str, rows: list[CoverageRow], units: list[CoverageRow]) -> Table:
    unit_data = {u.key: _unit_data(u.details) for u in units}
    columns = [
        Column("Unit", "unit", True),
        Column("Akun", "account", True),
        Column("Mode", "", True),
        *COUNT_COLUMNS,
    ]
    body = []
    for r in rows:
        data = dict(unit_data.get(r.details["unit"], {"region": "", "kind": ""}))
        data["platform"] = r.details["platform"]
        body.append(
            Row(
                [
                    _text(r.details["unit"]),
                    _text(r.label),
                    _text(r.details["mode"]),
                    *_count_cells(r.counts),
                ],
                data,
            )
        )
    filters = [
        Filter("region", "Provinsi", _options(d["region"] for d in unit_data.values())),
        Filter("kind", "Jenis unit", _options(d["kind"] for d in unit_data.values())),
        Filter("platform", "Platform", _options(r.details["platform"] for r in rows)),
    ]
    title = "Per akun (by account)"
    return Table(table_id, title, columns, body, filters, search=True, collapsed=len(body) > 200)


def _summary(c: Counts) -> list[tuple[str, str, str]]:
    """(value, label, css class) tiles."""
    return [
        (percent(c.coverage_pct), "Cakupan (coverage)", "coverage"),
        (percent(c.on_time_pct), "Rasio tepat waktu (on-time rate)", "on-time"),
        (duration(c.median_delay), "Median jeda (median delay)", "delay"),
        (str(c.on_time), "Tepat waktu (on time)", "on-time"),
        (str(c.late), "Terlambat (late)", "late"),
        (str(c.missed), "Terlewat (missed)", "missed"),
        (str(c.not_confirmed), "Belum dikonfirmasi (not confirmed)", "unconfirmed"),
        (str(c.not_applicable), "Tidak berlaku (n/a)", "muted"),
        (str(c.pending), "Menunggu (pending)", "muted"),
    ]


def _coverage_context(report: CoverageReport, sections: list[str]) -> dict[str, Any]:
    campaigns = [
        {
            "slug": camp.slug,
            "title": camp.title,
            "period": f"{camp.period_start} s.d. {camp.period_end}",
            "counts": camp.total,
            "tiles": _summary(camp.total),
            "charts": [_region_chart(camp), _delay_chart(camp)],
            "tables": [_breakdown_table(camp, name, i) for name in sections],
        }
        for i, camp in enumerate(report.campaigns)
    ]
    return {
        "title": "Laporan cakupan (coverage report)",
        "as_of": _as_of(report.as_of),
        "grace": duration(report.grace),
        "campaigns": campaigns,
    }


# --- leaderboard ------------------------------------------------------------------------

LETTER_STATES = {
    "in_force": ("berlaku s.d.", "ok"),
    "expired": ("kedaluwarsa", "bad"),
    "not_yet_valid": ("belum berlaku, mulai", "warn"),
}


def _letter(a: AdminCredit) -> dict[str, str]:
    words, css = LETTER_STATES[a.letter_state]
    when = a.letter_issued if a.letter_state == "not_yet_valid" else a.letter_valid_until
    scope = "" if a.covers == ["unit"] else ", ".join(a.covers)
    return {"name": a.name, "scope": scope, "number": a.letter_number,
            "state": f"{words} {when}", "css": css}  # fmt: skip


def _leaderboard_rows(entries: list[LeaderboardEntry]) -> list[dict[str, Any]]:
    return [
        {
            "row": Row(
                [
                    _int(e.rank),
                    _text(e.unit),
                    _text(e.name),
                    _text(e.region),
                    _text(e.kind),
                    _pct(e.counts.on_time_pct),
                    _sorted_by(f"{e.counts.on_time}/{e.counts.targeted}", e.counts.on_time),
                    _sorted_by(f"{e.posts_on_time}/{e.posts}", e.posts_on_time),
                    _int(e.current_streak),
                    _int(e.best_streak),
                    _delay(e.counts.median_delay),
                ],
                {"region": e.region or "", "kind": e.kind},
            ),
            "admins": [_letter(a) for a in e.admins],
        }
        for e in entries
    ]


LEADERBOARD_COLUMNS = [
    Column("#", "rank"),
    Column("Unit", "unit", True),
    Column("Nama", "name", True),
    Column("Provinsi", "region", True),
    Column("Jenis", "kind", True),
    Column("Rasio tepat waktu", "on-time rate"),
    Column("Tepat waktu", "on time"),
    Column("Pos tepat waktu", "posts on time"),
    Column("Runtunan", "streak"),
    Column("Runtunan terbaik", "best streak"),
    Column("Median jeda", "median delay"),
    Column("Admin dan surat tugas", "admins, assignment letters", True),
]


def _leaderboard_context(board: Leaderboard) -> dict[str, Any]:
    shown = board.entries[:LEADERBOARD_CHART_UNITS]
    chart = bar_chart(
        f"Rasio tepat waktu, {len(shown)} unit teratas (on-time rate)",
        [
            Item(
                f"{e.rank}. {e.unit}",
                e.counts.on_time_pct,
                percent(e.counts.on_time_pct),
                f"{e.unit} {e.name}: {e.counts.on_time} dari {e.counts.targeted} tepat waktu",
            )
            for e in shown
        ],
        axis="rasio tepat waktu (on-time rate), %",
        maximum=100,
        unit="%",
        description="Persentase konten turunan yang diunggah tepat waktu per unit.",
    )
    entries = board.entries
    scope = f"agenda {board.campaign}" if board.campaign else "semua agenda"
    more = f", {len(entries)} teratas dari {board.units} unit" if len(entries) < board.units else ""
    return {
        "title": f"Papan peringkat (leaderboard): {scope}{more}",
        "as_of": _as_of(board.as_of),
        "grace": duration(board.grace),
        "today": board.today.isoformat(),
        "chart": chart if entries else None,
        "columns": LEADERBOARD_COLUMNS,
        "rows": _leaderboard_rows(entries),
        "filters": [
            Filter("region", "Provinsi", _options(e.region for e in entries)),
            Filter("kind", "Jenis unit", _options(e.kind for e in entries)),
        ],
    }


# --- the page ---------------------------------------------------------------------------


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("amplifier", "data/reports"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def to_html(report: CoverageReport | Leaderboard, sections: Iterable[str] | None = None) -> str:
    """The report as one self-contained HTML page (``sections``: a coverage report's
    breakdown tables, as for the other formats)."""
    env = _environment()
    if isinstance(report, Leaderboard):
        return env.get_template("leaderboard.html.j2").render(_leaderboard_context(report))
    context = _coverage_context(report, breakdowns(sections))
    return env.get_template("coverage.html.j2").render(context)
