"""Exports benchmark: 100,000 variants to ICS (one calendar per unit), CSV and HTML.

    python benchmarks/exports.py            # 5,000 units × 4 platforms × 5 posts = 100,000
    python benchmarks/exports.py --quick    # 500 units: 10,000 variants, a few seconds
    python benchmarks/exports.py --units 2000 --repeat 3 --json exports.json --profile

A synthetic institution (``benchmarks/_synthetic.py``) is written as workspace files and
synced into a fresh SQLite database; then one variant per post and account is inserted
directly with one SQLAlchemy Core ``executemany`` (planning is ``benchmarks/fanout.py``'s
business): a ~450-character text, a publish time in the post's first hours, and a mix
of statuses (scheduled 80 %, published 10 % with a URL, cancelled 5 %, held 3 %, missed
2 %). None of that is timed. Then, each repetition, into fresh folders:

(a) ``export_ics(ws, folder, by=["unit"])``: every unit's calendar, first export (all new);
(b) the same again after 1 % of the publish times moved: every file is rebuilt, the
    changed events get SEQUENCE 1 (the count is checked);
(c) ``export_csv(ws, file, bom=True)``: one row per variant;
(d) ``export_html(ws, folder)``: the HTML calendar (index and campaign pages). Each run
    reads the workspace files again (holidays, quiet periods), as a fresh
    ``amplifier export html`` would.

Targets: (a), (b), (c), (d) ≤ 10 s each for 100,000 variants. Each ICS export starts
without the process's VTIMEZONE cache, as a fresh ``amplifier export ics`` would. After
the runs, a sample of the calendars is parsed back with ``icalendar`` and the events
counted.

Then, in headless Chromium (Debian's ``chromium``, through Playwright), unless
``--no-browser``: a second synthetic institution of ``--browser-units`` units (250: 5,000
variants in one campaign) is exported to HTML, and its campaign page is opened from
``file://`` ``--browser-repeat`` times (5), each in a fresh browser context:

(e) navigation start to interactive: the page's own ``performance.now()`` when its
    script has rendered and the next frame has started (the ``data-ready`` attribute),
    and the wall time from ``page.goto`` to that attribute;
(f) round trips, from the click or change event to the frame after the redraw, in the
    busiest week: the switch from the month view to the week view (every entry of the
    week drawn), then a filter (platform X) in the week view.

Target: (e) ≤ 2 s for a 5,000-variant campaign page.
"""

from __future__ import annotations

import contextlib
import cProfile
import datetime as dt
import io
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import icalendar
import sqlalchemy as sa

import amplifier
from amplifier.database import update_rows
from amplifier.exports import export_csv, export_html, export_ics
from amplifier.exports.ics import CALENDAR_STATUSES, _vtimezone
from amplifier.models import Account, CentralPost, Variant, WorkUnit
from amplifier.plan import idempotency_key
from amplifier.vocab import ReviewState, VariantStatus
from benchmarks._synthetic import PLATFORMS, POSTS, argument_parser, build_workspace
from benchmarks.fanout import Scenario, load_average, log, machine

DEFAULT_UNITS = 5_000
QUICK_UNITS = 500
BROWSER_UNITS = 250  # × 4 platforms × 5 posts = 5,000 variants on one campaign page
TARGET_SECONDS = 10.0
TARGET_INTERACTIVE_MS = 2_000.0
MOVED_SHARE = 0.01

V = Variant.__table__  # type: ignore[attr-defined]

TEXT = (
    "Sahabat KPTD {city}! {body} Informasi lengkap tersedia di laman resmi kami, dan "
    "{unit} siap membantu Anda setiap hari kerja. Sampaikan pertanyaan, masukan, atau "
    "pengaduan melalui kanal resmi; kami tidak pernah memungut biaya di luar ketentuan. "
    "#KPTDMelayani #LayananDigital #TransformasiLayanan https://www.kptd.go.id/layanan"
)


def status_for(n: int) -> VariantStatus:
    k = n % 100
    if k < 80:
        return VariantStatus.SCHEDULED
    if k < 90:
        return VariantStatus.PUBLISHED
    if k < 95:
        return VariantStatus.CANCELLED
    if k < 98:
        return VariantStatus.HELD
    return VariantStatus.MISSED


