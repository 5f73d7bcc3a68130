"""Reports benchmark: the coverage report of 100,000 variants as JSON and as HTML, side by side.

    python benchmarks/reports.py             # 5,000 units × 4 platforms × 5 posts = 100,000
    python benchmarks/reports.py --quick     # 500 units: 10,000 variants
    python benchmarks/reports.py --repeat 5 --json reports.json --browser

The workspace and its variants are those of ``benchmarks/exports.py`` (the synthetic
institution of ``benchmarks/_synthetic.py``, one variant per post and account with a mix
of statuses); none of that is timed. Each repetition then measures, in this order:

(a) ``coverage(ws)``: reading and judging every variant (shared by every format);
(b) ``render(report, "json")``;
(c) ``to_html(report)``;
(d) the same two for ``leaderboard(ws)``, which is smaller.

Goal: (c) takes about as long as (b), so that ``--format html`` costs about what
``--format json`` does. ``--browser`` also opens the 100,000-variant coverage page in
headless Chromium (Debian's, through Playwright) and times the load and one filter of the
account table (the handler and the layout it causes, measured inside the page).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import amplifier
from amplifier.reports import coverage, leaderboard, render, to_html
from benchmarks._synthetic import argument_parser, build_workspace
from benchmarks.exports import insert_variants
from benchmarks.fanout import Scenario, log, machine

DEFAULT_UNITS = 5_000
QUICK_UNITS = 500


# In the page: choose platform x in the account table's filter, run the page's handler,
# and force the layout that shows the result; milliseconds.
FILTER = """() => {
  const select = document.querySelector("form[data-table=c0-accounts] select[name=platform]");
  const started = performance.now();
  select.value = "x";
  select.dispatchEvent(new Event("input", {bubbles: true}));
  document.body.offsetHeight;
  return performance.now() - started;
}"""


def browser_timings(page_file: Path, repeat: int) -> dict[str, Any]:
    """Median load (navigation start to the end of the load event: the page has no other
    resources, so it is interactive) and one filter of the account table, with layout."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return {"skipped": "Chromium is not installed"}
    loads, filters = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for _ in range(repeat):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(page_file.resolve().as_uri(), wait_until="load", timeout=120_000)
                loads.append(
                    page.evaluate(
                        "() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return n.loadEventEnd - n.startTime; }"
                    )
                    / 1000
                )
                page.click("#c0-accounts-section summary")  # the long table is folded
                filters.append(page.evaluate(FILTER) / 1000)
                shown = page.eval_on_selector_all(
                    "#c0-accounts tbody tr:not([hidden])", "rows => rows.length"
                )
                page.close()
        finally:
            browser.close()
    return {
        "load_seconds": round(statistics.median(loads), 3),
        "load_samples": [round(s, 3) for s in loads],
        "filter_seconds": round(statistics.median(filters), 3),
        "filter_samples": [round(s, 3) for s in filters],
        "rows_after_filter": shown,
    }


def run(units: int, repeat: int, browser: bool, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    log(f"writing and syncing a synthetic workspace of {units:,} units")
    root = build_workspace(work / "ws", units)
    ws = amplifier.open_workspace(root, database_url=f"sqlite:///{work / 'reports.db'}")
    ws.sync()
    log("inserting variants")
    variants = insert_variants(ws)
    setup = time.perf_counter() - started

    read = Scenario("a", "coverage(ws): read and judge", variants)
    as_json = Scenario("b", "coverage as JSON", variants)
    as_html = Scenario("c", "coverage as HTML", variants)
    board_json = Scenario("d1", "leaderboard as JSON", variants)
    board_html = Scenario("d2", "leaderboard as HTML", variants)
    sizes: dict[str, int] = {}
    for i in range(repeat):
        log(f"repetition {i + 1}/{repeat}")
        with read.measure():
            report = coverage(ws)
        with as_json.measure():
            text = render(report, "json")
        sizes["coverage_json_bytes"] = len(text.encode())
        with as_html.measure():
            page = to_html(report)
        sizes["coverage_html_bytes"] = len(page.encode())
        board = leaderboard(ws)
        with board_json.measure():
            render(board, "json")
        with board_html.measure():
            board_page = to_html(board)
        sizes["leaderboard_html_bytes"] = len(board_page.encode())
    page_file = work / "coverage.html"
    page_file.write_text(page, encoding="utf-8")
    camp = report.campaigns[0]
    ws.engine.dispose()
    scenarios = [read, as_json, as_html, board_json, board_html]
    result: dict[str, Any] = {
        "machine": machine(),
        "load_average": os.getloadavg(),
        "parameters": {"units": units, "variants": variants, "repeat": repeat},
        "report": {
            "accounts": len(camp.accounts),
            "units": len(camp.units),
            "regions": len(camp.regions),
            "amplified": camp.total.amplified,
        },
        "setup_seconds_not_timed": round(setup, 2),
        "scenarios": {s.key: s.as_dict() for s in scenarios},
        "html_over_json": round(as_html.median / as_json.median, 2),
        "sizes": sizes,
    }
    if browser:
        log("opening the coverage page in Chromium")
        result["browser"] = browser_timings(page_file, repeat)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    return result


def render_report(result: dict[str, Any]) -> str:
    m, p, r = result["machine"], result["parameters"], result["report"]
    load = ", ".join(f"{x:.2f}" for x in result["load_average"])
    lines = [
        f"amplifier reports benchmark, {m['date']} (load average after the runs {load})",
        f"machine: {m['cpu']}, {m['cores']} cores; {m['implementation']} {m['python']}",
        f"workload: {p['variants']:,} variants; the report has {r['units']:,} units, "
        f"{r['accounts']:,} accounts, {r['regions']} regions, {r['amplified']:,} amplified; "
        f"median of {p['repeat']}",
        "",
        f"{'scenario':<32} {'median s':>9}  samples",
    ]
    for s in result["scenarios"].values():
        samples = " / ".join(f"{x:.3f}" for x in s["samples_seconds"])
        lines.append(f"{s['label']:<32} {s['median_seconds']:>9.3f}  {samples}")
    sizes = result["sizes"]
    lines += [
        "",
        f"HTML / JSON (coverage, rendering only): {result['html_over_json']:.2f}×; "
        f"sizes: JSON {sizes['coverage_json_bytes'] / 1e6:.1f} MB, "
        f"HTML {sizes['coverage_html_bytes'] / 1e6:.1f} MB",
    ]
    if "browser" in result:
        b = result["browser"]
        if "skipped" in b:
            lines.append(f"browser: skipped ({b['skipped']})")
        else:
            lines.append(
                f"Chromium: load {b['load_seconds']:.2f} s (samples {b['load_samples']}), "
                f"filter the account table {b['filter_seconds']:.3f} s "
                f"({b['rows_after_filter']:,} rows left)"
            )
    lines.append(f"benchmark wall time: {result['total_seconds']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, DEFAULT_UNITS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_UNITS} units, one run")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    units = args.units or (QUICK_UNITS if args.quick else DEFAULT_UNITS)
    repeat = args.repeat or (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="amplifier-reports-") as tmp:
        result = run(units, repeat, args.browser, Path(tmp))
    print(render_report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
