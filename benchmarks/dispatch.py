"""Dispatch benchmark: the ``amplifier run`` daemon publishing from a database.

    python benchmarks/dispatch.py                    # full: about 8 minutes
    python benchmarks/dispatch.py --quick            # smaller counts: about 4 minutes
    python benchmarks/dispatch.py --postgres-url postgresql+psycopg://postgres@127.0.0.1/test \\
        --json dispatch.json

Every daemon is a real subprocess: this file, run with ``--serve``, registers two
benchmark publishers and starts the ``amplifier run`` command. The database rows are
synthetic (one institution, 1,000 accounts, as many posts as needed), written with raw
driver-level ``executemany``; the daemon does not know the difference. Times are read back
from the database: a variant's lateness is ``published_at - publish_at``, a daemon's
throughput is the variants it published over the span from the start of its first batch to
the end of its last.

(1) burst: 10,000 variants due at the same whole minute (timing gives whole minutes), a
    no-op publisher, one daemon; on SQLite, and on PostgreSQL when a URL is given.
    The daemon is started first; its minute job fires 5 s before that minute, claims
    the burst ahead, and publishes it from the minute on. Since one daemon
    works through the burst batch after batch, p99 lateness is about 0.99 × 10,000 / its
    rate. For comparison only (no target), the full run repeats the PostgreSQL burst
    with two daemons.
(2) scale-out, PostgreSQL only: a publisher that takes 20 ms per call (``publish_many``
    calls ``publish`` for each item), 2,400 variants due at one minute, first one daemon,
    then two on a fresh copy; the throughput of each and the ratio.
(3) memory: 1,000,000 variants in a SQLite database (900,000 published over the past year,
    99,900 scheduled over the next 90 days, 100 due now); the daemon's resident memory
    (``VmRSS`` and its peak ``VmHWM`` from ``/proc/<pid>/status``) once the 100 are out
    and two more sweeps have run.

After writing the rows the benchmark runs ``ANALYZE``, as PostgreSQL's autovacuum does on
its own, so that the query planner knows how skewed the statuses are (most variants are
published); a query that is only fast without statistics shows up here.

Targets: (1) p99 lateness ≤ 2 s and ≥ 2,000 variants/s per daemon; (2) two daemons ≥ 1.7 ×
one; (3) RSS ≤ 150 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa

import amplifier
from amplifier.models import Delivery, Variant
from amplifier.publishers import Publisher, PublishItem, PublishResult, register
from amplifier.schedule import PREFETCH_LEAD
from amplifier.workspace import Workspace

V = Variant.__table__  # type: ignore[attr-defined]
D = Delivery.__table__  # type: ignore[attr-defined]

POSTGRES_ENV = ("AMPLIFIER_BENCH_POSTGRES_URL", "AMPLIFIER_TEST_POSTGRES_URL")
ACCOUNTS = 1_000
UNITS = 50
TEXT = (
    "Layanan KPTD kini dapat diajukan secara daring dari mana saja. Standar waktu layanan "
    "diumumkan terbuka di setiap kantor layanan. #KPTDMelayani #LayananDigital "
    "https://www.kptd.go.id/transformasi-layanan"
)

TARGET_LATENESS_P99 = 2.0  # seconds
TARGET_RATE = 2_000.0  # variants/s per daemon, no-op publisher
TARGET_SCALE = 1.7  # two daemons / one
TARGET_RSS_MB = 150.0


# --- the publishers the served daemons use -------------------------------------------------


class NoopPublisher(Publisher):
    """Publishes nothing, at once."""

    name: ClassVar[str] = "bench-noop"
    idempotent: ClassVar[bool] = True

    def publish(self, item: PublishItem) -> PublishResult:
        return PublishResult(external_id=item.idempotency_key)


class SlowPublisher(Publisher):
    """Takes 20 ms per call, like a quick remote API."""

    name: ClassVar[str] = "bench-20ms"
    idempotent: ClassVar[bool] = True

    def publish(self, item: PublishItem) -> PublishResult:
        time.sleep(0.020)
        return PublishResult(external_id=item.idempotency_key)


def serve(root: str, url: str, worker: str) -> int:
    """The daemon subprocess: ``amplifier -w ROOT --database-url URL run`` with the
    benchmark publishers registered."""
    from amplifier.cli import run

    register(NoopPublisher)
    register(SlowPublisher)
    return run(["-w", root, "--database-url", url, "run", "--worker", worker])


# --- machine -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    versions = {}
    for dist in ("amplifier", "sqlalchemy", "apscheduler", "psycopg"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    commit = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        package = Path(amplifier.__file__).resolve().parent
        git = ["git", "-C", str(package)]
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True
        ).stdout.strip()
        commit += " (amplifier/ has uncommitted changes)" if dirty else ""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "amplifier_source": commit,
    }


def load_average() -> list[float] | None:
    with contextlib.suppress(OSError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(kind: str, work: Path, pg_base: str | None, name: str) -> Iterator[str]:
    """A new SQLite file, or a new schema in the PostgreSQL at ``pg_base``; dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{work / (name + '.db')}"
        return
    assert pg_base is not None
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.engine.make_url(pg_base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def workspace(root: Path, publisher: str, **publishing: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "calendars").mkdir(exist_ok=True)
    (root / "org.yaml").write_text(
        "institution:\n  code: KPTD\n  name: Kementerian Contoh\nunits: []\n", encoding="utf-8"
    )
    lines = ["[publishing]", f'api = "{publisher}"', f'manual = "{publisher}"']
    lines += [f"{k} = {v!r}" for k, v in publishing.items()]
    (root / "amplifier.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@dataclass
class Seeded:
    variants: int
    due: int


def seed(
    url: str,
    root: Path,
    *,
    due: int,
    due_at: dt.datetime,
    published: int = 0,
    scheduled: int = 0,
    now: dt.datetime,
) -> Seeded:
    """Write ``due`` approved variants due at ``due_at``, ``published`` ones over the past
    year and ``scheduled`` ones over the next 90 days (all beyond the daemon's horizon
    except a few), with the units, accounts, campaign and posts they need."""
    ws = Workspace.open(root, database_url=url)
    engine = ws.engine  # creates the schema
    total = due + published + scheduled
    posts = math.ceil(total / ACCOUNTS)
    sqlite = engine.dialect.name == "sqlite"

    def when(value: dt.datetime) -> Any:
        utc = value.astimezone(dt.UTC)
        return (
            utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if sqlite else utc
        )

    def mark(sql: str) -> str:
        return sql if sqlite else sql.replace("?", "%s")

    with engine.begin() as conn:
        zones = ["Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura"]
        conn.exec_driver_sql(
            mark(
                "INSERT INTO work_unit (code, name, kind, timezone, languages, tags, active) "
                "VALUES (?, ?, ?, ?, '[\"id\"]', '[]', ?)"
            ),
            [
                (f"KL-{u:03d}", f"Kantor Layanan {u:03d}", "service", zones[u % 4], True)
                for u in range(UNITS)
            ],
        )
        unit_ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM work_unit ORDER BY id")]
        platforms = ["x", "instagram", "facebook", "threads"]
        conn.exec_driver_sql(
            mark(
                "INSERT INTO account (unit_id, platform, handle, handle_key, mode, active) "
                "VALUES (?, ?, ?, ?, ?, ?)"
            ),
            [
                (
                    unit_ids[a % UNITS],
                    platforms[a % 4],
                    f"kptd.b{a:04d}",
                    f"kptd.b{a:04d}",
                    "api" if a % 2 else "manual",
                    True,
                )
                for a in range(ACCOUNTS)
            ],
        )
        accounts = list(conn.exec_driver_sql("SELECT id, unit_id FROM account ORDER BY id"))
        conn.exec_driver_sql(
            mark(
                "INSERT INTO campaign (slug, title, period_start, period_end, priority, "
                "key_messages, hashtags, links, targets, review, require, timing, active) "
                "VALUES (?, ?, ?, ?, 0, '[]', '[]', '[]', '{}', 'auto', '{}', '{}', ?)"
            ),
            [("bench", "Benchmark", dt.date(2026, 1, 1), dt.date(2027, 12, 31), True)],
        )
        campaign = conn.exec_driver_sql("SELECT id FROM campaign").scalar_one()
        conn.exec_driver_sql(
            mark(
                "INSERT INTO central_post (campaign_id, key, central_at, body, media, "
                "templates, timing, active) VALUES (?, ?, ?, ?, '[]', '[]', '{}', ?)"
            ),
            [(campaign, f"pos-{p:04d}", when(now), "Pos pusat.", True) for p in range(posts)],
        )
        post_ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM central_post ORDER BY id")]
        insert = mark(
            "INSERT INTO variant (post_id, account_id, unit_id, text, content_hash, input_hash, "
            "publish_at, due_at, timing, attempts, status, review, reasons, findings, "
            "idempotency_key, published_at, updated_at) "
            "VALUES (?, ?, ?, ?, '', '', ?, ?, '[]', ?, ?, 'approved', '[]', '[]', ?, ?, ?)"
        )
        year, quarter = dt.timedelta(days=365), dt.timedelta(days=90)
        horizon_start = now + dt.timedelta(hours=3)  # past the default 2 h horizon
        stamp = when(now)
        chunk: list[tuple[Any, ...]] = []
        for n in range(total):
            post, (account, unit) = post_ids[n // ACCOUNTS], accounts[n % ACCOUNTS]
            if n < due:
                at, status, attempts, done = due_at, "scheduled", 0, None
            elif n < due + published:
                at = now - year * ((n - due) / max(published, 1)) - dt.timedelta(minutes=5)
                status, attempts, done = "published", 1, when(at + dt.timedelta(seconds=1))
            else:
                k = n - due - published
                at = horizon_start + quarter * (k / max(scheduled, 1))
                status, attempts, done = "scheduled", 0, None
            at = at.replace(second=0, microsecond=0) if n >= due else at
            chunk.append(
                (
                    post,
                    account,
                    unit,
                    TEXT,
                    when(at),
                    when(at),
                    attempts,
                    status,
                    uuid.UUID(int=n + 1).hex,
                    done,
                    stamp,
                )
            )
            if len(chunk) == 20_000:
                conn.exec_driver_sql(insert, chunk)
                chunk.clear()
        if chunk:
            conn.exec_driver_sql(insert, chunk)
    if sqlite:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return Seeded(total, due)


def set_due(url: str, root: Path, at: dt.datetime) -> int:
    """Make every variant that is not published due at ``at``."""
    ws = Workspace.open(root, database_url=url)
    with ws.engine.begin() as conn:
        done = conn.execute(
            sa.update(V).where(V.c.status == "scheduled").values(publish_at=at, due_at=at)
        )
    ws.engine.dispose()
    return int(done.rowcount or 0)


# --- daemons -------------------------------------------------------------------------------


class Served:
    """One daemon subprocess."""

    def __init__(self, root: Path, url: str, worker: str, logs: Path) -> None:
        self.worker = worker
        self.log_path = logs / f"{worker}.log"
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(root), url, worker]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMPLIFIER_")}
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env
            )

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_started(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while f"daemon {self.worker} started" not in self.log_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"daemon {self.worker} did not start:\n{self.log_text()}")
            time.sleep(0.05)

    def memory(self) -> dict[str, float]:
        """VmRSS and VmHWM in MB, from /proc/<pid>/status."""
        found: dict[str, float] = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0]) / 1024  # kB → MB
        return found

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"daemon {self.worker} ignored SIGTERM") from None


