"""Fan-out benchmark: plan 100,000 variants and compare with the floor and the naive way.

    python benchmarks/fanout.py            # 5,000 units × 4 platforms × 5 posts = 100,000
    python benchmarks/fanout.py --quick    # 500 units: 10,000 variants, well under a minute
    python benchmarks/fanout.py --units 2000 --repeat 5 --json fanout.json --profile

A synthetic institution (``benchmarks/_synthetic.py``) is written as real workspace files
into a temporary folder, loaded and synced once. Loading, validating and syncing are not
timed. Then, each repetition:

(a) full plan: ``ws.plan()`` on a fresh copy of the synced database: targeting, rendering
    in the sandbox, platform checks, input digests and the bulk insert into SQLite;
(d) re-plan: ``ws.plan()`` again on the same database, with nothing changed;
plan without timing / without checks: (a) on a fresh copy with one stage switched off
    through the planner's internal ``Stages`` switch (``amplifier.plan.Stages``), so that
    the timing stage's and the checks' shares of (a) are measured side by side;
(b) floor: the same stacked templates rendered by a bare ``jinja2.Environment`` (no sandbox,
    no checks, no digests) from variables dicts prepared beforehand, plus a raw ``sqlite3``
    ``executemany`` of the very rows (a) wrote, into tables created with plain SQL from the
    same DDL, under the same pragmas; the two times are summed.

Then three times (``--naive-repeat``), on a sample (10,000 variants by default;
extrapolated linearly to the full count):

(c) naive: ``Session.add_all`` of SQLModel ``Variant`` objects + commit, plus one APScheduler
    ``DateTrigger`` job per variant in a ``SQLAlchemyJobStore`` on SQLite (scheduler started
    paused, so every ``add_job`` writes to the store). Rendering is not part of (c), so the
    (c)/(a) ratio is a conservative one.

Targets: (a) ≤ 1.5 × (b); (c) ≥ 30 × (a); (d) ≤ 0.2 × (a); timing adds at most 20 % and
checks at most 15 % to the plan time: (a) ≤ 1.2 × (plan without timing) and
(a) ≤ 1.15 × (plan without checks).
"""

from __future__ import annotations

import contextlib
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jinja2
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from jinja2.runtime import Context
from sqlmodel import Session, col, select

import amplifier
import amplifier.plan  # the whole pipeline is imported before any timing
from amplifier import database
from amplifier.models import Account, Campaign, CentralPost, Variant, WorkUnit
from amplifier.plan import Planner, Stages
from amplifier.render import (
    account_variables,
    budget_of,
    campaign_variables,
    layout,
    post_variables,
    unit_variables,
    zone_of,
)
from amplifier.render.chain import ChainLoader, chain_for, stacked_name
from amplifier.render.context import FILTERS
from amplifier.targeting import Directory, select_targets
from amplifier.vocab import ReviewState, VariantStatus
from benchmarks._synthetic import PLATFORMS, POSTS, argument_parser, build_workspace

DEFAULT_UNITS = 5_000
QUICK_UNITS = 500
NAIVE_SAMPLE = 10_000
QUICK_NAIVE_SAMPLE = 2_000
NAIVE_REPEAT = 3  # (c) is mostly disk syncs, whose time varies from run to run

TARGET_FLOOR = 1.5  # (a) ≤ 1.5 × (b)
TARGET_NAIVE = 30.0  # (c) ≥ 30 × (a)
TARGET_REPLAN = 0.2  # (d) ≤ 0.2 × (a)
TARGET_TIMING_SHARE = 0.20  # (a) adds ≤ 20 % to the plan without timing
TARGET_CHECKS_SHARE = 0.15  # (a) adds ≤ 15 % to the plan without checks

#: tables the variant table refers to; the floor creates them too (foreign keys are on)
PARENT_TABLES = ("work_unit", "account", "campaign", "central_post")

_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def noop() -> None:
    """The job every naive DateTrigger job would run."""


# --- machine -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    versions = {}
    for dist in ("amplifier", "jinja2", "sqlalchemy", "sqlmodel", "apscheduler", "pendulum"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "amplifier_source": source_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
    }


