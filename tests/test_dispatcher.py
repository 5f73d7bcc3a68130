"""Dispatch: exactly-once claims, retries, failures, lateness, lease expiry, graceful stop."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from amplifier.dispatch import Dispatcher
from amplifier.models import Delivery, Variant, utcnow
from amplifier.publishers import register, unregister
from amplifier.publishers.base import (
    PermanentPublishError,
    Publisher,
    PublishItem,
    PublishResult,
    TransientPublishError,
)
from amplifier.schedule import Daemon
from amplifier.status import cancel_variant, retry_variant, status
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory

V = Variant.__table__  # type: ignore[attr-defined]
D = Delivery.__table__  # type: ignore[attr-defined]


def many_units(n: int) -> str:
    units = [
        "  - code: PUSAT\n    name: Pusat\n    kind: central\n    timezone: Asia/Jakarta\n"
        "    accounts: [{platform: x, handle: pusat, mode: api}]\n"
    ]
    for i in range(n):
        units.append(
            f"  - code: U{i:03d}\n    name: Unit {i}\n    kind: service\n    parent: PUSAT\n"
            f"    timezone: Asia/Makassar\n    accounts:\n"
            f"      - {{platform: x, handle: u{i:03d}x, mode: api}}\n"
            f"      - {{platform: facebook, handle: u{i:03d}fb, mode: api}}\n"
        )
    return "institution: {code: K, name: Kementerian}\nunits:\n" + "".join(units)


CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT
    period: {start: 2027-10-01, end: 2027-10-31}
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: Selamat ulang tahun.
"""


class Recorder(Publisher):
    name = "recorder"
    idempotent: ClassVar[bool] = False
    calls: ClassVar[Counter[str]] = Counter()
    script: ClassVar[dict[int, list[Exception]]] = {}
    lock = threading.Lock()

    def publish(self, item: PublishItem) -> PublishResult:
        with self.lock:
            Recorder.calls[item.idempotency_key] += 1
            planned = Recorder.script.get(item.variant_id)
            error = planned.pop(0) if planned else None
        if error is not None:
            raise error
        return PublishResult(external_id=f"id-{item.variant_id}")


@pytest.fixture
def ws(make_workspace: WorkspaceFactory, database_url: str) -> Iterator[Workspace]:
    register(Recorder)
    Recorder.calls = Counter()
    Recorder.script = {}
    root = make_workspace(
        org=many_units(110),
        calendars={"hut.yaml": CALENDAR},
        settings='[publishing]\napi = "recorder"\nmax_attempts = 3\nretry_base = 1\n',
    )
    w = Workspace.open(root, database_url=database_url)
    w.sync()
    w.plan()
    with w.engine.begin() as conn:  # everything due now
        conn.execute(sa.update(V).values(publish_at=utcnow(), due_at=utcnow()))
    yield w
    unregister("recorder")


def statuses(ws: Workspace) -> Counter[str]:
    with ws.engine.connect() as conn:
        return Counter(str(s) for s in conn.execute(sa.select(V.c.status)).scalars())


def test_two_dispatchers_publish_each_variant_exactly_once(ws: Workspace) -> None:
    total = sum(statuses(ws).values())
    assert total == 221
    workers = [Dispatcher(ws, f"w{i}", batch=20) for i in range(2)]
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda d=d: reports.append(d.run_due())) for d in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses(ws) == Counter({"published": total})
    assert set(Recorder.calls.values()) == {1} and len(Recorder.calls) == total
    with ws.engine.connect() as conn:
        per_variant = Counter(conn.execute(sa.select(D.c.variant_id)).scalars())
        workers_used = set(conn.execute(sa.select(D.c.worker)).scalars())
    assert set(per_variant.values()) == {1}
    assert sum(r.claimed for r in reports) == total
    assert workers_used <= {"w0", "w1"}


