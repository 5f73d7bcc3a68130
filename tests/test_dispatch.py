"""Dispatch: exactly-once claims across daemons, retries, failures, missed and uncertain
variants, shutdown, hands-on operations, and a job count that does not grow with variants.

Each test plans a small workspace for real, moves its variants' times by hand, and drives
``Dispatcher`` with fake publishers registered for the test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from amplifier.dispatch import Dispatcher, DispatchReport
from amplifier.errors import InvalidOperation, NotFound
from amplifier.models import CentralPost, Delivery, Variant, utcnow
from amplifier.publishers import (
    PermanentPublishError,
    Publisher,
    PublishItem,
    PublishResult,
    TransientPublishError,
    register,
    unregister,
)
from amplifier.schedule import MINUTE_JOB, PREFETCH_LEAD, Daemon
from amplifier.status import cancel_variant, retry_variant, status
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory

V = Variant.__table__  # type: ignore[attr-defined]
D = Delivery.__table__  # type: ignore[attr-defined]
P = CentralPost.__table__  # type: ignore[attr-defined]

PLATFORMS = ("x", "instagram", "facebook", "threads")
CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT Kementerian
    period: {start: 2027-10-01, end: 2027-10-31}
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: Pos pertama.
"""


def org_yaml(units: int, platforms: tuple[str, ...] = PLATFORMS, mode: str = "api") -> str:
    """An institution of ``units`` units (a central office and service offices)."""
    lines = ["institution:", "  code: KPTD", "  name: Kementerian Contoh", "units:"]
    for i in range(units):
        code = "PUSAT" if i == 0 else f"KL-{i:04d}"
        lines += [f"  - code: {code}", f"    name: Kantor {i:04d}"]
        lines += ["    kind: central"] if i == 0 else ["    kind: service", "    parent: PUSAT"]
        lines += ["    timezone: Asia/Jakarta", "    accounts:"]
        for platform in platforms:
            lines += [
                f"      - platform: {platform}",
                f"        handle: kptd.u{i:04d}.{platform}",
                f"        mode: {mode}",
            ]
    return "\n".join(lines) + "\n"


def settings_toml(api: str = "fake", manual: str = "fake", **publishing: Any) -> str:
    lines = ["[publishing]", f'api = "{api}"', f'manual = "{manual}"']
    lines += [f"{key} = {value!r}" for key, value in publishing.items()]
    return "\n".join(lines) + "\n"


# --- fake publishers --------------------------------------------------------------------

Behaviour = Callable[[PublishItem, int], PublishResult]


@dataclass
class Calls:
    """What a fake publisher was asked: every item, and how often each key came."""

    items: list[PublishItem] = field(default_factory=list)
    per_key: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: PublishItem) -> int:
        with self.lock:
            self.items.append(item)
            self.per_key[item.idempotency_key] += 1
            return self.per_key[item.idempotency_key]


def ok(item: PublishItem, _n: int) -> PublishResult:
    return PublishResult(external_id=f"id-{item.variant_id}")


FakeFactory = Callable[..., Calls]


@pytest.fixture
def fake() -> Iterator[FakeFactory]:
    """``fake(name, behaviour, idempotent=..., delay=...)`` registers a fake publisher."""
    names: list[str] = []

    def make(
        name: str = "fake",
        behaviour: Behaviour = ok,
        *,
        idempotent: bool = True,
        delay: float = 0.0,
    ) -> Calls:
        calls = Calls()

        class Fake(Publisher):
            def publish(self, item: PublishItem) -> PublishResult:
                n = calls.add(item)
                if delay:
                    time.sleep(delay)
                return behaviour(item, n)

        Fake.name = name
        Fake.idempotent = idempotent
        register(Fake, name)
        names.append(name)
        return calls

    yield make
    for name in names:
        unregister(name)


# --- workspaces -------------------------------------------------------------------------


@pytest.fixture
def opened() -> Iterator[list[Workspace]]:
    """Workspaces to close after the test (PostgreSQL drops the schema afterwards)."""
    spaces: list[Workspace] = []
    yield spaces
    for ws in spaces:
        ws.engine.dispose()


@pytest.fixture
def build(
    make_workspace: WorkspaceFactory, database_url: str, opened: list[Workspace]
) -> Callable[..., Workspace]:
    def make(
        units: int = 1, platforms: tuple[str, ...] = PLATFORMS, **publishing: Any
    ) -> Workspace:
        root = make_workspace(
            org=org_yaml(units, platforms),
            calendars={"hut.yaml": CALENDAR},
            settings=settings_toml(**publishing),
        )
        ws = Workspace.open(root, database_url=database_url)
        opened.append(ws)
        ws.sync()
        summary = ws.plan()
        assert summary.by_status == {"scheduled": units * len(platforms)}
        return ws

    return make


def reopen(ws: Workspace, opened: list[Workspace]) -> Workspace:
    """Another handle on the same database, as a second daemon would have."""
    other = Workspace.open(ws.root, database_url=ws.engine.url.render_as_string(False))
    opened.append(other)
    return other


