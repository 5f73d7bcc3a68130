"""HTML calendar: the files, the embedded data, the command, and the pages in Chromium."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from amplifier.exports import CALENDAR_STATUSES, campaign_colour, export_html
from amplifier.exports.html import page_json
from amplifier.exports.rows import A, C, U, V, variant_rows
from amplifier.workspace import Workspace
from tests.browser import file_url
from tests.conftest import (
    ABROAD_ORG,
    HUT_CALENDAR,
    Planned,
    WorkspaceFactory,
    invoke_exports,
    open_planned,
    plan_workspace,
)

CALENDAR = (
    HUT_CALENDAR
    + """\
  - slug: layanan
    title: Layanan Digital
    period: {start: 2027-10-01, end: 2027-10-31}
    timing: {window: {relative: {start: 30m, end: 1d}}}
    posts:
      - key: tiga
        title: Pos Layanan
        at: 2027-10-28T10:00:00+07:00
        body: Pos layanan.
blackouts:
  - key: hening-nasional
    name: Masa Hening Nasional
    starts: 2027-10-20T00:00:00+07:00
    ends: 2027-10-21T00:00:00+07:00
  - key: hening-bali
    name: Masa Hening Bali
    starts: 2027-10-22T00:00:00+08:00
    ends: 2027-10-23T00:00:00+08:00
    scope: {regions: [Bali]}
holidays:
  - date: 2027-10-15
    name: Hari Libur Contoh
quiet_periods:
  - key: tenang
    name: Masa Tenang Contoh
    starts: 2027-10-12T00:00:00+07:00
    ends: 2027-10-13T00:00:00+07:00
    campaigns: [layanan]
