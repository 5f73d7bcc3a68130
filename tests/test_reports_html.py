"""The HTML report: the renderer, the charts' geometry, the command line, and the pages in
headless Chromium (no console errors, charts drawn to scale, filters, sorting, escaping,
screenshots).

The workspace is the one of ``tests/test_reports.py``, whose numbers are worked out by hand
there; the expected values below are read from the report objects, not guessed.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from amplifier.cli import run
from amplifier.models import ADMINS, CAMPAIGNS, UNITS
from amplifier.reports import (
    DELAY_EDGES,
    FORMATS,
    CampaignCoverage,
    Leaderboard,
    coverage,
    delay_histogram,
    leaderboard,
    render,
    to_html,
)
from amplifier.reports.cells import percent
from amplifier.reports.charts import Item, bar_chart, column_chart, nice_ticks
from amplifier.reports.html import LEADERBOARD_CHART_UNITS, delay_label
from amplifier.workspace import Workspace
from tests.browser import file_url
from tests.test_reports import NOW, build

AS_OF = ["--as-of", NOW.isoformat()]
HOSTILE = (
    '<img src=x onerror="window.pwned=1">Kantor & "Layanan"</td><script>window.pwned=2</script>'
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    tmp = tmp_path_factory.mktemp("reports-html")
    return build(tmp / "ws", f"sqlite:///{tmp / 'r.db'}")


@pytest.fixture(scope="module")
def camp(ws: Workspace) -> CampaignCoverage:
    return coverage(ws, "hut", now=NOW).campaign("hut")


@pytest.fixture(scope="module")
def board(ws: Workspace) -> Leaderboard:
    return leaderboard(ws, "hut", now=NOW)


# --- delays ---------------------------------------------------------------------------


def test_delay_histogram_of_the_fixture(ws: Workspace, camp: CampaignCoverage) -> None:
    # delays after central (test_reports): -60 | 60 61 62 65 65 70 75 80 90 minutes
    bins = camp.total.delay_histogram()
    counts = {delay_label(b): b.count for b in bins if b.count}
    assert counts == {"< 0": 1, "1–2 jam": 9}
    assert len(bins) == len(DELAY_EDGES) + 1
    data = json.loads(render(coverage(ws, "hut", now=NOW), "json"))["campaigns"][0]
    assert data["delay_histogram"][0] == {"from_seconds": None, "to_seconds": 0, "count": 1}
    assert data["delay_histogram"][4] == {"from_seconds": 3600, "to_seconds": 7200, "count": 9}
    assert sum(b["count"] for b in data["delay_histogram"]) == data["total"]["amplified"]


@given(st.lists(st.floats(min_value=-1e6, max_value=1e7, allow_nan=False)))
def test_every_delay_falls_in_exactly_its_class(delays: list[float]) -> None:
    bins = delay_histogram(delays)
    assert sum(b.count for b in bins) == len(delays)
    for b in bins:
        inside = [
            d for d in delays if (b.low is None or d >= b.low) and (b.high is None or d < b.high)
        ]
        assert b.count == len(inside)


def test_delay_labels() -> None:
    labels = [delay_label(b) for b in delay_histogram([])]
    assert labels == [
        "< 0",
        "0–15 mnt",
        "15–30 mnt",
        "30–60 mnt",
        "1–2 jam",
        "2–3 jam",
        "3–6 jam",
        "6–12 jam",
        "12–24 jam",
        "≥ 24 jam",
    ]


# --- chart geometry -------------------------------------------------------------------


@given(st.floats(min_value=0.01, max_value=1e9, allow_nan=False))
def test_nice_ticks_cover_the_largest_value_in_round_steps(largest: float) -> None:
    ticks = nice_ticks(largest)
    assert ticks[0] == 0 and ticks[-1] >= largest and len(ticks) <= 5
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    (step,) = steps
    assert step >= 1 and step == int(step) and str(int(step)).rstrip("0") in {"1", "2", "5"}


def test_bar_and_column_lengths_are_proportional_to_values() -> None:
    items = [Item("a", 80.0, "80%"), Item("b", 20.0, "20%"), Item("c", None, "–")]
    bars = bar_chart("t", items, axis="x", maximum=100, plot_width=400).bars
    assert [b.width for b in bars] == [320.0, 80.0, 0.0]
    assert len({b.x for b in bars}) == 1 and bars[0].y < bars[1].y < bars[2].y
    columns = column_chart("t", [Item("a", 3, "3"), Item("b", 6, "6")], x_axis="", y_axis="")
    a, b = columns.bars
    assert b.height == 2 * a.height and a.y + a.height == b.y + b.height == columns.bottom
    assert columns.ticks[-1].value >= 6


# --- the page as text -----------------------------------------------------------------


def test_the_page_is_self_contained_and_carries_the_numbers(ws: Workspace) -> None:
    report = coverage(ws, "hut", now=NOW)
    page = to_html(report)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"\b(src|href)\s*=|<link\b|@import|url\(", page)
    assert "<b>66.7%</b><span>Cakupan (coverage)</span>" in page
    assert "<b>1h 05m</b><span>Median jeda (median delay)</span>" in page
    camp = report.campaign("hut")
    for r in camp.regions:
        assert f">{r.label}</text>" in page and f">{percent(r.counts.coverage_pct)}</text>" in page
    for name in ("posts", "units", "accounts", "regions", "timezones", "kinds", "platforms"):
        assert f'id="c0-{name}"' in page
    only_units = to_html(report, ["units"])
    assert 'id="c0-units"' in only_units and 'id="c0-accounts"' not in only_units
    assert 'id="c0-chart0"' in only_units and 'id="c0-chart1"' in only_units  # charts stay
    assert render(report, "html") == page and "html" in FORMATS
    with pytest.raises(ValueError, match="unknown section"):
        to_html(report, ["provinces"])


def test_leaderboard_page_marks_letters(ws: Workspace, board: Leaderboard) -> None:
    page = to_html(board)
    assert page.count('class="badge bad">kedaluwarsa 2027-06-30<') == 2  # ADM-2, two units
    assert page.count('class="badge ok">berlaku s.d. 2027-12-31<') == 2
    assert "tidak ada admin aktif" in page  # KANWIL-PAPUA
    early = to_html(leaderboard(ws, now=NOW, today=dt.date(2027, 1, 20)))
    assert 'class="badge warn">belum berlaku, mulai 2027-02-01<' in early
    empty = to_html(Leaderboard(NOW, board.grace, board.today, "hut", [], 0))
    assert "Belum ada unit" in empty and "<svg" not in empty


@pytest.fixture
def hostile(ws: Workspace) -> Iterator[Workspace]:
    """Markup in a unit's name, a campaign's title and an admin's name, restored after."""
    U, C, M = UNITS, CAMPAIGNS, ADMINS
    changes = [
        (U, U.c.code == "KL-DENPASAR", "name"),
        (C, C.c.slug == "hut", "title"),
        (M, M.c.key == "ADM-2", "name"),
    ]
    with ws.engine.begin() as conn:
        saved = [conn.execute(sa.select(t.c[col]).where(w)).scalar_one() for t, w, col in changes]
        for t, w, col in changes:
            conn.execute(sa.update(t).where(w).values({col: HOSTILE}))
    try:
        yield ws
    finally:
        with ws.engine.begin() as conn:
            for (t, w, col), value in zip(changes, saved, strict=True):
                conn.execute(sa.update(t).where(w).values({col: value}))