def next_minute(after: dt.datetime) -> dt.datetime:
    floor = after.replace(second=0, microsecond=0)
    return floor + dt.timedelta(minutes=1)


def wait_published(url: str, root: Path, count: int, timeout: float, daemons: list[Served]) -> None:
    ws = Workspace.open(root, database_url=url)
    deadline = time.monotonic() + timeout
    query = sa.select(sa.func.count()).where(V.c.status == "published")
    try:
        while True:
            with ws.engine.connect() as conn:
                if conn.execute(query).scalar_one() >= count:
                    return
            for d in daemons:
                if d.proc.poll() is not None:
                    raise RuntimeError(f"daemon {d.worker} exited:\n{d.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} variants were not published within {timeout:g} s")
            time.sleep(0.25)
    finally:
        ws.engine.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def measure(url: str, root: Path, since: dt.datetime) -> dict[str, Any]:
    """Lateness of the variants due at or after ``since``, and each worker's throughput."""
    ws = Workspace.open(root, database_url=url)
    with ws.engine.connect() as conn:
        late = [
            (r.published_at - r.publish_at).total_seconds()
            for r in conn.execute(
                sa.select(V.c.publish_at, V.c.published_at).where(
                    V.c.status == "published", V.c.publish_at >= since
                )
            )
        ]
        workers = {
            r.worker: r
            for r in conn.execute(
                sa.select(
                    D.c.worker,
                    sa.func.count().label("n"),
                    sa.func.min(D.c.started_at).label("first"),
                    sa.func.max(D.c.finished_at).label("last"),
                )
                .where(D.c.outcome == "published", D.c.started_at >= since)
                .group_by(D.c.worker)
            )
        }
        duplicates = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(D.c.variant_id)
                .where(D.c.outcome == "published")
                .group_by(D.c.variant_id)
                .having(sa.func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    ws.engine.dispose()
    per_worker = {}
    for name, r in sorted(workers.items()):
        span = max((_utc(r.last) - _utc(r.first)).total_seconds(), 1e-6)
        per_worker[name] = {"variants": r.n, "seconds": round(span, 3), "rate": r.n / span}
    first = min((_utc(r.first) for r in workers.values()), default=since)
    last = max((_utc(r.last) for r in workers.values()), default=since)
    total = sum(r.n for r in workers.values())
    span = max((last - first).total_seconds(), 1e-6)
    return {
        "published": total,
        "duplicates": duplicates,
        "seconds": round(span, 3),
        "rate": total / span,
        "per_worker": per_worker,
        "lateness_p50": statistics.median(late) if late else None,
        "lateness_p99": percentile(late, 99) if late else None,
        "lateness_max": max(late) if late else None,
    }


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


# --- scenarios -----------------------------------------------------------------------------


def run_at_minute(
    url: str,
    root: Path,
    logs: Path,
    workers: list[str],
    expect: int,
    timeout: float,
) -> dict[str, Any]:
    """Start the daemons, make every scheduled variant due at the next whole minute that
    leaves them a sweep (10 s) to schedule it and the minute job's lead to claim ahead,
    wait until all are published; measure."""
    daemons = [Served(root, url, w, logs) for w in workers]
    try:
        for d in daemons:
            d.wait_started()
        ahead = dt.timedelta(seconds=10 + 2) + PREFETCH_LEAD
        minute = next_minute(dt.datetime.now(dt.UTC) + ahead)
        moved = set_due(url, root, minute)
        assert moved == expect, (moved, expect)
        log(f"  {len(workers)} daemon(s) up; {expect:,} variants due at {minute:%H:%M:%S} UTC")
        wait = (minute - dt.datetime.now(dt.UTC)).total_seconds()
        wait_published(url, root, expect, wait + timeout, daemons)
    finally:
        codes = [d.stop() for d in daemons]
    result = measure(url, root, minute)
    result["exit_codes"] = codes
    result["due_at"] = minute.isoformat()
    return result


def burst(kind: str, work: Path, pg: str | None, count: int, daemons: int = 1) -> dict[str, Any]:
    log(
        f"(1) burst on {kind}: {count:,} variants due at one minute, no-op publisher, "
        f"{daemons} daemon(s)"
    )
    name = f"burst-{kind}" + (f"-x{daemons}" if daemons > 1 else "")
    root = workspace(work / name, "bench-noop")
    now = dt.datetime.now(dt.UTC)
    with fresh_database(kind, work, pg, name.replace("-", "_")) as url:
        seed(url, root, due=count, due_at=now + dt.timedelta(days=30), now=now)
        workers = [name] if daemons == 1 else [f"{name}-{i + 1}" for i in range(daemons)]
        return run_at_minute(url, root, work, workers, count, timeout=120)


def scale_out(work: Path, pg: str, count: int) -> dict[str, Any]:
    runs = {}
    for daemons in (1, 2):
        log(f"(2) scale-out: {daemons} daemon(s), {count:,} variants, 20 ms per publish")
        root = workspace(work / f"scale-{daemons}", "bench-20ms")
        now = dt.datetime.now(dt.UTC)
        with fresh_database("postgres", work, pg, f"scale{daemons}") as url:
            seed(url, root, due=count, due_at=now + dt.timedelta(days=30), now=now)
            workers = [f"scale{daemons}-{i + 1}" for i in range(daemons)]
            runs[daemons] = run_at_minute(
                url, root, work, workers, count, timeout=count * 0.03 + 60
            )
    return {"one": runs[1], "two": runs[2], "ratio": runs[2]["rate"] / runs[1]["rate"]}


def memory(work: Path, total: int) -> dict[str, Any]:
    due = 100
    published = int(total * 0.9)
    scheduled = total - published - due
    log(f"(3) memory: {total:,} variants in SQLite ({due} due now); writing the rows")
    root = workspace(work / "memory", "bench-noop")
    now = dt.datetime.now(dt.UTC)
    with fresh_database("sqlite", work, None, "memory") as url:
        started = time.perf_counter()
        seed(
            url,
            root,
            due=due,
            due_at=now - dt.timedelta(seconds=1),
            published=published,
            scheduled=scheduled,
            now=now,
        )
        seeded = time.perf_counter() - started
        log(f"  wrote {total:,} rows in {seeded:.1f} s; starting the daemon")
        daemon = Served(root, url, "memory", work)
        samples: list[float] = []
        try:
            daemon.wait_started()
            wait_published(url, root, published + due, 120, [daemon])
            end = time.monotonic() + 25  # two more sweeps (every 10 s)
            while time.monotonic() < end:
                samples.append(daemon.memory().get("VmRSS", 0.0))
                time.sleep(0.2)
            final = daemon.memory()
        finally:
            code = daemon.stop()
        size = Path(sa.engine.make_url(url).database or "").stat().st_size
    return {
        "variants": total,
        "due": due,
        "database_mb": round(size / 2**20, 1),
        "seed_seconds": round(seeded, 1),
        "rss_mb": round(final.get("VmRSS", max(samples, default=0.0)), 1),
        "rss_max_sampled_mb": round(max(samples, default=0.0), 1),
        "hwm_mb": round(final.get("VmHWM", 0.0), 1),
        "exit_code": code,
    }


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def check(name: str, value: float | None, op: str, target: float, unit: str) -> dict[str, Any]:
    ok = value is not None and (value <= target if op == "<=" else value >= target)
    return {"check": name, "value": value, "target": f"{op} {target:g} {unit}", "pass": ok}


def run(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = load_average()
    counts = {
        "burst": 2_000 if opts.quick else 10_000,
        "scale": 400 if opts.quick else 2_400,
        "memory": 100_000 if opts.quick else 1_000_000,
    }
    results: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    kinds = ["sqlite"] + (["postgres"] if opts.postgres_url else [])
    for kind in kinds:
        r = results[f"burst_{kind}"] = burst(kind, work, opts.postgres_url, counts["burst"])
        (rate,) = [w["rate"] for w in r["per_worker"].values()]
        checks += [
            check(f"(1) {kind}: p99 lateness", r["lateness_p99"], "<=", TARGET_LATENESS_P99, "s"),
            check(f"(1) {kind}: variants/s per daemon", rate, ">=", TARGET_RATE, "/s"),
            check(f"(1) {kind}: duplicates", r["duplicates"], "<=", 0, ""),
        ]
    if opts.postgres_url and not opts.quick:  # for comparison: the burst shared by two
        r = results["burst_postgres_x2"] = burst(
            "postgres", work, opts.postgres_url, counts["burst"], daemons=2
        )
        checks.append(check("(1) postgres, 2 daemons: duplicates", r["duplicates"], "<=", 0, ""))
    if opts.postgres_url:
        r = results["scale_out"] = scale_out(work, opts.postgres_url, counts["scale"])
        checks += [
            check("(2) postgres: 2 daemons / 1", r["ratio"], ">=", TARGET_SCALE, "×"),
            check("(2) postgres: duplicates", r["two"]["duplicates"], "<=", 0, ""),
        ]
    else:
        results["scale_out"] = None
        log("(2) skipped: give --postgres-url (or set AMPLIFIER_TEST_POSTGRES_URL)")
    r = results["memory"] = memory(work, counts["memory"])
    checks.append(check("(3) sqlite: daemon RSS", r["rss_mb"], "<=", TARGET_RSS_MB, "MB"))
    return {
        "machine": {**machine(), "load_average": {"before": load_before, "after": load_average()}},
        "quick": opts.quick,
        "counts": counts,
        "results": results,
        "checks": checks,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"amplifier dispatch benchmark{' (quick)' if result['quick'] else ''}, {m['date']}",
        f"machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; SQLite {m['sqlite']}; "
        f"{m['os']}",
        f"amplifier source: {m['amplifier_source'] or 'not a git checkout'}",
        "packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"load average (1, 5, 15 min) before: {m['load_average']['before']}, "
        f"after: {m['load_average']['after']}",
        "",
    ]
    header = (
        f"{'scenario':<34} {'daemons':>7} {'variants':>9} {'seconds':>8} "
        f"{'variants/s':>11} {'p50 late':>9} {'p99 late':>9}"
    )
    lines += [header, "-" * len(header)]

    def row(label: str, r: dict[str, Any], lateness: bool = True) -> None:
        p50 = f"{r['lateness_p50']:.2f} s" if lateness and r["lateness_p50"] is not None else "-"
        p99 = f"{r['lateness_p99']:.2f} s" if lateness and r["lateness_p99"] is not None else "-"
        lines.append(
            f"{label:<34} {len(r['per_worker']):>7} {r['published']:>9,} {r['seconds']:>8.2f} "
            f"{r['rate']:>11,.0f} {p50:>9} {p99:>9}"
        )
        for name, w in r["per_worker"].items():
            lines.append(
                f"{'  ' + name:<34} {'':>7} {w['variants']:>9,} {w['seconds']:>8.2f} "
                f"{w['rate']:>11,.0f}"
            )

    res = result["results"]
    for key, label in (
        ("burst_sqlite", "(1) burst, no-op, sqlite"),
        ("burst_postgres", "(1) burst, no-op, postgres"),
        ("burst_postgres_x2", "(1) burst, no-op, postgres (info)"),
    ):
        if key in res:
            row(label, res[key])
    if res["scale_out"]:
        row("(2) 20 ms publisher, postgres", res["scale_out"]["one"], lateness=False)
        row("(2) 20 ms publisher, postgres", res["scale_out"]["two"], lateness=False)
    mem = res["memory"]
    lines += [
        "",
        f"(3) {mem['variants']:,} variants in SQLite ({mem['database_mb']} MB, written in "
        f"{mem['seed_seconds']} s), {mem['due']} due: daemon VmRSS {mem['rss_mb']} MB "
        f"(highest sampled {mem['rss_max_sampled_mb']} MB, peak VmHWM {mem['hwm_mb']} MB)",
        "",
        f"{'check':<40} {'value':>10} {'target':>14}  verdict",
    ]
    for c in result["checks"]:
        value = "-" if c["value"] is None else f"{c['value']:,.2f}"
        lines.append(f"{c['check']:<40} {value:>10} {c['target']:>14}  {verdict(c['pass'])}")
    lines += [
        "",
        "lateness: published_at - publish_at; variants/s: over the span from the first batch's "
        "start to the last batch's end (per daemon: its own batches).",
        f"benchmark wall time: {result['total_seconds']} s",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a fast run")
    parser.add_argument(
        "--postgres-url",
        default=next((os.environ[e] for e in POSTGRES_ENV if os.environ.get(e)), None),
        help="PostgreSQL for (1) and (2); each scenario uses a new schema, dropped after "
        f"(default: ${POSTGRES_ENV[0]} or ${POSTGRES_ENV[1]})",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder, keep it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        return serve(*argv[1:4])
    opts = parse_args(argv)
    if opts.keep is not None:
        opts.keep.mkdir(parents=True, exist_ok=True)
        result = run(opts, opts.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="amplifier-dispatch-") as tmp:
            result = run(opts, Path(tmp))
    print(render(result))
    if opts.json is not None:
        opts.json.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"results written to {opts.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