def make_due(ws: Workspace, at: dt.datetime | None = None) -> list[int]:
    """Move every scheduled variant to ``at`` (default: a second ago); their ids."""
    at = at or utcnow() - dt.timedelta(seconds=1)
    with ws.engine.begin() as conn:
        ids = list(conn.execute(sa.select(V.c.id).where(V.c.status == "scheduled")).scalars())
        conn.execute(
            sa.update(V).where(V.c.id.in_(ids)).values(publish_at=at, due_at=at, updated_at=at)
        )
    return sorted(ids)


def due_ahead(ws: Workspace, seconds: float = 30) -> tuple[dt.datetime, dt.datetime, list[int]]:
    """Every scheduled variant due ``seconds`` from now: (now, that time, their ids)."""
    now = utcnow()
    at = now + dt.timedelta(seconds=seconds)
    return now, at, make_due(ws, at)


def rows(ws: Workspace) -> dict[int, Any]:
    with ws.engine.connect() as conn:
        return {r.id: r for r in conn.execute(sa.select(V))}


def deliveries(ws: Workspace) -> list[Any]:
    with ws.engine.connect() as conn:
        return list(conn.execute(sa.select(D).order_by(D.c.variant_id, D.c.attempt)))


@pytest.fixture
def dispatchers() -> Iterator[list[Dispatcher]]:
    made: list[Dispatcher] = []
    yield made
    for d in made:
        d.close()


def dispatcher(ws: Workspace, made: list[Dispatcher], worker: str = "w1", **kw: Any) -> Dispatcher:
    d = Dispatcher(ws, worker, **kw)
    made.append(d)
    return d


# --- exactly once -----------------------------------------------------------------------


def test_two_dispatchers_claim_each_variant_exactly_once(
    build: Callable[..., Workspace],
    fake: FakeFactory,
    opened: list[Workspace],
    dispatchers: list[Dispatcher],
) -> None:
    calls = fake(delay=0.001)
    ws = build(units=60)  # 240 variants
    ids = make_due(ws)
    assert len(ids) >= 200
    workers = [
        dispatcher(ws, dispatchers, "host-a:1", batch=7),
        dispatcher(reopen(ws, opened), dispatchers, "host-b:2", batch=7),
    ]
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []
    reports: list[DispatchReport] = []

    def work(d: Dispatcher) -> None:
        try:
            start.wait()
            reports.append(d.run_due())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors

    final = rows(ws)
    assert {final[i].status for i in ids} == {VariantStatus.PUBLISHED}
    assert all(final[i].attempts == 1 and final[i].claimed_by is None for i in ids)
    # each variant published once: one call per key, one delivery per variant
    assert len(calls.items) == len(ids) and set(calls.per_key.values()) == {1}
    found = deliveries(ws)
    assert [d.variant_id for d in found] == ids
    assert {(d.attempt, d.outcome) for d in found} == {(1, "published")}
    by_worker = Counter(d.worker for d in found)
    assert set(by_worker) == {"host-a:1", "host-b:2"}  # both did some of the work
    assert all(d.started_at <= d.finished_at for d in found)
    assert sum(r.claimed for r in reports) == len(ids)
    assert sum(r.outcomes["published"] for r in reports) == len(ids)