def test_transient_then_success_permanent_and_giving_up(ws: Workspace) -> None:
    ids = sorted(v.id or 0 for v in ws.variants())
    Recorder.script = {
        ids[0]: [TransientPublishError("busy", retry_after=0)],
        ids[1]: [PermanentPublishError("400 bad request")],
        ids[2]: [TransientPublishError("500")] * 3,
    }
    dispatcher = Dispatcher(ws, "w")
    for _ in range(4):
        dispatcher.run_due(utcnow() + dt.timedelta(minutes=5))
    found = {v.id: v for v in ws.variants()}
    assert found[ids[0]].status == VariantStatus.PUBLISHED and found[ids[0]].attempts == 2
    assert found[ids[1]].status == VariantStatus.FAILED
    assert "publisher refused: 400 bad request" in found[ids[1]].reasons[0]
    assert found[ids[2]].status == VariantStatus.FAILED
    assert "gave up after 3 attempts" in found[ids[2]].reasons[0]
    with ws.engine.connect() as conn:
        attempts = sorted(
            conn.execute(sa.select(D.c.attempt).where(D.c.variant_id == ids[2])).scalars()
        )
    assert attempts == [1, 2, 3]


def test_too_late_becomes_missed_with_the_reason(ws: Workspace) -> None:
    with ws.engine.begin() as conn:
        conn.execute(
            sa.update(V).values(
                publish_at=utcnow() - dt.timedelta(hours=3), due_at=utcnow() - dt.timedelta(hours=3)
            )
        )
    counts = Dispatcher(ws, "w").sweep()
    assert counts["missed"] == 221
    v = ws.variants()[0]
    assert v.status == VariantStatus.MISSED and "maximum lateness" in v.reasons[0]
    assert not Recorder.calls


def test_expired_lease_is_uncertain_for_a_non_idempotent_publisher(ws: Workspace) -> None:
    dispatcher = Dispatcher(ws, "crashed")
    claims = dispatcher.claim(utcnow(), limit=5)
    assert len(claims) == 5  # claimed, then the process "dies" before publishing
    later = utcnow() + dt.timedelta(minutes=10)
    counts = Dispatcher(ws, "other").sweep(later)
    assert counts["uncertain"] == 5
    uncertain = [v for v in ws.variants() if v.status == VariantStatus.UNCERTAIN]
    assert len(uncertain) == 5 and "cannot retry safely" in uncertain[0].reasons[0]
    retry_variant(ws, uncertain[0].id or 0)
    assert status(ws)["uncertain"] == 4


def test_stop_releases_unstarted_claims(ws: Workspace) -> None:
    dispatcher = Dispatcher(ws, "w")
    claims = dispatcher.claim(utcnow(), limit=10)
    dispatcher.stop()
    report = dispatcher.publish(claims)
    assert report.claimed == 10 and not report.outcomes
    assert statuses(ws)[VariantStatus.PUBLISHING] == 0
    assert not Recorder.calls


def test_cancelled_by_hand_stays_cancelled_after_a_plan(ws: Workspace) -> None:
    victim = ws.variants()[0].id or 0
    cancel_variant(ws, victim)
    ws.plan()
    assert next(v for v in ws.variants() if v.id == victim).status == VariantStatus.CANCELLED


def test_minute_jobs_do_not_grow_with_variants(ws: Workspace, tmp_path: Path) -> None:
    start = utcnow() + dt.timedelta(minutes=5)
    with ws.engine.begin() as conn:
        ids = list(conn.execute(sa.select(V.c.id).order_by(V.c.id)).scalars())
        conn.execute(
            sa.update(V).where(V.c.id == sa.bindparam("_id")),
            [
                {"_id": vid, "due_at": start + dt.timedelta(seconds=7 * i), "publish_at": start}
                for i, vid in enumerate(ids)
            ],
        )
    daemon = Daemon(ws, digests=False)
    daemon.scheduler.start(paused=True)
    try:
        minutes = daemon.refresh_minutes()
    finally:
        daemon.scheduler.shutdown(wait=False)
    span_minutes = (7 * len(ids)) // 60 + 2
    assert 1 < minutes <= span_minutes < len(ids)