def source_version() -> str | None:
    """The git commit of the amplifier package measured, marked dirty if it has local edits."""
    package = Path(amplifier.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=package,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=package,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit} (amplifier/ has uncommitted changes)" if dirty else commit


# --- timing ------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process and of the helper processes it has waited for (a plan's
    forked helper is joined before the plan returns)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class Scenario:
    """One measured scenario: wall and CPU seconds of each repetition."""

    key: str
    label: str
    variants: int
    seconds: list[float] = field(default_factory=list)  # wall
    cpu: list[float] = field(default_factory=list)  # this process's and its helpers' CPU time
    scale: float = 1.0  # > 1 when measured on a sample and extrapolated
    note: str = ""

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        gc.collect()
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.seconds.append(time.perf_counter() - wall)
            self.cpu.append(cpu_seconds() - cpu)

    def add(self, *parts: Scenario) -> None:
        """Record the sum of the last measurement of each part."""
        self.seconds.append(sum(p.seconds[-1] for p in parts))
        self.cpu.append(sum(p.cpu[-1] for p in parts))

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) * self.scale

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu) * self.scale

    @property
    def rate(self) -> float:
        return self.variants / self.median if self.median else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "variants": self.variants,
            "median_seconds": round(self.median, 4),
            "median_cpu_seconds": round(self.median_cpu, 4),
            "variants_per_second": round(self.rate, 1),
            "samples_seconds": [round(s, 4) for s in self.seconds],
            "samples_cpu_seconds": [round(s, 4) for s in self.cpu],
            "extrapolated_from": round(self.variants / self.scale) if self.scale != 1 else None,
            "note": self.note,
        }


def log(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# --- the workspace and its databases -------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so that a plain file copy is a complete database."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def fresh_copy(base: Path, dest: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, dest)
    return dest


def open_on(base_ws: amplifier.Workspace, db: Path) -> amplifier.Workspace:
    """A workspace on ``db`` that shares the already loaded and validated files.

    Loading 5,000 units takes seconds and is not part of the plan, so the loaded files
    are handed over (``Workspace.files`` is a cached property) and the engine is opened
    (schema check included) before any timing starts.
    """
    ws = amplifier.open_workspace(base_ws.root, database_url=sqlite_url(db))
    ws.__dict__["files"] = base_ws.files
    _ = ws.engine
    return ws


def dispose(ws: amplifier.Workspace) -> None:
    if "engine" in ws.__dict__:
        ws.engine.dispose()


# --- (b) the floor -------------------------------------------------------------------------


@dataclass
class FloorInput:
    """Everything the floor needs, prepared outside its timing."""

    templates_dir: Path
    jobs: list[tuple[tuple[str, ...], dict[str, Any]]]  # (chain, variables) per variant
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)


def floor_jobs(ws: amplifier.Workspace) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """(chain, variables) of every variant, in the order the plan writes them."""
    institution = ws.files.org.institution
    inst = {
        "code": institution.code,
        "name": institution.name,
        "short_name": institution.short_name,
        "website": institution.website,
    }
    loader = ChainLoader(ws.root / "templates")
    with Session(ws.engine) as session:
        directory = Directory.from_rows(
            session.exec(select(WorkUnit)).all(), session.exec(select(Account)).all()
        )
        posts = session.exec(
            select(Campaign, CentralPost)
            .join(CentralPost, col(CentralPost.campaign_id) == col(Campaign.id))
            .order_by(col(CentralPost.id))
        ).all()
    jobs = []
    chains: dict[tuple[Any, ...], tuple[str, ...]] = {}
    for camp, cpost in posts:
        camp_vars = campaign_variables(camp)
        post_vars: dict[str, dict[str, Any]] = {}
        for target in select_targets(directory, camp.targets, cpost.targets):
            unit, account = target.unit, target.account
            zone = unit.timezone
            if zone not in post_vars:
                post_vars[zone] = post_variables(cpost, zone)
            folders = (unit.code, *(a.code for a in directory.ancestors(unit)))
            key = (folders, str(unit.kind), str(account.platform), tuple(cpost.templates))
            if key not in chains:
                chains[key] = chain_for(loader, *key)
            p = str(account.platform)
            variables = {
                "institution": inst,
                "unit": {**unit_variables(unit), "zone": zone_of(cpost.central_at, zone)},
                "account": account_variables(account),
                "platform": p,
                "campaign": camp_vars,
                "post": post_vars[zone],
                "budget": budget_of(p),
            }
            jobs.append((chains[key], variables))
    return jobs