def test_a_claim_is_recorded_on_the_variant(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    fake()
    ws = build(lease=60)
    ids = make_due(ws)
    now = utcnow()
    claims = dispatcher(ws, dispatchers, "host-a:1").claim(now)
    assert sorted(c.id for c in claims) == ids
    assert {c.item.attempt for c in claims} == {1}
    for r in rows(ws).values():
        assert r.status == VariantStatus.PUBLISHING and r.claimed_by == "host-a:1"
        assert r.lease_until == now + dt.timedelta(seconds=60)
    # nothing is left for another worker
    assert dispatcher(ws, dispatchers, "host-b:2").claim(now) == []


# --- retries and failures ---------------------------------------------------------------


def test_a_transient_error_is_retried_later_then_published(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    def once_busy(item: PublishItem, n: int) -> PublishResult:
        if n == 1:
            raise TransientPublishError("busy, come back later", retry_after=30)
        return PublishResult(external_id="x1", external_url=f"https://x.com/i/{item.variant_id}")

    calls = fake(behaviour=once_busy)
    ws = build(platforms=("x",))
    (vid,) = make_due(ws)
    d = dispatcher(ws, dispatchers)

    before = utcnow()
    report = d.run_due()
    assert report.outcomes == {"retry": 1}
    row = rows(ws)[vid]
    assert row.status == VariantStatus.SCHEDULED and row.attempts == 1
    assert row.due_at >= before + dt.timedelta(seconds=30)  # Retry-After is a floor
    assert row.claimed_by is None and row.lease_until is None
    assert d.run_due().claimed == 0  # not due again yet

    report = d.run_due(now=row.due_at + dt.timedelta(seconds=1))
    assert report.outcomes == {"published": 1}
    row = rows(ws)[vid]
    assert row.status == VariantStatus.PUBLISHED and row.attempts == 2
    assert row.external_url == f"https://x.com/i/{vid}" and row.confirmed_at is not None
    assert [(x.attempt, x.outcome) for x in deliveries(ws)] == [(1, "retry"), (2, "published")]
    assert "busy" in deliveries(ws)[0].error
    assert len(set(calls.per_key)) == 1 and calls.per_key.total() == 2  # one key, two tries


def test_too_many_transient_errors_fail_the_variant_with_the_reason(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    def always_busy(item: PublishItem, n: int) -> PublishResult:
        raise TransientPublishError(f"503 on try {n}")

    fake(behaviour=always_busy)
    ws = build(platforms=("x",), max_attempts=3)
    (vid,) = make_due(ws)
    d = dispatcher(ws, dispatchers)
    outcomes: list[str] = []
    for _ in range(3):
        due = rows(ws)[vid].due_at
        outcomes += list(d.run_due(now=max(due, utcnow()) + dt.timedelta(seconds=1)).outcomes)
    assert outcomes == ["retry", "retry", "failed"]
    row = rows(ws)[vid]
    assert row.status == VariantStatus.FAILED and row.attempts == 3
    assert row.reasons == ["gave up after 3 attempts: 503 on try 3"]
    assert [(x.attempt, x.outcome) for x in deliveries(ws)] == [
        (1, "retry"),
        (2, "retry"),
        (3, "failed"),
    ]
    assert d.run_due(now=utcnow() + dt.timedelta(hours=1)).claimed == 0


def test_a_permanent_error_fails_the_variant_with_the_reason(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    def refused(item: PublishItem, n: int) -> PublishResult:
        raise PermanentPublishError("400 Bad Request: text too long")

    fake(behaviour=refused)
    ws = build(platforms=("x",))
    (vid,) = make_due(ws)
    assert dispatcher(ws, dispatchers).run_due().outcomes == {"failed": 1}
    row = rows(ws)[vid]
    assert row.status == VariantStatus.FAILED and row.attempts == 1
    assert row.reasons == ["publisher refused: 400 Bad Request: text too long"]
    (only,) = deliveries(ws)
    assert only.outcome == "failed" and "text too long" in only.error


def test_a_crashing_publisher_leaves_the_variant_uncertain(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    def crash(item: PublishItem, n: int) -> PublishResult:
        raise RuntimeError("socket closed after sending")

    fake(behaviour=crash)
    ws = build(platforms=("x",))
    (vid,) = make_due(ws)
    assert dispatcher(ws, dispatchers).run_due().outcomes == {"uncertain": 1}
    row = rows(ws)[vid]
    assert row.status == VariantStatus.UNCERTAIN
    assert "outcome unknown" in row.reasons[0] and "socket closed" in row.reasons[0]


# --- too late ---------------------------------------------------------------------------


def test_past_the_maximum_lateness_the_sweep_marks_missed_with_the_reason(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    calls = fake()
    ws = build(platforms=("x", "instagram"), max_lateness="30m")
    late, fresh = make_due(ws)
    with ws.engine.begin() as conn:
        long_ago = utcnow() - dt.timedelta(minutes=31)
        conn.execute(
            sa.update(V).where(V.c.id == late).values(publish_at=long_ago, due_at=long_ago)
        )
    d = dispatcher(ws, dispatchers)
    assert d.sweep() == {"missed": 1}
    found = rows(ws)
    assert found[late].status == VariantStatus.MISSED
    assert found[late].reasons == ["not published within the maximum lateness (30 min) of its time"]
    assert found[fresh].status == VariantStatus.SCHEDULED  # a second late is not missed
    assert d.run_due().outcomes == {"published": 1}
    assert [i.variant_id for i in calls.items] == [fresh]  # the missed one never went out


def test_a_campaign_can_allow_less_lateness_than_the_setting(
    make_workspace: WorkspaceFactory,
    database_url: str,
    fake: FakeFactory,
    opened: list[Workspace],
    dispatchers: list[Dispatcher],
) -> None:
    calls = fake()
    other = CALENDAR.replace("slug: hut", "slug: lain").replace("key: satu", "key: dua")
    hut_calendar = CALENDAR.replace("    posts:\n", "    max_lateness: 10m\n    posts:\n")
    root = make_workspace(
        org=org_yaml(1, ("x",)),
        calendars={"hut.yaml": hut_calendar, "lain.yaml": other},
        settings=settings_toml(max_lateness="30m"),
    )
    ws = Workspace.open(root, database_url=database_url)
    opened.append(ws)
    ws.sync()
    ws.plan()
    hut, lain = make_due(ws, utcnow() - dt.timedelta(minutes=20))  # in file order
    daemon = Daemon(ws, worker="late:1", digests=False)  # reads the campaign's max_lateness
    dispatchers.append(daemon.dispatcher)
    d = daemon.dispatcher
    assert d.lateness_limit("hut") == dt.timedelta(minutes=10)
    assert d.lateness_limit("lain") == dt.timedelta(minutes=30)
    assert d.sweep() == {"missed": 1}
    found = rows(ws)
    assert found[hut].status == VariantStatus.MISSED
    assert found[hut].reasons == ["not published within the maximum lateness (10 min) of its time"]
    assert found[lain].status == VariantStatus.SCHEDULED  # 20 min is within its 30
    assert d.run_due().outcomes == {"published": 1}
    assert [i.campaign_slug for i in calls.items] == ["lain"]


def test_a_retry_that_would_come_too_late_is_missed_with_the_reason(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    def busy(item: PublishItem, n: int) -> PublishResult:
        raise TransientPublishError("503 Service Unavailable", retry_after=120)

    fake(behaviour=busy)
    ws = build(platforms=("x", "instagram"), max_lateness="30m")
    late, by_hand = make_due(ws, utcnow() - dt.timedelta(minutes=29))
    with ws.engine.begin() as conn:  # retried by hand long after its time
        long_ago = utcnow() - dt.timedelta(hours=3)
        conn.execute(sa.update(V).where(V.c.id == by_hand).values(publish_at=long_ago))
    d = dispatcher(ws, dispatchers)
    assert d.run_due().outcomes == {"missed": 1, "retry": 1}
    found = rows(ws)
    assert found[late].status == VariantStatus.MISSED and found[late].claimed_by is None
    (reason,) = found[late].reasons
    assert reason.startswith("503 Service Unavailable; the next try (")
    assert reason.endswith("would be past the maximum lateness (30 min) of its time")
    assert found[by_hand].status == VariantStatus.SCHEDULED  # a person asked for it
    outcomes = {x.variant_id: x.outcome for x in deliveries(ws)}
    assert outcomes == {late: "missed", by_hand: "retry"}


# --- leases -----------------------------------------------------------------------------


@pytest.mark.parametrize("idempotent", [False, True], ids=["not-idempotent", "idempotent"])
def test_an_expired_lease(
    build: Callable[..., Workspace],
    fake: FakeFactory,
    dispatchers: list[Dispatcher],
    opened: list[Workspace],
    idempotent: bool,
) -> None:
    calls = fake(idempotent=idempotent)
    ws = build(platforms=("x",), lease=60)
    (vid,) = make_due(ws)
    key = rows(ws)[vid].idempotency_key
    now = utcnow()
    # a daemon claims, then dies before recording anything
    assert [c.id for c in dispatcher(ws, dispatchers, "dead:1").claim(now)] == [vid]
    survivor = dispatcher(reopen(ws, opened), dispatchers, "alive:2")
    assert +survivor.sweep(now + dt.timedelta(seconds=59)) == {}  # the lease still holds
    assert rows(ws)[vid].status == VariantStatus.PUBLISHING

    later = now + dt.timedelta(seconds=61)
    counts = +survivor.sweep(later)
    row = rows(ws)[vid]
    assert row.claimed_by is None and row.lease_until is None
    assert row.idempotency_key == key
    if not idempotent:
        assert counts == {"uncertain": 1}
        assert row.status == VariantStatus.UNCERTAIN
        assert "stopped mid-publish" in row.reasons[0] and "amplifier retry" in row.reasons[0]
        assert survivor.run_due(later).claimed == 0  # never a silent repost
        assert calls.items == []
        return
    assert counts == {"retried": 1}
    assert row.status == VariantStatus.SCHEDULED and row.due_at == later
    assert survivor.run_due(later).outcomes == {"published": 1}
    (item,) = calls.items
    assert item.idempotency_key == key and item.attempt == 2  # same key, next attempt
    assert [(x.attempt, x.worker) for x in deliveries(ws)] == [(2, "alive:2")]


def test_a_slow_batch_keeps_its_lease_while_another_daemon_sweeps(
    build: Callable[..., Workspace],
    fake: FakeFactory,
    dispatchers: list[Dispatcher],
    opened: list[Workspace],
) -> None:
    calls = fake(delay=0.4)  # 6 calls take 2.4 s, longer than the 2 s lease
    ws = build(units=2, platforms=("x", "instagram", "facebook"), lease=2)
    ids = make_due(ws)
    slow = dispatcher(ws, dispatchers, "slow:1")
    other = dispatcher(reopen(ws, opened), dispatchers, "other:2")
    claims = slow.claim(utcnow())
    assert sorted(c.id for c in claims) == ids
    worker = threading.Thread(target=slow.publish, args=(claims,))
    worker.start()
    seen: Counter[str] = Counter()
    while worker.is_alive():  # the other daemon sweeps and claims all along
        seen.update(other.sweep())
        seen.update(other.run_due().outcomes)
        time.sleep(0.05)
    worker.join()
    assert +seen == Counter()  # nothing expired, nothing taken over
    assert set(calls.per_key.values()) == {1} and len(calls.per_key) == len(ids)
    found = deliveries(ws)
    assert {(x.worker, x.attempt, x.outcome) for x in found} == {("slow:1", 1, "published")}
    assert {r.status for r in rows(ws).values()} == {VariantStatus.PUBLISHED}


def test_a_claim_lost_while_the_daemon_was_frozen_is_not_published(
    build: Callable[..., Workspace],
    fake: FakeFactory,
    dispatchers: list[Dispatcher],
    opened: list[Workspace],
) -> None:
    calls = fake(idempotent=True)
    ws = build(platforms=("x",), lease=60)
    (vid,) = make_due(ws, utcnow() - dt.timedelta(seconds=90))
    frozen = dispatcher(ws, dispatchers, "frozen:1")
    # claimed 61 s ago: the lease ran out while the process was stopped (SIGSTOP, a VM pause)
    claims = frozen.claim(utcnow() - dt.timedelta(seconds=61))
    survivor = dispatcher(reopen(ws, opened), dispatchers, "alive:2")
    assert survivor.run_due().outcomes == {"published": 1}  # swept, retried, published
    report = frozen.publish(claims)  # the frozen daemon wakes up
    assert report.claimed == 1 and not report.outcomes
    assert calls.per_key.total() == 1
    assert [(x.worker, x.attempt) for x in deliveries(ws)] == [("alive:2", 2)]
    assert rows(ws)[vid].status == VariantStatus.PUBLISHED


def test_chunks_follow_the_publishers_pace(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    fake()
    ws = build(units=30)  # 120 variants, all due
    make_due(ws)
    d = dispatcher(ws, dispatchers)
    assert d.run_due().outcomes == {"published": 120}
    with ws.engine.connect() as conn:
        chunks = conn.execute(
            sa.select(sa.func.count())
            .select_from(D)
            .group_by(D.c.started_at)
            .order_by(D.c.started_at)
        ).scalars()
        sizes = list(chunks)
    # one call to learn the pace, then at most fourfold growth per chunk
    assert sizes[:3] == [1, 4, 16] and sum(sizes) == 120
    assert all(b <= 4 * a for a, b in itertools.pairwise(sizes))


# --- claiming ahead ---------------------------------------------------------------------


def test_prefetched_variants_go_out_at_their_time_not_before(
    build: Callable[..., Workspace],
    fake: FakeFactory,
    dispatchers: list[Dispatcher],
    opened: list[Workspace],
) -> None:
    calls = fake()
    ws = build(units=3)  # 12 variants
    now, at, ids = due_ahead(ws)
    d = dispatcher(ws, dispatchers, "early:1", batch=5)
    assert d.prefetch(at, now=now) == len(ids) and d.held == len(ids)
    assert {r.status for r in rows(ws).values()} == {VariantStatus.PUBLISHING}
    assert dispatcher(reopen(ws, opened), dispatchers, "late:2").claim(at) == []
    assert d.run_due(now=at - dt.timedelta(seconds=1)).claimed == 0  # not yet
    assert calls.items == [] and d.held == len(ids)
    report = d.run_due(now=at)
    assert report.claimed == len(ids) and report.outcomes == {"published": len(ids)}
    assert d.held == 0 and sorted(i.variant_id for i in calls.items) == ids
    assert {(x.attempt, x.outcome) for x in deliveries(ws)} == {(1, "published")}


def test_prefetch_claims_nothing_once_the_minute_has_come(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    fake()
    ws = build(platforms=("x",))
    at = utcnow()
    make_due(ws, at)
    d = dispatcher(ws, dispatchers)
    assert d.prefetch(at, now=at) == 0 and d.held == 0
    assert {r.status for r in rows(ws).values()} == {VariantStatus.SCHEDULED}


def test_closing_gives_back_the_claims_held_ahead(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    calls = fake()
    ws = build(platforms=("x", "instagram"))
    now = utcnow()
    make_due(ws, now + dt.timedelta(minutes=1))
    d = dispatcher(ws, dispatchers)
    assert d.prefetch(now + dt.timedelta(minutes=1), now=now) == 2
    d.stop()
    d.close()
    assert d.held == 0 and calls.items == []
    for r in rows(ws).values():
        assert r.status == VariantStatus.SCHEDULED and r.attempts == 0
        assert r.claimed_by is None and r.lease_until is None


def test_daemons_claiming_the_same_minute_ahead_share_it(
    build: Callable[..., Workspace],
    fake: FakeFactory,
    dispatchers: list[Dispatcher],
    opened: list[Workspace],
) -> None:
    calls = fake()
    ws = build(units=60)  # 240 variants
    now, at, ids = due_ahead(ws)
    workers = [
        dispatcher(ws, dispatchers, "host-a:1", batch=10),
        dispatcher(reopen(ws, opened), dispatchers, "host-b:2", batch=10),
    ]
    start = threading.Barrier(len(workers))
    held: dict[str, int] = {}
    for d in workers:  # a scheduling hiccup must not look like a slow publisher here
        d.keep_seconds = 3600

    def work(d: Dispatcher) -> None:
        start.wait()
        held[d.worker] = d.prefetch(at, now=now)
        d.run_due(now=at)

    threads = [threading.Thread(target=work, args=(d,)) for d in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(held.values()) == len(ids)
    if ws.engine.dialect.name == "postgresql":
        # SKIP LOCKED interleaves the claims; SQLite serializes writers, and its busy
        # handler's back-off can let one daemon take every batch on a loaded machine
        assert min(held.values()) > 0
    assert set(calls.per_key.values()) == {1} and len(calls.per_key) == len(ids)
    assert [x.variant_id for x in deliveries(ws)] == ids
    by_worker = Counter(x.worker for x in deliveries(ws))
    assert by_worker == Counter(held)  # each published exactly what it had claimed ahead


def test_claims_beyond_a_few_seconds_of_work_go_back_for_another_daemon(
    build: Callable[..., Workspace],
    fake: FakeFactory,
    dispatchers: list[Dispatcher],
    opened: list[Workspace],
) -> None:
    calls = fake(delay=0.05)
    ws = build(units=10)  # 40 variants
    now, at, ids = due_ahead(ws)
    busy = dispatcher(ws, dispatchers, "busy:1")
    busy.keep_seconds = 0.2  # about 4 calls of this publisher
    assert busy.prefetch(at, now=now) == len(ids)  # it claimed the whole burst ahead
    helper = dispatcher(reopen(ws, opened), dispatchers, "helper:2")
    reports: list[DispatchReport] = []
    worker = threading.Thread(target=lambda: reports.append(busy.run_due(now=at)))
    worker.start()
    helped = DispatchReport()
    while worker.is_alive():  # (the burst's minute has come for both)
        helped.merge(helper.run_due(now=at))
        time.sleep(0.01)
    worker.join()
    helped.merge(helper.run_due(now=at))
    assert set(calls.per_key.values()) == {1} and len(calls.per_key) == len(ids)
    found = deliveries(ws)
    assert {(x.attempt, x.outcome) for x in found} == {(1, "published")}  # given back unstarted
    by_worker = Counter(x.worker for x in found)
    assert by_worker["helper:2"] > 0 and by_worker["busy:1"] > 0
    assert reports[0].claimed + helped.claimed == len(ids)
    assert reports[0].claimed == by_worker["busy:1"]
    assert {r.status for r in rows(ws).values()} == {VariantStatus.PUBLISHED}


# --- stopping ---------------------------------------------------------------------------


def test_stop_releases_the_claims_not_yet_started(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    holder: list[Dispatcher] = []

    def stop_then_ok(item: PublishItem, n: int) -> PublishResult:
        holder[0].stop()  # SIGTERM arrives while the first group is being published
        return ok(item, n)

    # two accounts, two publishers: one group is published, then stop is asked
    api = fake("fake-api", behaviour=stop_then_ok)
    manual = fake("fake-manual", behaviour=stop_then_ok)
    ws = build(platforms=("x", "instagram"), api="fake-api", manual="fake-manual")
    make_due(ws)
    with ws.engine.begin() as conn:  # the instagram account is posted by hand
        conn.execute(sa.text("UPDATE account SET mode = 'manual' WHERE platform = 'instagram'"))
    d = dispatcher(ws, dispatchers)
    holder.append(d)
    report = d.run_due()
    assert report.claimed == 2 and report.outcomes == {"published": 1}
    (item,) = api.items + manual.items  # the attempt in flight finished, the other never began
    found = rows(ws)
    assert found[item.variant_id].status == VariantStatus.PUBLISHED
    (released,) = [r for r in found.values() if r.id != item.variant_id]
    assert released.status == VariantStatus.SCHEDULED and released.claimed_by is None
    assert released.attempts == 0 and released.lease_until is None  # as if never claimed
    assert [x.variant_id for x in deliveries(ws)] == [item.variant_id]
    assert d.run_due().claimed == 0  # a stopped dispatcher claims nothing more


def test_claims_given_back_on_stop_belong_to_the_stopping_worker(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    fake()
    ws = build(platforms=("x",))
    make_due(ws)
    d = dispatcher(ws, dispatchers, "w1")
    claims = d.claim(utcnow())
    d.stop()
    report = d.publish(claims)
    assert report.claimed == 1 and not report.outcomes
    (row,) = rows(ws).values()
    assert row.status == VariantStatus.SCHEDULED and row.attempts == 0
    assert deliveries(ws) == []


# --- status, retry, cancel --------------------------------------------------------------


def test_status_counts_what_is_due_running_late_failed_missed_and_uncertain(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    fake()
    ws = build(units=2)  # 8 variants
    ids = make_due(ws, utcnow() - dt.timedelta(minutes=5))
    now = utcnow()
    by_state = {
        ids[0]: "failed",
        ids[1]: "missed",
        ids[2]: "uncertain",
        ids[3]: "publishing",
        ids[4]: "published",
    }
    with ws.engine.begin() as conn:
        for vid, state in by_state.items():
            conn.execute(sa.update(V).where(V.c.id == vid).values(status=state))
        conn.execute(sa.update(V).where(V.c.id == ids[5]).values(due_at=now))  # due, not late
        upcoming = now + dt.timedelta(hours=1)
        conn.execute(sa.update(V).where(V.c.id == ids[6]).values(due_at=upcoming))
    found = status(ws, now=now)
    assert found["due"] == 2 and found["late"] == 1  # ids[5] and ids[7]; ids[7] is late
    assert (found["running"], found["failed"], found["missed"], found["uncertain"]) == (1, 1, 1, 1)
    assert dt.datetime.fromisoformat(found["next"]) == upcoming
    assert found["by_status"] == {
        "failed": 1,
        "missed": 1,
        "uncertain": 1,
        "publishing": 1,
        "published": 1,
        "scheduled": 3,
    }


def test_retry_sends_a_failed_variant_again_with_its_key(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    def refuse_first(item: PublishItem, n: int) -> PublishResult:
        if n == 1:
            raise PermanentPublishError("account suspended")
        return ok(item, n)

    calls = fake(behaviour=refuse_first)
    ws = build(platforms=("x",))
    (vid,) = make_due(ws)
    d = dispatcher(ws, dispatchers)
    assert d.run_due().outcomes == {"failed": 1}
    with pytest.raises(NotFound):
        retry_variant(ws, vid + 1000)

    retry_variant(ws, vid)
    row = rows(ws)[vid]
    assert row.status == VariantStatus.SCHEDULED and row.due_at <= utcnow()
    assert row.reasons[0] == "publisher refused: account suspended"
    assert row.reasons[1].startswith("retried by hand at ")
    assert d.run_due().outcomes == {"published": 1}
    assert rows(ws)[vid].status == VariantStatus.PUBLISHED
    first, second = calls.items
    assert first.idempotency_key == second.idempotency_key and second.attempt == 2
    with pytest.raises(InvalidOperation, match="only failed, missed or uncertain"):
        retry_variant(ws, vid)  # published is final


def test_retry_an_uncertain_variant_after_checking_the_account(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    calls = fake(idempotent=False)
    ws = build(platforms=("x",), lease=60)
    (vid,) = make_due(ws)
    now = utcnow()
    d = dispatcher(ws, dispatchers)
    d.claim(now)
    assert +d.sweep(now + dt.timedelta(minutes=2)) == {"uncertain": 1}
    assert status(ws)["uncertain"] == 1
    retry_variant(ws, vid)
    assert status(ws)["uncertain"] == 0 and status(ws)["due"] == 1
    assert d.run_due().outcomes == {"published": 1}
    assert len(calls.items) == 1


def test_cancel_keeps_the_variant_on_record_and_a_later_plan_does_not_revive_it(
    build: Callable[..., Workspace], fake: FakeFactory, dispatchers: list[Dispatcher]
) -> None:
    calls = fake()
    ws = build(platforms=("x", "instagram"))
    cancelled, kept = make_due(ws)
    cancel_variant(ws, cancelled)
    row = rows(ws)[cancelled]
    assert row.status == VariantStatus.CANCELLED and row.due_at is None
    assert row.reasons[0].startswith("cancelled by hand at ")
    with pytest.raises(InvalidOperation, match="cannot be cancelled"):
        cancel_variant(ws, cancelled)
    with pytest.raises(NotFound):
        cancel_variant(ws, kept + 1000)

    summary = ws.plan()  # re-plans (and re-times) everything else
    assert summary.by_status == {"cancelled": 1, "scheduled": 1}
    assert rows(ws)[cancelled].status == VariantStatus.CANCELLED
    make_due(ws)
    assert dispatcher(ws, dispatchers).run_due().outcomes == {"published": 1}
    assert [i.variant_id for i in calls.items] == [kept]
    assert rows(ws)[cancelled].status == VariantStatus.CANCELLED
    with pytest.raises(InvalidOperation, match="published and cannot be cancelled"):
        cancel_variant(ws, kept)


# --- the daemon's jobs ------------------------------------------------------------------


def add_posts(ws: Workspace, copies: int) -> int:
    """``copies`` more central posts with a variant per account, written directly."""
    now = utcnow()
    with ws.engine.begin() as conn:
        (post,) = conn.execute(sa.select(P)).all()
        template = [r._asdict() for r in conn.execute(sa.select(V).where(V.c.post_id == post.id))]
        extra = {k: v for k, v in post._asdict().items() if k != "id"}
        conn.execute(sa.insert(P), [{**extra, "key": f"copy-{i}"} for i in range(copies)])
        new_posts = conn.execute(sa.select(P.c.id).where(P.c.id != post.id)).scalars().all()
        conn.execute(
            sa.insert(V),
            [
                {
                    **{k: v for k, v in t.items() if k != "id"},
                    "post_id": p,
                    "idempotency_key": uuid.uuid4().hex,
                    "updated_at": now,
                }
                for p in new_posts
                for t in template
            ],
        )
        return int(conn.execute(sa.select(sa.func.count()).select_from(V)).scalar_one())


def test_the_daemon_job_count_stays_small_with_many_variants(
    build: Callable[..., Workspace], fake: FakeFactory
) -> None:
    fake()
    ws = build(units=25, sweep_seconds=600, horizon="2h")  # 100 variants
    total = add_posts(ws, 20)  # 2,100
    assert total >= 2000
    now = utcnow().replace(microsecond=0) + dt.timedelta(seconds=30)
    with ws.engine.begin() as conn:
        ids = list(conn.execute(sa.select(V.c.id).order_by(V.c.id)).scalars())
        step = dt.timedelta(minutes=30) / len(ids)
        spread = [{"_id": vid, "t": now + i * step} for i, vid in enumerate(ids)]
        conn.execute(
            sa.update(V)
            .where(V.c.id == sa.bindparam("_id"))
            .values(status="scheduled", publish_at=sa.bindparam("t"), due_at=sa.bindparam("t")),
            spread,
        )
    daemon = Daemon(ws, worker="jobs:1", digests=False)
    refreshed = threading.Event()
    refresh = daemon.refresh_minutes

    def refresh_and_tell(now: dt.datetime | None = None) -> int:
        n = refresh(now)
        refreshed.set()
        return n

    daemon.refresh_minutes = refresh_and_tell  # type: ignore[method-assign]
    daemon.start()
    try:
        assert refreshed.wait(30)  # the first sweep derives the minute jobs
        counts = daemon.job_counts()
        assert 30 <= counts["minutes"] <= 31
        assert counts["total"] == counts["minutes"] + 1  # and the sweeper
        jobs = {j.id: j for j in daemon.scheduler.get_jobs()}
        assert "sweep" in jobs
        for job_id, job in jobs.items():  # each minute job fires a little ahead
            if job_id.startswith(MINUTE_JOB):
                minute = dt.datetime.fromisoformat(job_id.removeprefix(MINUTE_JOB))
                assert job.next_run_time == minute - PREFETCH_LEAD and job.args == (minute,)
        # the same variants again: the same jobs, no more
        assert daemon.refresh_minutes(utcnow()) == counts["minutes"]
        assert daemon.job_counts() == counts
    finally:
        daemon.stop()
        daemon.shutdown()
    assert status(ws)["by_status"] == {"scheduled": total}  # nothing was due yet


def test_stopping_the_daemon_during_a_sweep_does_not_hang(
    build: Callable[..., Workspace], fake: FakeFactory
) -> None:
    publishing = threading.Event()

    def slow(item: PublishItem, n: int) -> PublishResult:
        publishing.set()
        time.sleep(0.3)
        return ok(item, n)

    fake(behaviour=slow)
    ws = build(platforms=("x", "instagram"))
    make_due(ws)
    daemon = Daemon(ws, worker="stop:1", digests=False)
    daemon.start()
    assert publishing.wait(30)  # the first sweep is publishing when SIGTERM comes
    daemon.stop()
    shutdown = threading.Thread(target=daemon.shutdown, daemon=True)
    shutdown.start()
    shutdown.join(20)
    assert not shutdown.is_alive(), "the daemon hung while stopping"
    # the chunk in flight finished (one call: the publisher's pace is not known yet); the
    # claim not yet started went back, as if never claimed
    assert status(ws)["by_status"] == {"published": 1, "scheduled": 1}
    assert {r.attempts for r in rows(ws).values()} == {0, 1}


def test_a_minute_job_claims_ahead_and_publishes_on_the_minute(
    build: Callable[..., Workspace], fake: FakeFactory
) -> None:
    calls = fake()
    ws = build(units=2, sweep_seconds=600)  # 8 variants
    minute = utcnow() + dt.timedelta(seconds=1.5)
    ids = make_due(ws, minute)
    daemon = Daemon(ws, worker="minute:1", digests=False)
    job = threading.Thread(target=daemon.dispatch_minute, args=(minute,))
    job.start()
    deadline = time.monotonic() + 10
    while daemon.dispatcher.held < len(ids) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert daemon.dispatcher.held == len(ids) and utcnow() < minute  # claimed ahead
    assert calls.items == []
    job.join(30)
    assert sorted(i.variant_id for i in calls.items) == ids
    assert all(x.started_at >= minute for x in deliveries(ws))  # never before the minute
    assert {r.status for r in rows(ws).values()} == {VariantStatus.PUBLISHED}
    daemon.shutdown()


def test_stopping_while_a_minute_job_waits_gives_its_claims_back(
    build: Callable[..., Workspace], fake: FakeFactory
) -> None:
    calls = fake()
    ws = build(platforms=("x", "instagram"), sweep_seconds=600)
    minute = utcnow() + dt.timedelta(seconds=30)
    make_due(ws, minute)
    daemon = Daemon(ws, worker="minute:2", digests=False)
    job = threading.Thread(target=daemon.dispatch_minute, args=(minute,))
    job.start()
    deadline = time.monotonic() + 10
    while daemon.dispatcher.held < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert daemon.dispatcher.held == 2
    daemon.stop()
    job.join(5)
    assert not job.is_alive()  # the wait ends at once
    daemon.shutdown()
    assert calls.items == [] and deliveries(ws) == []
    for r in rows(ws).values():
        assert r.status == VariantStatus.SCHEDULED and r.attempts == 0 and r.claimed_by is None