def insert_variants(ws: amplifier.Workspace) -> int:
    """One variant per (post, account), inserted with Core executemany; returns the count."""
    A, U, P = Account.__table__, WorkUnit.__table__, CentralPost.__table__  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC)
    with ws.engine.begin() as conn:
        accounts = conn.execute(
            sa.select(A.c.id, A.c.unit_id, A.c.platform, A.c.handle_key, U.c.name, U.c.city)
            .join(U, U.c.id == A.c.unit_id)
            .order_by(A.c.id)
        ).all()
        posts = conn.execute(
            sa.select(P.c.id, P.c.key, P.c.central_at, P.c.body).order_by(P.c.id)
        ).all()
        rows: list[dict[str, Any]] = []
        n = 0
        for post in posts:
            for a in accounts:
                status = status_for(n)
                publish_at = post.central_at + dt.timedelta(minutes=30 + (n * 7) % 240)
                text = TEXT.format(city=a.city or "Indonesia", body=post.body, unit=a.name)
                rows.append(
                    {
                        "post_id": post.id,
                        "account_id": a.id,
                        "unit_id": a.unit_id,
                        "text": text,
                        "content_hash": "",
                        "input_hash": "",
                        "publish_at": publish_at,
                        "due_at": publish_at if status == VariantStatus.SCHEDULED else None,
                        "timing": [],
                        "status": status,
                        "review": ReviewState.APPROVED,
                        "reasons": [],
                        "findings": [],
                        "idempotency_key": idempotency_key(
                            "transformasi-layanan-2027", post.key, str(a.platform), a.handle_key
                        ),
                        "external_url": (
                            f"https://example.invalid/{a.handle_key}/status/{n}"
                            if status == VariantStatus.PUBLISHED
                            else None
                        ),
                        "published_at": publish_at if status == VariantStatus.PUBLISHED else None,
                        "confirmed_at": publish_at if status == VariantStatus.PUBLISHED else None,
                        "attempts": 0,
                        "updated_at": now,
                    }
                )
                n += 1
                if len(rows) >= 10_000:
                    conn.execute(sa.insert(V), rows)
                    rows = []
        if rows:
            conn.execute(sa.insert(V), rows)
    return n


def move_times(ws: amplifier.Workspace, share: float) -> int:
    """Move ``share`` of the calendar's variants by 10 minutes; return how many moved."""
    now = dt.datetime.now(dt.UTC)
    with ws.engine.begin() as conn:
        rows = conn.execute(
            sa.select(V.c.id, V.c.publish_at)
            .where(V.c.status.in_(CALENDAR_STATUSES), V.c.publish_at.is_not(None))
            .order_by(V.c.id)
        ).all()
        chosen = rows[:: max(int(1 / share), 1)]
        changes = [
            {"_id": r.id, "publish_at": r.publish_at + dt.timedelta(minutes=10), "updated_at": now}
            for r in chosen
        ]
        update_rows(conn, V, changes)
    return len(chosen)