def floor_environment(templates_dir: Path) -> jinja2.Environment:
    """A plain (not sandboxed) environment over the same loader, options and filters."""
    env = jinja2.Environment(
        loader=ChainLoader(templates_dir),
        cache_size=50_000,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env


def floor_render(fi: FloorInput) -> list[str]:
    """Bare rendering; templates compile on first use, once per distinct chain.

    Each variant is rendered the plain Jinja way (a context, the template's top level, which
    stacks the blocks of the chain) and its blocks are put together by the same built-in
    layout as the plan's (``amplifier.render.layout``): no sandbox, no memo, no caps."""
    env = floor_environment(fi.templates_dir)
    compiled: dict[tuple[str, ...], jinja2.Template] = {}
    out = []
    for chain, variables in fi.jobs:
        template = compiled.get(chain)
        if template is None:
            template = compiled[chain] = env.get_template(stacked_name(chain))
        ctx = template.new_context(variables)
        for _ in template.root_render_func(ctx):
            pass

        def block(name: str, room: int | None, ctx: Context = ctx) -> str:
            if room is not None:
                ctx.vars["room"] = room
            functions = ctx.blocks.get(name)
            return "".join(functions[0](ctx)) if functions else ""

        # the built-in layout (``layout.compose``) on plain strings: trim, drop empty
        # blocks, ``room`` for body, join with a blank line (tidied after, untimed)
        parts = {name: block(name, None).strip() for name in layout.OTHERS}
        others = layout.SEPARATOR.join(p for p in parts.values() if p)
        parts["body"] = block(
            "body", layout.room_for(others, variables["platform"], variables["budget"])
        ).strip()
        out.append(layout.SEPARATOR.join(p for p in (parts[n] for n in layout.ORDER) if p))
    return out


def plan_rows(db: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The variant rows a plan wrote, as stored, without the id."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        cursor = conn.execute("SELECT * FROM variant ORDER BY id")
        columns = [d[0] for d in cursor.description]
        keep = [i for i, c in enumerate(columns) if c != "id"]
        rows = [tuple(row[i] for i in keep) for row in cursor]
    return [columns[i] for i in keep], rows


def floor_database(base: Path, dest: Path) -> sqlite3.Connection:
    """The variant table and its parents, created with plain SQL from the same DDL, on a
    connection with the product's pragmas (``database.SQLITE_PRAGMAS``)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(dest)
    database.apply_sqlite_pragmas(conn)
    conn.execute(f"ATTACH DATABASE '{base}' AS src")
    tables = (*PARENT_TABLES, "variant")
    marks = ", ".join("?" * len(tables))
    ddl = conn.execute(
        f"SELECT type, name, sql FROM src.sqlite_master WHERE tbl_name IN ({marks}) "
        "AND sql IS NOT NULL ORDER BY type = 'index'",
        tables,
    ).fetchall()
    for _type, _name, sql in ddl:
        conn.execute(sql)
    for table in PARENT_TABLES:
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
    conn.commit()
    conn.execute("DETACH DATABASE src")
    return conn


def floor_insert(conn: sqlite3.Connection, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    sql = f"INSERT INTO variant ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.executemany(sql, rows)
    conn.commit()


def tidy(text: str) -> str:
    """The whitespace tidying the renderer applies to its output."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines))


# --- (c) the naive way ---------------------------------------------------------------------


def naive_rows(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as the Python values a ``Variant(...)`` constructor takes."""
    out = []
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        out.append(
            {
                "post_id": r["post_id"],
                "account_id": r["account_id"],
                "unit_id": r["unit_id"],
                "text": r["text"],
                "title": r["title"],
                "content_hash": r["content_hash"],
                "input_hash": r["input_hash"],
                "template": r["template"],
                "status": VariantStatus(r["status"]),
                "review": ReviewState(r["review"]),
                "reasons": json.loads(r["reasons"]),
                "findings": json.loads(r["findings"]),
                "idempotency_key": r["idempotency_key"],
                "updated_at": dt.datetime.fromisoformat(r["updated_at"]).replace(tzinfo=dt.UTC),
            }
        )
    return out


def run_times(base: Path) -> dict[int, dt.datetime]:
    """Each post's central time, the run date of its naive jobs."""
    with contextlib.closing(sqlite3.connect(base)) as conn:
        return {
            pid: dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
            for pid, at in conn.execute("SELECT id, central_at FROM central_post")
        }


def naive_add_all(db: Path, rows: list[dict[str, Any]]) -> None:
    engine = database.create_engine(sqlite_url(db))
    try:
        with Session(engine) as session:
            session.add_all([Variant(**r) for r in rows])
            session.commit()
    finally:
        engine.dispose()


def naive_jobs(
    path: Path, rows: list[dict[str, Any]], at: dict[int, dt.datetime], scenario: Scenario
) -> None:
    """One DateTrigger job per variant; the scheduler is started paused, so each add_job
    writes its job to the store at once (a stopped scheduler would only queue it)."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=sqlite_url(path))}, timezone=dt.UTC
    )
    scheduler.start(paused=True)
    try:
        with scenario.measure():
            for r in rows:
                scheduler.add_job(noop, DateTrigger(run_date=at[r["post_id"]], timezone=dt.UTC))
    finally:
        scheduler.shutdown(wait=False)


# --- the run -------------------------------------------------------------------------------


@dataclass
class Options:
    units: int
    repeat: int
    naive_sample: int
    naive_repeat: int
    json_path: Path | None
    profile: bool
    keep: Path | None


def profile_plan(ws: amplifier.Workspace, top: int = 15) -> str:
    """cProfile of one full plan: the top entries by cumulative, then by own time."""
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        ws.plan()
        profiler.disable()
    finally:
        dispose(ws)
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return buffer.getvalue()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run(opts: Options, work: Path) -> dict[str, Any]:
    expected = opts.units * len(PLATFORMS) * POSTS
    started = time.perf_counter()
    where = machine()  # at the start: the source measured is the source imported now
    load_before = load_average()
    log(f"writing a synthetic workspace of {opts.units:,} units into {work}")
    root = build_workspace(work / "workspace", opts.units)
    base = work / "synced.db"
    base_ws = amplifier.open_workspace(root, database_url=sqlite_url(base))
    t0 = time.perf_counter()
    report = base_ws.sync()
    setup = time.perf_counter() - t0
    log(f"loaded, validated and synced in {setup:.1f} s (not timed): {report.summary()}")
    dispose(base_ws)
    checkpoint(base)

    a = Scenario("a", "(a) full plan: target, render, check, persist", expected)
    b = Scenario("b", "(b) floor: bare render + raw executemany", expected)
    b_render = Scenario("b_render", "      bare Jinja render", expected)
    b_insert = Scenario("b_insert", "      raw sqlite3 executemany", expected)
    d = Scenario("d", "(d) re-plan of unchanged input", expected)
    d_full = Scenario("d_full", "    the same, comparing every variant", expected)
    no_timing = Scenario("no_timing", "plan without timing", expected)
    no_checks = Scenario("no_checks", "plan without checks", expected)

    log("preparing the floor's variables (not timed)")
    ws = open_on(base_ws, base)
    floor = FloorInput(root / "templates", floor_jobs(ws))
    dispose(ws)
    if len(floor.jobs) != expected:
        raise SystemExit(f"expected {expected} variants, the floor has {len(floor.jobs)}")
    # one-time imports (twitter-text behind the `fit` filter) happen here, not in a timing
    floor_render(FloorInput(floor.templates_dir, floor.jobs[: len(PLATFORMS) * 2]))
    mismatches: int | None = None
    a_stages: list[dict[str, Any]] = []  # (a)'s summary: its stages and parts, per run

    for i in range(opts.repeat):
        db = fresh_copy(base, work / f"plan-{i}.db")
        ws = open_on(base_ws, db)
        with a.measure():
            summary = ws.plan()
        if summary.counts["created"] != expected:
            raise SystemExit(f"(a) created {summary.counts['created']} variants, not {expected}")
        a_stages.append({"stages": summary.stages, "parts": summary.parts})
        with d.measure():
            again = ws.plan()
        if again.counts["unchanged"] != expected or again.compared:
            raise SystemExit(f"(d) left {again.counts['unchanged']} unchanged, not {expected}")
        with d_full.measure():  # what (d) costs when the plan state cannot settle it
            compared = ws.plan(full=True)
        if compared.counts["unchanged"] != expected or not compared.compared:
            raise SystemExit(f"(d, full) left {compared.counts['unchanged']} unchanged")
        dispose(ws)
        checkpoint(db)
        for scenario, stages in (
            (no_timing, Stages(timing=False)),
            (no_checks, Stages(check=False)),
        ):
            other = fresh_copy(base, work / f"{scenario.key}-{i}.db")
            ws_other = open_on(base_ws, other)
            with scenario.measure():
                Planner(ws_other, stages=stages).run()
            dispose(ws_other)
            remove_db(other)
        log(
            f"{i + 1}/{opts.repeat}: without timing {no_timing.seconds[-1]:.2f} s, "
            f"without checks {no_checks.seconds[-1]:.2f} s"
        )
        if not floor.rows:
            floor.columns, floor.rows = plan_rows(db)
        log(
            f"{i + 1}/{opts.repeat}: (a) {a.seconds[-1]:.2f} s, (d) {d.seconds[-1]:.2f} s, "
            f"(d) comparing every variant {d_full.seconds[-1]:.2f} s"
        )

        with b_render.measure():
            texts = floor_render(floor)
        if mismatches is None:
            at_text = floor.columns.index("text")
            pairs = zip(texts, floor.rows, strict=True)
            mismatches = sum(1 for t, row in pairs if tidy(t) != row[at_text])
        del texts
        conn = floor_database(base, work / f"floor-{i}.db")
        try:
            with b_insert.measure():
                floor_insert(conn, floor.columns, floor.rows)
        finally:
            conn.close()
        b.add(b_render, b_insert)
        log(
            f"{i + 1}/{opts.repeat}: (b) {b.seconds[-1]:.2f} s = "
            f"render {b_render.seconds[-1]:.2f} + insert {b_insert.seconds[-1]:.2f}"
        )
        if opts.keep is None:
            remove_db(db)
            remove_db(work / f"floor-{i}.db")

    sample = min(opts.naive_sample, expected)
    scale = expected / sample
    note = f"measured on {sample:,} variants, extrapolated ×{scale:g}" if scale != 1 else ""
    c = Scenario("c", "(c) naive: add_all + a job per variant", expected, scale=scale, note=note)
    c_add = Scenario("c_add_all", "      SQLModel add_all + commit", expected, scale=scale)
    c_jobs = Scenario(
        "c_jobs", "      DateTrigger job in SQLAlchemyJobStore", expected, scale=scale
    )
    rows = naive_rows(floor.columns, floor.rows[:sample])
    at = run_times(base)
    for i in range(opts.naive_repeat):
        log(f"{i + 1}/{opts.naive_repeat}: (c) naive on {sample:,} variants")
        naive_db = fresh_copy(base, work / "naive.db")
        with c_add.measure():
            naive_add_all(naive_db, rows)
        remove_db(naive_db)
        naive_jobs(work / "jobs.sqlite", rows, at, c_jobs)
        c.add(c_add, c_jobs)
        log(
            f"{i + 1}/{opts.naive_repeat}: (c) add_all {c_add.seconds[-1]:.2f} s, "
            f"jobs {c_jobs.seconds[-1]:.2f} s"
        )

    profile = None
    if opts.profile:
        log("profiling one more full plan (cProfile)")
        profile = profile_plan(open_on(base_ws, fresh_copy(base, work / "profile.db")))

    def ratios(pick: Callable[[Scenario], float]) -> list[dict[str, Any]]:
        return [
            ratio("(a) / (b)", pick(a) / pick(b), "<=", TARGET_FLOOR),
            ratio("(c) / (a)", pick(c) / pick(a), ">=", TARGET_NAIVE),
            ratio("(d) / (a)", pick(d) / pick(a), "<=", TARGET_REPLAN),
            ratio("timing adds", pick(a) / pick(no_timing) - 1, "<=", TARGET_TIMING_SHARE),
            ratio("checks add", pick(a) / pick(no_checks) - 1, "<=", TARGET_CHECKS_SHARE),
        ]

    scenarios = [a, b, b_render, b_insert, c, c_add, c_jobs, d, d_full, no_timing, no_checks]
    return {
        "machine": {**where, "load_average": {"before": load_before, "after": load_average()}},
        "parameters": {
            "units": opts.units,
            "platforms": list(PLATFORMS),
            "posts": POSTS,
            "variants": expected,
            "repeat": opts.repeat,
            "naive_sample": sample,
            "naive_repeat": opts.naive_repeat,
        },
        "setup_seconds_not_timed": round(setup, 2),
        "floor_text_mismatches": mismatches,
        "scenarios": {s.key: s.as_dict() for s in scenarios},
        "a_stages": median_stages(a_stages),
        "ratios": ratios(lambda s: s.median),
        # context only: the targets are on wall time
        "ratios_cpu": [
            {"ratio": r["ratio"], "value": r["value"]} for r in ratios(lambda s: s.median_cpu)
        ],
        "profile": profile,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def median_stages(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median wall seconds of each stage of (a), and of each step of each of its parts
    (``PlanSummary.stages`` and ``parts``), over its runs."""

    def medians(dicts: list[dict[str, Any]]) -> dict[str, Any]:
        keys = [
            k for k, v in dicts[0].items() if isinstance(v, float) and all(k in d for d in dicts)
        ]
        out = {k: round(statistics.median(d[k] for d in dicts), 3) for k in keys}
        return {k: v for k, v in dicts[0].items() if k not in out} | out

    if not runs:
        return {"stages": {}, "parts": []}
    shapes = {len(r["parts"]) for r in runs}
    if len(shapes) > 1:  # a plan ran in one part, another in two: no common steps
        return {"stages": medians([r["stages"] for r in runs]), "parts": []}
    parts = [medians(list(p)) for p in zip(*(r["parts"] for r in runs), strict=True)]
    return {"stages": medians([r["stages"] for r in runs]), "parts": parts}


def ratio(name: str, value: float, op: str, target: float) -> dict[str, Any]:
    ok = value <= target if op == "<=" else value >= target
    return {"ratio": name, "value": round(value, 3), "target": f"{op} {target:g}", "pass": ok}


# --- output --------------------------------------------------------------------------------


def render_report(result: dict[str, Any]) -> str:
    m, p = result["machine"], result["parameters"]
    load = m["load_average"]
    lines = [
        f"amplifier fan-out benchmark, {m['date']}",
        f"machine: {m['cpu']}, {m['cores']} cores; {m['implementation']} {m['python']}; "
        f"SQLite {m['sqlite']}; {m['os']}",
        f"amplifier source: {m['amplifier_source'] or 'not a git checkout'}",
        f"load average (1, 5, 15 min) before: {load['before']}, after: {load['after']}",
        "packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"workload: {p['units']:,} units × {len(p['platforms'])} platforms "
        f"({', '.join(p['platforms'])}) × {p['posts']} posts = {p['variants']:,} variants; "
        f"median of {p['repeat']} for (a), (b), (d) and the plans without a stage; "
        f"median of {p['naive_repeat']} for (c)",
        f"not timed: writing, loading, validating and syncing the workspace "
        f"({result['setup_seconds_not_timed']} s)",
        "",
    ]
    header = f"{'scenario':<46} {'variants':>9} {'median s':>9} {'variants/s':>11} {'CPU s':>8}"
    lines += [header, "-" * len(header)]
    for s in result["scenarios"].values():
        lines.append(
            f"{s['label']:<46} {s['variants']:>9,} {s['median_seconds']:>9.3f} "
            f"{s['variants_per_second']:>11,.0f} {s['median_cpu_seconds']:>8.3f}"
        )
    lines += ["", f"{'ratio':<12} {'wall':>7} {'target':>7} {'':<5} {'CPU':>7}"]
    for r, rc in zip(result["ratios"], result["ratios_cpu"], strict=True):
        verdict = "PASS" if r["pass"] else "FAIL"
        lines.append(
            f"{r['ratio']:<12} {r['value']:>7.3f} {r['target']:>7} {verdict:<5} {rc['value']:>7.3f}"
        )
    lines.append(
        "timing adds / checks add: (a) over the plan without that stage, minus 1 "
        "(0.2 = 20 % more time)."
    )
    staged = result["a_stages"]
    if staged["stages"]:
        lines += ["", "(a) by stage, median s: " + stage_text(staged["stages"])]
        for number, part in enumerate(staged["parts"], 1):
            where = "parent" if number == 1 else "helper"
            platforms = ", ".join(part["platforms"]) if part["platforms"] else "all platforms"
            steps = stage_text({k: v for k, v in part.items() if k != "platforms"})
            lines.append(f"  part {number} ({where}; {platforms}): {steps}")
        lines.append(
            "  'parts' includes the parent's insert of its own rows (part 1) and its copy of "
            "the helper's (part 2)"
        )
    lines.append("")
    c = result["scenarios"]["c"]
    if c["note"]:
        lines.append(f"(c) {c['note']}; rendering is not part of (c).")
    else:
        lines.append("(c) rendering is not part of (c).")
    lines.append(
        "(b) leaves out the sandbox, output caps, tidying, platform checks, digests and "
        "SQLAlchemy; it inserts the rows (a) wrote, with the same DDL and pragmas."
    )
    lines.append(
        "(d) finds the plan state unchanged and compares no variant (docs/plan.md); the row "
        "below it is the same re-plan with --full, comparing every stored variant."
    )
    lines.append(
        "CPU s: this process's and its plan helpers' CPU time. The targets are set on wall "
        "time; the CPU ratios are context, not verdicts: (c) spends most of its time waiting "
        "on SQLite commits, which costs wall time but little CPU."
    )
    if result["floor_text_mismatches"]:
        lines.append(
            f"warning: {result['floor_text_mismatches']:,} floor texts differ from the plan's "
            "after tidying: the floor may not render what the plan renders"
        )
    else:
        lines.append("check: every floor text, tidied, equals the text the plan stored.")
    lines.append(f"benchmark wall time: {result['total_seconds']} s")
    if result["profile"]:
        lines += ["", "cProfile of one more full plan (a):", result["profile"]]
    return "\n".join(lines)


def stage_text(stages: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in stages.items())


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argument_parser(__doc__, DEFAULT_UNITS)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_UNITS} units, one repetition of each, a {QUICK_NAIVE_SAMPLE:,}-variant "
        "(c) sample",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="repetitions of (a), (b), (d) and the plans without a stage (default 5)",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=None,
        help=f"variants measured in (c), then extrapolated (default {NAIVE_SAMPLE:,})",
    )
    parser.add_argument(
        "--naive-repeat",
        type=int,
        default=None,
        help=f"repetitions of (c) on its sample (default {NAIVE_REPEAT})",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one more (a) and print the top entries"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="work in this folder and keep its databases"
    )
    args = parser.parse_args(argv)
    units = args.units or (QUICK_UNITS if args.quick else DEFAULT_UNITS)
    repeat = args.repeat or (1 if args.quick else 5)
    sample = args.naive_sample or (QUICK_NAIVE_SAMPLE if args.quick else NAIVE_SAMPLE)
    naive_repeat = args.naive_repeat or (1 if args.quick else NAIVE_REPEAT)
    if min(repeat, sample, naive_repeat) < 1:
        parser.error("--repeat, --naive-sample and --naive-repeat must be at least 1")
    return Options(units, repeat, sample, naive_repeat, args.json, args.profile, args.keep)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.keep is not None:
        opts.keep.mkdir(parents=True, exist_ok=True)
        result = run(opts, opts.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="amplifier-fanout-") as tmp:
            result = run(opts, Path(tmp))
    print(render_report(result))
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"results written to {opts.json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