"""
)
HOSTILE = '</script><img src=x onerror="window.__pwned=1"><!-- <b>tebal</b> & </script>'
DATA = re.compile(r'<script type="application/json" id="amplifier-data">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Planned:
    return plan_workspace(tmp_path_factory.mktemp("html"), ABROAD_ORG, {"a.yaml": CALENDAR})


@pytest.fixture
def hostile(ws: Workspace) -> int:
    """The first variant of KANWIL-BALI gets a text that tries to end the script."""
    with ws.engine.begin() as conn:
        vid = (
            conn.execute(variant_rows(V.c.id, where=[U.c.code == "KANWIL-BALI"], order_by=[V.c.id]))
            .scalars()
            .first()
        )
        conn.execute(sa.update(V).where(V.c.id == vid).values(text=HOSTILE))
    assert vid is not None
    return int(vid)


def calendar_rows(ws: Workspace) -> list[dict[str, Any]]:
    """What the calendar should show, straight from the database."""
    wanted = {str(s) for s in CALENDAR_STATUSES}
    with ws.engine.connect() as conn:
        rows = conn.execute(
            variant_rows(
                V.c.id,
                V.c.publish_at,
                V.c.status,
                U.c.code,
                U.c.timezone,
                A.c.platform,
                C.c.slug,
                where=[V.c.publish_at.is_not(None)],
            )
        ).all()
    return [
        {
            "id": r.id,
            "unit": r.code,
            "platform": str(r.platform),
            "campaign": r.slug,
            "day": r.publish_at.astimezone(ZoneInfo(r.timezone)).date(),
        }
        for r in rows
        if str(r.status) in wanted
    ]


def embedded(path: Path) -> dict[str, Any]:
    match = DATA.search(path.read_text(encoding="utf-8"))
    assert match is not None
    return json.loads(match.group(1))


# --- files and data ---------------------------------------------------------------------


def test_pages_and_embedded_data(ws: Workspace, tmp_path: Path, hostile: int) -> None:
    expected = calendar_rows(ws)
    assert len(expected) == 9
    report = export_html(ws, tmp_path / "html")
    assert report.variants == 9
    assert sorted(report.pages) == [
        ("campaigns/hut.html", 6),
        ("campaigns/layanan.html", 3),
        ("index.html", 9),
    ]
    assert report.index == (tmp_path / "html" / "index.html").resolve()
    index = embedded(tmp_path / "html" / "index.html")
    assert sorted(e[0] for e in index["entries"]) == sorted(r["id"] for r in expected)
    assert [c["slug"] for c in index["campaigns"]] == ["hut", "layanan"]
    assert [c["href"] for c in index["campaigns"]] == [
        "campaigns/hut.html",
        "campaigns/layanan.html",
    ]
    assert {u[0]: u[2] for u in index["units"]} == {
        "KANWIL-BALI": "Asia/Makassar",
        "PUSAT": "Asia/Jakarta",
        "PWK-DEN-HAAG": "Europe/Amsterdam",
    }
    by_id = {e[0]: e for e in index["entries"]}
    assert by_id[hostile][8] == HOSTILE  # the text parses back exactly
    for row in expected:
        entry = by_id[row["id"]]
        unit = index["units"][index["accounts"][entry[1]][0]]
        assert unit[0] == row["unit"] and entry[4] == row["day"].isoformat()
        abbreviation = {"KANWIL-BALI": "WITA", "PUSAT": "WIB"}.get(row["unit"])
        if abbreviation:
            assert entry[5].endswith(" " + abbreviation), entry[5]
    hut = embedded(tmp_path / "html" / "campaigns" / "hut.html")
    assert {e[0] for e in hut["entries"]} == {r["id"] for r in expected if r["campaign"] == "hut"}
    # the hostile text never ends the data element, nor opens a comment
    raw = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert raw.count("</script>") == 2 and "<img" not in raw and "<!--" not in raw


def test_blackouts_are_shaded_per_unit_scope(ws: Workspace, tmp_path: Path) -> None:
    export_html(ws, tmp_path / "html")
    data = embedded(tmp_path / "html" / "index.html")
    units = [u[0] for u in data["units"]]
    # 00:00-24:00 WIB: one day in WIB, it runs into the next day in WITA and starts on
    # the day before in Den Haag (19:00 CEST)
    national = {
        units[i]: s[6] for s in data["shades"] if s[0] == "Masa Hening Nasional" for i in s[5]
    }
    assert national == {
        "PUSAT": ["2027-10-20"],
        "KANWIL-BALI": ["2027-10-20", "2027-10-21"],
        "PWK-DEN-HAAG": ["2027-10-19", "2027-10-20"],
    }
    (bali,) = [s for s in data["shades"] if s[0] == "Masa Hening Bali"]
    assert bali[6] == ["2027-10-22"]
    assert [units[i] for i in bali[5]] == ["KANWIL-BALI"]  # scoped to the region Bali
    # from the calendar files (not in the database): a workspace holiday, a quiet period
    kinds = {s[0]: (s[1], s[3]) for s in data["shades"]}
    assert kinds["Hari Libur Contoh"] == ("holiday", None)
    assert kinds["Masa Tenang Contoh"] == ("quiet", ["layanan"])


def test_exports_are_stable(ws: Workspace, tmp_path: Path) -> None:
    first = export_html(ws, tmp_path / "a")
    export_html(ws, tmp_path / "b")
    for name, _ in first.pages:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    data = embedded(tmp_path / "a" / "index.html")
    colours = {c["slug"]: c["colour"] for c in data["campaigns"]}
    assert colours == {"hut": campaign_colour("hut"), "layanan": campaign_colour("layanan")}
    assert colours["hut"] != colours["layanan"]
    assert re.fullmatch(r"hsl\(\d{1,3} 62% 40%\)", colours["hut"])


def test_index_limit_leaves_the_campaign_pages_whole(ws: Workspace, tmp_path: Path) -> None:
    report = export_html(ws, tmp_path / "html", index_limit=4)
    assert dict(report.pages) == {
        "campaigns/hut.html": 6,
        "campaigns/layanan.html": 3,
        "index.html": 0,
    }
    text = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "Ekspor ini memuat 9 konten, lebih dari 4" in text


def test_one_campaign_and_unknown_campaigns(ws: Workspace, tmp_path: Path) -> None:
    report = export_html(ws, tmp_path / "html", campaign="layanan")
    assert report.pages == [("campaigns/layanan.html", 3)]
    assert not (tmp_path / "html" / "index.html").exists()
    with pytest.raises(Exception, match="no campaign 'hutt' \\(did you mean 'hut'\\?\\)"):
        export_html(ws, tmp_path / "html", campaign="hutt")


def test_on_each_database(
    make_workspace: WorkspaceFactory, database_url: str, tmp_path: Path
) -> None:
    """Times and enums are read raw for speed: SQLite gives text, PostgreSQL objects."""
    from amplifier.confirm import confirm_variant

    ws = open_planned(make_workspace(org=ABROAD_ORG, calendars={"a.yaml": CALENDAR}), database_url)
    x = next(v for v in ws.variants() if v.unit_id == 1)
    url = "https://x.com/kptd_ri/status/1790000000000000001"
    confirm_variant(ws, x.id or 0, url)
    expected = {r["id"]: r for r in calendar_rows(ws)}
    report = export_html(ws, tmp_path / "html")
    assert report.variants == len(expected) == 9
    data = embedded(tmp_path / "html" / "index.html")
    for entry in data["entries"]:
        assert entry[4] == expected[entry[0]]["day"].isoformat()
    published = next(e for e in data["entries"] if e[0] == x.id)
    assert published[7] == "published" and published[9] == url
    assert {s[0] for s in data["shades"]} >= {"Masa Hening Nasional", "Masa Hening Bali"}
    ws.engine.dispose()


@given(st.recursive(st.text(), lambda inner: st.lists(inner, max_size=3), max_leaves=8))
def test_page_json_cannot_end_the_script(value: Any) -> None:
    text = page_json({"v": value})
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == {"v": value}


def test_command(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "html"
    code, stdout, _ = invoke_exports(ws, "export", "html", "--out", str(out), "-f", "json")
    assert code == 0
    data = json.loads(stdout)
    assert data["variants"] == 9 and data["index"] == str((out / "index.html").resolve())
    assert {p["file"]: p["entries"] for p in data["pages"]}["campaigns/hut.html"] == 6
    code, stdout, _ = invoke_exports(ws, "export", "html")  # default folder in the workspace
    assert code == 0 and "3 files, 9 variants" in stdout
    assert (ws.root / ".amplifier" / "exports" / "html" / "index.html").exists()
    code, stdout, _ = invoke_exports(ws, "export", "html", "--campaign", "layanan", "-f", "json")
    assert code == 0 and [p["file"] for p in json.loads(stdout)["pages"]] == [
        "campaigns/layanan.html"
    ]
    assert invoke_exports(ws, "export", "html", "--campaign", "nope", "--out", str(out))[0] == 2


# --- in Chromium ------------------------------------------------------------------------


def open_calendar(page: Any, path: Path) -> None:
    page.goto(file_url(path))
    page.wait_for_selector("html[data-ready]")


def shown(page: Any) -> tuple[int, set[int]]:
    """(the page's own count, ids of the entries it shows)."""
    count = int(page.get_attribute("#count", "data-count"))
    ids = {
        int(i)
        for i in page.eval_on_selector_all("#calendar .entry", "n => n.map(e => e.dataset.id)")
    }
    return count, ids


def week_of(rows: list[dict[str, Any]], monday: dt.date) -> list[dict[str, Any]]:
    return [r for r in rows if monday <= r["day"] < monday + dt.timedelta(days=7)]


@pytest.fixture
def exported(ws: Workspace, tmp_path: Path, hostile: int) -> Path:
    export_html(ws, tmp_path / "html")
    return tmp_path / "html"


def test_filters_change_what_is_shown(page: Any, ws: Workspace, exported: Path) -> None:
    rows = calendar_rows(ws)
    open_calendar(page, exported / "index.html")
    assert page.inner_text("#period") == "Oktober 2027"
    october = [r for r in rows if r["day"].month == 10]
    assert shown(page)[0] == len(october) == 9
    page.click("#view-week")
    monday = min(r["day"] for r in rows) - dt.timedelta(days=min(r["day"] for r in rows).weekday())
    week = week_of(rows, monday)
    assert shown(page) == (len(week), {r["id"] for r in week})
    units = page.eval_on_selector_all("#filter-unit option", "n => n.map(o => [o.value, o.text])")
    bali = next(v for v, label in units if label.startswith("KANWIL-BALI"))
    cases = [
        ("#filter-unit", bali, lambda r: r["unit"] == "KANWIL-BALI"),
        ("#filter-platform", "x", lambda r: r["platform"] == "x"),
        ("#filter-campaign", "1", lambda r: r["campaign"] == "layanan"),
    ]
    for selector, value, keep in cases:
        page.select_option(selector, value)
        want = [r for r in week if keep(r)]
        assert 0 < len(want) < len(week), selector
        assert shown(page) == (len(want), {r["id"] for r in want}), selector
        page.select_option(selector, "")
        assert shown(page)[0] == len(week)
    # filters combine
    page.select_option("#filter-platform", "x")
    page.select_option("#filter-campaign", "0")
    want = [r for r in week if r["platform"] == "x" and r["campaign"] == "hut"]
    assert shown(page) == (len(want), {r["id"] for r in want})
    page.errors.assert_none()


def test_month_week_switch_and_navigation(page: Any, exported: Path) -> None:
    open_calendar(page, exported / "index.html")
    assert page.get_attribute("#view-month", "aria-pressed") == "true"
    assert page.locator("#calendar .month .day").count() % 7 == 0
    page.click("#view-week")
    assert page.get_attribute("#view-week", "aria-pressed") == "true"
    assert page.locator("#calendar .agenda-day").count() == 7
    assert page.inner_text("#period") == "25–31 Oktober 2027"
    page.click("#next")
    assert page.inner_text("#period") == "1–7 November 2027"
    assert shown(page) == (0, set())
    page.click("#view-month")
    assert page.inner_text("#period") == "November 2027"
    page.click("#prev")
    assert page.inner_text("#period") == "Oktober 2027"
    assert page.evaluate("location.hash") == "#bulan/2027-10-01"
    # the address names the view and the day: a link opens that week
    page.goto(file_url(exported / "index.html") + "#minggu/2027-11-03")
    page.wait_for_function("document.querySelector('#period').textContent === '1–7 November 2027'")
    assert page.get_attribute("#view-week", "aria-pressed") == "true"
    page.evaluate("location.hash = '#bulan/2027-10-01'")
    page.wait_for_function("document.querySelector('#period').textContent === 'Oktober 2027'")
    page.errors.assert_none()


def test_click_shows_the_text_and_hostile_text_stays_text(
    page: Any, ws: Workspace, exported: Path, hostile: int
) -> None:
    open_calendar(page, exported / "index.html")
    variant = next(v for v in ws.variants() if v.id != hostile and v.unit_id == 1)
    page.click(f'#calendar .entry[data-id="{variant.id}"]')
    assert page.is_visible("#detail")
    assert page.inner_text("#detail-text") == variant.text
    assert page.inner_text("#detail-unit").startswith("PUSAT · Kantor Pusat")
    assert page.inner_text("#detail-account") == "X @kptd_ri"
    assert page.inner_text("#detail-status") == "terjadwal"
    assert page.inner_text("#detail-time").endswith(" WIB")
    page.click(f'#calendar .entry[data-id="{hostile}"]')
    assert page.eval_on_selector("#detail-text", "n => n.textContent") == HOSTILE
    assert page.locator("img").count() == 0 and page.locator("#detail-text b").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.errors.assert_none()


def test_a_published_entry_links_to_the_live_post(page: Any, ws: Workspace, tmp_path: Path) -> None:
    from amplifier.confirm import confirm_variant

    x = next(v for v in ws.variants() if v.unit_id == 1)
    url = "https://x.com/kptd_ri/status/1790000000000000001"
    confirm_variant(ws, x.id or 0, url)
    export_html(ws, tmp_path / "html")
    open_calendar(page, tmp_path / "html" / "index.html")
    page.click(f'#calendar .entry[data-id="{x.id}"]')
    assert page.inner_text("#detail-status") == "sudah terbit"
    assert page.get_attribute("#detail-url", "href") == url
    assert page.is_visible("#detail-url")
    other = next(v for v in ws.variants() if v.id != x.id)
    page.click(f'#calendar .entry[data-id="{other.id}"]')
    assert page.get_attribute("#detail-url", "href") is None and page.is_hidden("#detail-url")
    page.errors.assert_none()


def test_zone_abbreviations(page: Any, ws: Workspace, exported: Path) -> None:
    open_calendar(page, exported / "index.html")
    page.click("#view-week")
    units = dict(
        page.eval_on_selector_all("#filter-unit option", "n => n.map(o => [o.text, o.value])")
    )
    expected = {"KANWIL-BALI": "WITA", "PUSAT": "WIB", "PWK-DEN-HAAG": "CE"}  # CET or CEST
    for label, value in units.items():
        code = label.split(" · ")[0]
        if code not in expected:
            continue
        page.select_option("#filter-unit", value)
        times = page.eval_on_selector_all("#calendar .entry .t", "n => n.map(e => e.textContent)")
        assert times and all(
            re.fullmatch(r"\d\d\.\d\d " + expected[code] + r"S?T?A?", t) for t in times
        ), times
    page.errors.assert_none()


def test_blackout_days_are_shaded(page: Any, exported: Path) -> None:
    open_calendar(page, exported / "index.html")
    national = page.locator('#calendar .day[data-day="2027-10-20"]')
    assert "shaded" in (national.get_attribute("class") or "")
    assert national.get_attribute("data-blackout") == "Masa Hening Nasional"
    bali_day = '#calendar .day[data-day="2027-10-22"]'
    plain_day = '#calendar .day[data-day="2027-10-18"]'
    assert "shaded" in (page.get_attribute(bali_day, "class") or "")  # some unit: Bali
    assert "shaded" not in (page.get_attribute(plain_day, "class") or "")
    assert "Masa Hening Nasional" in page.inner_text("#legend-blackouts")
    units = dict(
        page.eval_on_selector_all("#filter-unit option", "n => n.map(o => [o.text, o.value])")
    )
    pusat = next(v for label, v in units.items() if label.startswith("PUSAT"))
    page.select_option("#filter-unit", pusat)
    assert "shaded" not in (page.get_attribute(bali_day, "class") or "")  # not PUSAT's
    assert "shaded" in (page.get_attribute('#calendar .day[data-day="2027-10-20"]', "class") or "")
    # a quiet period of one campaign follows the campaign filter
    quiet = '#calendar .day[data-day="2027-10-12"]'
    assert "shaded" in (page.get_attribute(quiet, "class") or "")
    page.select_option("#filter-campaign", "0")  # hut
    assert "shaded" not in (page.get_attribute(quiet, "class") or "")
    page.select_option("#filter-campaign", "1")  # layanan
    assert "shaded" in (page.get_attribute(quiet, "class") or "")
    page.errors.assert_none()


def test_campaign_page_works_alone(page: Any, ws: Workspace, exported: Path) -> None:
    rows = [r for r in calendar_rows(ws) if r["campaign"] == "layanan"]
    open_calendar(page, exported / "campaigns" / "layanan.html")
    assert page.is_hidden("#campaign-label")  # one campaign: no campaign filter
    assert shown(page) == (len(rows), {r["id"] for r in rows})
    assert page.get_attribute("a.back", "href") == "../index.html"
    page.errors.assert_none()


def test_screenshot_of_the_calendar(page: Any, exported: Path, tmp_path: Path) -> None:
    open_calendar(page, exported / "index.html")
    page.click("#calendar .entry >> nth=0")
    png = page.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1280, 900)
    colours = image.getcolors(maxcolors=1280 * 900)
    assert colours is not None
    assert len(colours) > 200  # text, campaign colours, shading: not a blank page
    assert max(n for n, _ in colours) / (1280 * 900) < 0.8  # no colour fills the page
    # the campaign colours are on the page
    for slug in ("hut", "layanan"):
        rgb = page.evaluate(
            "c => { const d = document.createElement('div'); d.style.color = c;"
            " document.body.appendChild(d); const v = getComputedStyle(d).color; d.remove();"
            " return v.match(/\\d+/g).slice(0, 3).map(Number); }",
            campaign_colour(slug),
        )
        assert any(tuple(rgb) == c for _, c in colours), slug
    (tmp_path / "calendar.png").write_bytes(png)
    page.errors.assert_none()