def test_text_from_data_is_escaped(hostile: Workspace) -> None:
    for page in (to_html(coverage(hostile, now=NOW)), to_html(leaderboard(hostile, now=NOW))):
        assert HOSTILE not in page and "<img" not in page
        assert page.count("<script>") == 1  # the page's own
        assert "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;Kantor &amp; &#34;" in page


# --- the command line -----------------------------------------------------------------


def _cli(ws: Workspace, *args: str) -> int:
    return run(["--workspace", str(ws.root), "--database-url", ws.database_url, *args])


def test_cli_writes_html(ws: Workspace, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "coverage.html"
    code = _cli(ws, "report", "coverage", "-c", "hut", "-f", "html", "--out", str(target), *AS_OF)
    assert code == 0 and f"wrote {target}" in capfd.readouterr().err
    assert target.read_text(encoding="utf-8") == to_html(coverage(ws, "hut", now=NOW))

    assert _cli(ws, "report", "leaderboard", "--top", "2", "--format", "html", *AS_OF) == 0
    page = capfd.readouterr().out
    assert page.startswith("<!doctype html>") and "2 teratas dari 4 unit" in page

    missing = tmp_path / "no" / "such" / "folder" / "r.html"
    assert _cli(ws, "report", "coverage", "-f", "html", "-o", str(missing), *AS_OF) == 2
    assert "cannot write" in capfd.readouterr().err and not missing.exists()
    assert _cli(ws, "report", "coverage", "-c", "tidak-ada", "-f", "html", *AS_OF) == 2
    assert "no campaign 'tidak-ada'" in capfd.readouterr().err
    assert _cli(ws, "report", "coverage", "-f", "pdf") == 2


# --- in the browser -------------------------------------------------------------------


def _open(page: Any, tmp_path: Path, html: str, name: str = "report.html") -> None:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    page.goto(file_url(path))
    page.errors.assert_none()


BOXES = """els => els.map(e => {
  const r = e.getBoundingClientRect();
  return [r.width, r.height, Number(e.dataset.value)];
})"""


def _bars(page: Any, chart: str) -> list[tuple[float, float, float]]:
    found: list[list[float]] = page.eval_on_selector_all(f"#{chart} rect.bar", BOXES)
    return [(w, h, v) for w, h, v in found]


def _texts(page: Any, selector: str) -> list[str]:
    texts: list[str] = page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")
    return texts


def _assert_proportional(sizes: list[float], values: list[float]) -> None:
    """Each size is to the largest as its value is to the largest value (±0.6 px)."""
    top = max(range(len(values)), key=values.__getitem__)
    assert sizes[top] > 50
    for size, value in zip(sizes, values, strict=True):
        assert size == pytest.approx(sizes[top] * value / values[top], abs=0.6)
        assert (size > 0) == (value > 0)


def test_coverage_page_charts_render_to_scale(
    page: Any, tmp_path: Path, ws: Workspace, camp: CampaignCoverage
) -> None:
    _open(page, tmp_path, to_html(coverage(ws, "hut", now=NOW)))
    assert page.title() == "Laporan cakupan (coverage report)"
    assert page.locator("#c0-chart0 svg > title").text_content() == (
        "Cakupan per provinsi (coverage by region)"
    )
    # coverage by region: one bar per region, its length to scale
    bars = _bars(page, "c0-chart0")
    assert len(bars) == len(camp.regions) == 3
    values = [r.counts.coverage_pct or 0.0 for r in camp.regions]
    assert [v for _, _, v in bars] == values
    _assert_proportional([w for w, _, _ in bars], values)
    assert all(h > 0 for _, h, _ in bars)
    assert _texts(page, "#c0-chart0 text.label") == [r.label for r in camp.regions]
    assert _texts(page, "#c0-chart0 text.value") == [
        percent(r.counts.coverage_pct) for r in camp.regions
    ]
    # the delays: the classes hold every amplified variant, heights to scale
    columns = _bars(page, "c0-chart1")
    histogram = camp.total.delay_histogram()
    assert len(columns) == len(histogram)
    assert sum(v for _, _, v in columns) == len(camp.total.delays) == camp.total.amplified
    counts = [float(b.count) for b in histogram]
    assert [v for _, _, v in columns] == counts
    _assert_proportional([h for _, h, _ in columns], counts)
    assert _texts(page, "#c0-chart1 text.value") == [str(b.count) for b in histogram]
    assert _texts(page, "#c0-chart1 text.label") == [delay_label(b) for b in histogram]


def _visible(page: Any, table: str) -> list[str]:
    """The first cell of each visible row."""
    return _texts(page, f"#{table} tbody tr:not([hidden]) td:first-child")


def test_filters_change_the_visible_rows(
    page: Any, tmp_path: Path, ws: Workspace, camp: CampaignCoverage
) -> None:
    _open(page, tmp_path, to_html(coverage(ws, "hut", now=NOW)))
    form = "form[data-table=c0-units]"
    everything = [r.key for r in camp.units]
    assert _visible(page, "c0-units") == everything

    page.select_option(f"{form} select[name=region]", "Bali")
    bali = [r.key for r in camp.units if r.details["region"] == "Bali"]
    assert _visible(page, "c0-units") == bali and len(bali) == 2
    assert page.locator(f"{form} output").text_content() == f"2 dari {len(everything)} baris"

    page.select_option(f"{form} select[name=kind]", "service")
    both = [
        r.key for r in camp.units if (r.details["region"], r.details["kind"]) == ("Bali", "service")
    ]
    assert _visible(page, "c0-units") == both == ["KL-DENPASAR"]

    page.select_option(f"{form} select[name=region]", "")
    page.select_option(f"{form} select[name=kind]", "")
    page.fill(f"{form} input[type=search]", "papua")
    assert _visible(page, "c0-units") == ["KANWIL-PAPUA"]
    page.fill(f"{form} input[type=search]", "")
    assert _visible(page, "c0-units") == everything

    accounts = "form[data-table=c0-accounts]"
    page.select_option(f"{accounts} select[name=platform]", "instagram")
    expected = [r.label for r in camp.accounts if r.details["platform"] == "instagram"]
    shown = _texts(page, "#c0-accounts tbody tr:not([hidden]) td:nth-child(2)")
    assert shown == expected and len(expected) == 2
    page.errors.assert_none()


def test_columns_sort(page: Any, tmp_path: Path, ws: Workspace, camp: CampaignCoverage) -> None:
    _open(page, tmp_path, to_html(coverage(ws, "hut", now=NOW)))
    header = page.locator("#c0-units thead th", has_text="Cakupan")
    assert header.count() == 1

    def key(r: Any) -> float:
        return r.counts.coverage_pct if r.counts.coverage_pct is not None else -1.0

    ascending = sorted(camp.units, key=key)
    header.locator("button").click()
    assert _visible(page, "c0-units") == [r.key for r in ascending]
    assert header.get_attribute("aria-sort") == "ascending"
    header.locator("button").click()
    assert _visible(page, "c0-units") == [r.key for r in sorted(ascending, key=key, reverse=True)]
    page.locator("#c0-units thead th", has_text="Nama").locator("button").click()
    names = _texts(page, "#c0-units tbody td:nth-child(2)")
    assert names == sorted((r.details["name"] for r in camp.units), key=str.lower)
    page.errors.assert_none()


def test_leaderboard_page(page: Any, tmp_path: Path, board: Leaderboard) -> None:
    _open(page, tmp_path, to_html(board))
    shown = board.entries[:LEADERBOARD_CHART_UNITS]
    bars = _bars(page, "leaderboard-chart")
    values = [e.counts.on_time_pct or 0.0 for e in shown]
    assert len(bars) == len(shown) == 4 and [v for _, _, v in bars] == values
    _assert_proportional([w for w, _, _ in bars], values)
    assert _visible(page, "leaderboard") == [str(e.rank) for e in board.entries]
    page.select_option("form[data-table=leaderboard] select[name=region]", "Bali")
    bali = [str(e.rank) for e in board.entries if e.region == "Bali"]
    assert _visible(page, "leaderboard") == bali and len(bali) == 2
    expired = sum(a.letter_state == "expired" for e in board.entries for a in e.admins)
    assert page.locator("#leaderboard .badge.bad").count() == expired == 2
    page.errors.assert_none()


def test_hostile_text_is_shown_as_text(page: Any, tmp_path: Path, hostile: Workspace) -> None:
    _open(page, tmp_path, to_html(coverage(hostile, now=NOW)))
    names = _texts(page, "#c0-units tbody td:nth-child(2)")
    assert HOSTILE in names
    assert page.locator("h2").first.text_content() == f"{HOSTILE} hut"
    assert page.locator("main img, main script").count() == 0
    _open(page, tmp_path, to_html(leaderboard(hostile, now=NOW)), "board.html")
    assert page.locator("#leaderboard td.admins", has_text=HOSTILE).count() == 2
    assert page.evaluate("window.pwned") is None
    page.errors.assert_none()


def _screenshot(page: Any, path: Path) -> Image.Image:
    png = page.screenshot(path=str(path))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1280, 900)
    return image


BAR_BLUE = (0x25, 0x63, 0xEB)  # --bar in report.css


@pytest.mark.parametrize("which", ["coverage", "leaderboard"])
def test_screenshot(page: Any, tmp_path: Path, ws: Workspace, which: str) -> None:
    report = coverage(ws, "hut", now=NOW) if which == "coverage" else leaderboard(ws, now=NOW)
    _open(page, tmp_path, to_html(report))
    image = _screenshot(page, tmp_path / f"{which}.png")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # text, tiles, bars: not a blank page
    counted = {colour: n for n, colour in colours}
    assert counted.get(BAR_BLUE, 0) > 1000  # the bars of the first chart are on screen