def check_calendars(folder: Path, expected: int, sample: int = 50) -> dict[str, Any]:
    """Count every calendar's events from the files; parse a sample fully with icalendar."""
    files = sorted((folder / "units").glob("*.ics"))
    counted = sum(p.read_bytes().count(b"BEGIN:VEVENT\r\n") for p in files)
    parsed = 0
    for path in files[:: max(len(files) // sample, 1)]:
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
        parsed += len(calendar.walk("VEVENT"))
        assert not calendar.get_missing_tzids(), path
    return {
        "calendars": len(files),
        "events": counted,
        "expected": expected,
        "ok": counted == expected,
        "events_parsed_with_icalendar": parsed,
    }


@dataclass
class Options:
    units: int
    repeat: int
    json_path: Path | None
    profile: bool
    keep: Path | None
    browser_units: int = BROWSER_UNITS
    browser_repeat: int = 5
    browser: bool = True


def synthetic(work: Path, name: str, units: int) -> tuple[amplifier.Workspace, int]:
    """A synced synthetic workspace under ``work/name`` with its variants inserted."""
    root = build_workspace(work / name, units)
    db = work / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    ws = amplifier.open_workspace(root, database_url=f"sqlite:///{db}")
    ws.sync()
    return ws, insert_variants(ws)


# what the page runs for one interaction: the change, the redraw, and the frame after it;
# it returns the milliseconds and how many entries the page then counts
_ROUND_TRIP = """async ([selector, value]) => {
  const start = performance.now();
  const node = document.querySelector(selector);
  if (node.tagName === "SELECT") {
    node.value = value;
    node.dispatchEvent(new Event("change"));
  } else {
    node.click();
  }
  // the next frame, then a task: the redraw has been laid out and painted
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return [performance.now() - start, +document.querySelector("#count").dataset.count];
}"""


_BUSIEST = """() => {
  const data = JSON.parse(document.getElementById("amplifier-data").textContent);
  const days = {};
  for (const e of data.entries) days[e[4]] = (days[e[4]] || 0) + 1;
  const day = Object.keys(days).sort((a, b) => days[b] - days[a])[0];
  location.hash = "#bulan/" + day;
}"""


def browser_run(opts: Options, work: Path) -> dict[str, Any]:
    """(e) and (f): a campaign page of ``opts.browser_units × 20`` variants in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_ARGS, chromium_path

    path = chromium_path()
    if path is None:
        return {"skipped": "Chromium is not installed (apt-get install chromium)"}
    log(f"browser: a campaign page of {opts.browser_units * len(PLATFORMS) * POSTS:,} variants")
    ws, variants = synthetic(work, "ws-browser", opts.browser_units)
    report = export_html(ws, work / "html-browser")
    ws.engine.dispose()
    name, entries = next(p for p in report.pages if p[0].startswith("campaigns/"))
    page_file = work / "html-browser" / name
    ready, wall, filters, weeks = [], [], [], []
    errors: list[str] = []  # console errors and uncaught exceptions of every run
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        version = browser.version
        try:
            for i in range(opts.browser_repeat):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                started = time.perf_counter()
                page.goto(page_file.as_uri())
                page.wait_for_selector("html[data-ready]")
                wall.append((time.perf_counter() - started) * 1000)
                ready.append(float(page.get_attribute("html", "data-ready") or "nan"))
                # the busiest day's month, through the page's own address (#bulan/<day>)
                renders = int(page.get_attribute("html", "data-renders") or 0)
                page.evaluate(_BUSIEST)
                page.wait_for_function(f"+document.documentElement.dataset.renders > {renders}")
                month = int(page.get_attribute("#count", "data-count") or 0)
                ms, week = page.evaluate(_ROUND_TRIP, ["#view-week", ""])
                weeks.append(ms)
                ms, filtered = page.evaluate(_ROUND_TRIP, ["#filter-platform", "x"])
                assert 0 < filtered < week, (week, filtered)  # the filter really filtered
                filters.append(ms)
                assert not errors, errors
                context.close()
                log(f"browser {i + 1}/{opts.browser_repeat}: ready {ready[-1]:.0f} ms")
        finally:
            browser.close()
    median = statistics.median
    return {
        "chromium": version,
        "page": name,
        "entries": entries,
        "variants": variants,
        "page_bytes": page_file.stat().st_size,
        "repeat": opts.browser_repeat,
        "ready_ms": [round(x, 1) for x in ready],
        "median_ready_ms": round(median(ready), 1),
        "median_wall_ms": round(median(wall), 1),
        "median_filter_ms": round(median(filters), 1),
        "median_week_view_ms": round(median(weeks), 1),
        "month_entries": month,
        "week_entries": week,
        "filtered_entries": filtered,
        "target_ms": TARGET_INTERACTIVE_MS,
        "pass": median(ready) <= TARGET_INTERACTIVE_MS and median(wall) <= TARGET_INTERACTIVE_MS,
    }


def profile_call(fn: Any, top: int = 18) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(top)
    return buffer.getvalue()


def run(opts: Options, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = load_average()
    log(f"writing and syncing a synthetic workspace of {opts.units:,} units")
    ws, variants = synthetic(work, "exports", opts.units)
    expected = variants - sum(1 for n in range(variants) if status_for(n) not in CALENDAR_STATUSES)
    setup = time.perf_counter() - started

    first = Scenario("a", "ICS, one calendar per unit, first export", variants)
    again = Scenario("b", f"ICS again after {MOVED_SHARE:.0%} of times moved", variants)
    table = Scenario("c", "CSV with BOM, one row per variant", variants)
    pages = Scenario("d", "HTML calendar, index and campaign pages", variants)
    checks: list[dict[str, Any]] = []
    for i in range(opts.repeat):
        folder = work / f"ics-{i}"
        shutil.rmtree(folder, ignore_errors=True)
        log(f"repetition {i + 1}/{opts.repeat}: ICS")
        _vtimezone.cache_clear()  # as in a fresh `amplifier export ics` process
        with first.measure():
            report = export_ics(ws, folder, by=["unit"])
        assert report.new == expected, (report.new, expected)
        moved = move_times(ws, MOVED_SHARE)
        _vtimezone.cache_clear()
        with again.measure():
            report = export_ics(ws, folder, by=["unit"])
        assert report.changed == moved, (report.changed, moved)
        checks.append(check_calendars(folder, expected))
        log(f"repetition {i + 1}/{opts.repeat}: CSV")
        path = work / f"variants-{i}.csv"
        with table.measure():
            csv_report = export_csv(ws, path, bom=True)
        assert csv_report.rows == variants
        size = path.stat().st_size
        log(f"repetition {i + 1}/{opts.repeat}: HTML")
        ws.__dict__.pop("files", None)  # read the workspace files again, as a fresh process
        with pages.measure():
            html_report = export_html(ws, work / f"html-{i}")
        assert html_report.variants == expected, (html_report.variants, expected)
        html_bytes = sum((work / f"html-{i}" / n).stat().st_size for n, _ in html_report.pages)
    profile = ""
    if opts.profile:
        log("profiling one more ICS export")
        folder = work / "ics-profile"
        shutil.rmtree(folder, ignore_errors=True)
        profile = profile_call(lambda: export_ics(ws, folder, by=["unit"]))
    ws.engine.dispose()
    browser = browser_run(opts, work) if opts.browser else {"skipped": "--no-browser"}
    scenarios = [first, again, table, pages]
    return {
        "machine": machine(),
        "parameters": {
            "units": opts.units,
            "platforms": list(PLATFORMS),
            "posts": POSTS,
            "variants": variants,
            "in_calendars": expected,
            "repeat": opts.repeat,
        },
        "setup_seconds_not_timed": round(setup, 2),
        "scenarios": {
            s.key: {
                **s.as_dict(),
                "target_seconds": TARGET_SECONDS,
                "pass": s.median * (100_000 / variants) <= TARGET_SECONDS,
            }
            for s in scenarios
        },
        "csv_bytes": size,
        "html_bytes": html_bytes,
        "html_pages": len(html_report.pages),
        "browser": browser,
        "load_average": {"start": load_at_start, "end": load_average()},
        "checks": checks,
        "profile": profile,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def render_report(result: dict[str, Any]) -> str:
    m, p = result["machine"], result["parameters"]
    lines = [
        f"amplifier exports benchmark, {m['date']}",
        f"machine: {m['cpu']}, {m['cores']} cores; {m['implementation']} {m['python']}; "
        f"SQLite {m['sqlite']}; {m['os']}",
        f"amplifier source: {m['amplifier_source'] or 'not a git checkout'}",
        f"workload: {p['units']:,} units × {len(p['platforms'])} platforms × {p['posts']} posts "
        f"= {p['variants']:,} variants, {p['in_calendars']:,} of them in calendars; "
        f"median of {p['repeat']}",
        f"not timed: writing, syncing and filling the database ({result['setup_seconds_not_timed']}"
        " s)",
        "",
    ]
    scale = 100_000 / p["variants"]
    header = (
        f"{'scenario':<46} {'variants':>9} {'median s':>9} {'variants/s':>11} "
        f"{'per 100k s':>10} {'target':>7}  verdict"
    )
    lines += [header, "-" * len(header)]
    mark = "*" if scale != 1 else ""
    for s in result["scenarios"].values():
        lines.append(
            f"{s['label']:<46} {s['variants']:>9,} {s['median_seconds']:>9.3f} "
            f"{s['variants_per_second']:>11,.0f} {s['median_seconds'] * scale:>10.2f} "
            f"{'≤ ' + format(s['target_seconds'], 'g'):>7}  {'PASS' if s['pass'] else 'FAIL'}{mark}"
        )
    lines.append("")
    if scale != 1:
        lines.append(
            "per 100k s: the median scaled linearly to 100,000 variants. * Indicative only: "
            "fixed costs (building the VTIMEZONEs, about 0.3-0.6 s) are scaled too; the "
            "targets are judged on the full 100,000."
        )
    check = result["checks"][-1]
    lines.append(
        f"check: {check['calendars']:,} calendars hold {check['events']:,} events "
        f"(expected {check['expected']:,}): {'ok' if check['ok'] else 'MISMATCH'}; "
        f"{check['events_parsed_with_icalendar']:,} events parsed back with icalendar"
    )
    lines.append(f"CSV size: {result['csv_bytes'] / 1e6:.1f} MB")
    lines.append(f"HTML: {result['html_pages']} pages, {result['html_bytes'] / 1e6:.1f} MB in all")
    b = result["browser"]
    if "skipped" in b:
        lines.append(f"Chromium: skipped ({b['skipped']})")
    else:
        lines += [
            "",
            f"Chromium {b['chromium']}: {b['page']}, {b['entries']:,} entries, "
            f"{b['page_bytes'] / 1e6:.1f} MB; median of {b['repeat']}",
            f"  (e) navigation start to interactive (data-ready): {b['median_ready_ms']:.0f} ms "
            f"(runs {', '.join(f'{x:.0f}' for x in b['ready_ms'])}); wall, goto to ready: "
            f"{b['median_wall_ms']:.0f} ms; target ≤ {b['target_ms']:.0f} ms: "
            f"{'PASS' if b['pass'] else 'FAIL'}",
            f"  (f) month view ({b['month_entries']:,} entries in the month) to week view "
            f"({b['week_entries']:,} entries drawn): {b['median_week_view_ms']:.1f} ms; "
            f"then the platform filter X ({b['filtered_entries']:,} entries drawn): "
            f"{b['median_filter_ms']:.1f} ms",
        ]
    load = result["load_average"]
    lines.append(f"load average (1, 5, 15 min): start {load['start']}, end {load['end']}")
    lines.append(f"benchmark wall time: {result['total_seconds']} s")
    if result["profile"]:
        lines += ["", "cProfile of one more ICS export (a):", result["profile"]]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argument_parser(__doc__, DEFAULT_UNITS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_UNITS} units, one run")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--profile", action="store_true", help="cProfile one more ICS export")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder, keep it")
    parser.add_argument(
        "--browser-units",
        type=int,
        default=BROWSER_UNITS,
        help=f"units of the Chromium page (default {BROWSER_UNITS:,})",
    )
    parser.add_argument(
        "--browser-repeat", type=int, default=5, help="Chromium page loads (default 5)"
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    args = parser.parse_args(argv)
    units = args.units or (QUICK_UNITS if args.quick else DEFAULT_UNITS)
    repeat = args.repeat or (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    return Options(
        units,
        repeat,
        args.json,
        args.profile,
        args.keep,
        args.browser_units,
        max(args.browser_repeat, 1),
        not args.no_browser,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.keep is not None:
        opts.keep.mkdir(parents=True, exist_ok=True)
        result = run(opts, opts.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="amplifier-exports-") as tmp:
            result = run(opts, Path(tmp))
    print(render_report(result))
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"results written to {opts.json_path}")
    full = result["parameters"]["variants"] >= 100_000
    failed = full and any(not s["pass"] for s in result["scenarios"].values())
    failed = failed or result["browser"].get("pass") is False
    return 1 if failed or not all(c["ok"] for c in result["checks"]) else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
