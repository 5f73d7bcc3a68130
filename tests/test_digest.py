"""Digest: each unit admin's daily schedule, sent once across daemons through the unit's
publisher channel, with jobs per unit zone that follow the units and catch up a late start.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from amplifier.digest import Digest, build_digests, send_digests
from amplifier.dispatch import Dispatcher
from amplifier.models import DIGEST_RUNS, UNITS, VARIANTS
from amplifier.publishers import (
    Publisher,
    PublishItem,
    PublishResult,
    TransientPublishError,
    register,
    unregister,
)
from amplifier.schedule import DIGEST_JOB, Daemon
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory
from tests.test_dispatch import CALENDAR  # one post, 2027-10-29 09:00 WIB

JAKARTA, MAKASSAR = "Asia/Jakarta", "Asia/Makassar"
DAY = dt.date(2027, 10, 29)

ORG = """\
institution: {code: KPTD, name: Kementerian Contoh}
units:
  - code: PUSAT
    name: Kantor Pusat
    kind: central
    timezone: Asia/Jakarta
    accounts:
      - {platform: x, handle: kptd_ri, mode: manual}
      - {platform: instagram, handle: kptd.ri, mode: api}
  - code: KL-API
    name: Kantor Layanan Otomatis
    kind: service
    parent: PUSAT
    timezone: Asia/Jakarta
    accounts:
      - {platform: x, handle: kl_api, mode: api}
  - code: KANWIL-BALI
    name: Kantor Wilayah Bali
    kind: regional
    parent: PUSAT
    timezone: Asia/Makassar
    accounts:
      - {platform: instagram, handle: kptd.bali, mode: manual}
admins:
  - id: ADM-1
    name: Admin Pusat
    email: humas@kptd.go.id
    units: [PUSAT]
    letter: {number: ST-1/2027, issued: 2027-01-04, valid_until: 2027-12-31}
  - id: ADM-2
    name: Admin Layanan
    accounts: ["x:kl_api"]
    letter: {number: ST-2/2027, issued: 2027-01-04, valid_until: 2027-12-31}
"""


class Channel(Publisher):
    """An ``api`` publisher that records the digests it is given."""

    name = "digest-api"
    idempotent: ClassVar[bool] = True
    sent: ClassVar[list[Digest]] = []
    fail: ClassVar[bool] = False

    def publish(self, item: PublishItem) -> PublishResult:
        return PublishResult()

    def send_digest(self, digest: Digest) -> None:
        if Channel.fail:
            raise TransientPublishError("503 Service Unavailable")
        Channel.sent.append(digest)


@pytest.fixture
def ws(make_workspace: WorkspaceFactory, database_url: str) -> Iterator[Workspace]:
    register(Channel)
    Channel.sent, Channel.fail = [], False
    root = make_workspace(
        org=ORG,
        calendars={"hut.yaml": CALENDAR},
        settings='[publishing]\nmanual = "outbox"\napi = "digest-api"\n',
    )
    w = Workspace.open(root, database_url=database_url)
    w.sync()
    assert w.plan().by_status == {"scheduled": 4}
    yield w
    w.engine.dispose()
    unregister("digest-api")


@pytest.fixture
def dispatchers(ws: Workspace) -> Iterator[Callable[[str], Dispatcher]]:
    made: list[Dispatcher] = []

    def make(worker: str) -> Dispatcher:
        made.append(Dispatcher(ws, worker))
        return made[-1]

    yield make
    for d in made:
        d.close()


def local(zone: str, hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(zone)).astimezone(dt.UTC)


def outbox(ws: Workspace) -> Path:
    return ws.root / ".amplifier" / "outbox"


def test_a_digest_lists_the_units_day_with_the_text_of_hand_posted_items(ws: Workspace) -> None:
    found = {d.unit_code: d for d in build_digests(ws, JAKARTA, DAY)}
    assert set(found) == {"PUSAT", "KL-API"}  # Bali is another zone
    pusat = found["PUSAT"]
    assert pusat.admins == ["humas@kptd.go.id"] and pusat.manual
    by_account = {i.account: i for i in pusat.items}
    assert set(by_account) == {"x:@kptd_ri", "instagram:@kptd.ri"}
    assert by_account["x:@kptd_ri"].text and "Pos pertama" in by_account["x:@kptd_ri"].text
    assert by_account["instagram:@kptd.ri"].text is None  # the daemon posts it
    assert found["KL-API"].admins == ["Admin Layanan"] and not found["KL-API"].manual
    text = pusat.as_text()
    assert text.startswith("Jadwal Kantor Pusat (PUSAT) 2027-10-29")
    assert pusat.as_dict()["day"] == "2027-10-29" and pusat.as_dict()["text"] == text
    assert build_digests(ws, JAKARTA, DAY + dt.timedelta(days=1)) == []


def test_digests_go_out_once_across_daemons_through_each_units_channel(
    ws: Workspace, dispatchers: Callable[[str], Dispatcher]
) -> None:
    now = local(JAKARTA, 7)
    assert send_digests(ws, JAKARTA, dispatchers("w1"), "w1", now=now) == 2
    # PUSAT posts by hand: its digest is in the outbox, beside the day's items
    written = (outbox(ws) / "PUSAT" / "2027-10-29" / "digest.txt").read_text(encoding="utf-8")
    assert written.startswith("Untuk: humas@kptd.go.id\n\nJadwal Kantor Pusat (PUSAT)")
    assert "Pos pertama." in written
    # KL-API has only API accounts: its digest went through the api publisher
    assert [d.unit_code for d in Channel.sent] == ["KL-API"]
    # a second daemon at the same moment sends nothing
    assert send_digests(ws, JAKARTA, dispatchers("w2"), "w2", now=now) == 0
    assert len(Channel.sent) == 1
    with ws.engine.connect() as conn:
        (run,) = conn.execute(sa.select(DIGEST_RUNS)).all()
    assert (run.zone, run.day, run.worker, run.items) == (JAKARTA, DAY, "w1", 2)


def test_a_channel_that_fails_is_logged_and_the_other_digests_still_go(
    ws: Workspace, dispatchers: Callable[[str], Dispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    Channel.fail = True
    with caplog.at_level(logging.ERROR, logger="amplifier.digest"):
        sent = send_digests(ws, JAKARTA, dispatchers("w1"), "w1", now=local(JAKARTA, 7))
    assert sent == 1
    assert (outbox(ws) / "PUSAT" / "2027-10-29" / "digest.txt").exists()
    (record,) = caplog.records
    assert "KL-API" in record.getMessage() and "503" in record.getMessage()


def test_only_scheduled_approved_variants_of_active_units_are_listed(ws: Workspace) -> None:
    V = VARIANTS
    with ws.engine.begin() as conn:
        conn.execute(sa.update(V).where(V.c.account_id == 1).values(status="cancelled"))
    (pusat,) = [d for d in build_digests(ws, JAKARTA, DAY) if d.unit_code == "PUSAT"]
    assert len(pusat.items) == 1
    with ws.engine.begin() as conn:
        conn.execute(sa.update(UNITS).where(UNITS.c.code == "PUSAT").values(active=False))
    assert [d.unit_code for d in build_digests(ws, JAKARTA, DAY)] == ["KL-API"]


def jobs(daemon: Daemon) -> dict[str, Any]:
    return {j.id: j for j in daemon.scheduler.get_jobs() if j.id.startswith(DIGEST_JOB)}


def test_digest_jobs_follow_the_units_zones_and_catch_up_a_late_start(ws: Workspace) -> None:
    daemon = Daemon(ws, worker="digest:1")
    daemon.scheduler.start(paused=True)
    try:
        # started at 07:10 in Jakarta (08:10 in Makassar): Jakarta's digest is 10 minutes
        # late and goes out at once; Makassar's is more than the grace late: tomorrow's
        started = local(JAKARTA, 7, 10, day=dt.datetime.now(dt.UTC).date())
        assert daemon.schedule_digests(now=started) == 2
        found = jobs(daemon)
        assert set(found) == {DIGEST_JOB + JAKARTA, DIGEST_JOB + MAKASSAR}
        assert found[DIGEST_JOB + JAKARTA].next_run_time == started - dt.timedelta(minutes=10)
        bali = found[DIGEST_JOB + MAKASSAR].next_run_time
        assert bali > dt.datetime.now(dt.UTC)
        assert bali.astimezone(ZoneInfo(MAKASSAR)).time() == dt.time(7, 0)
        # the Bali office closes: its zone's job goes at the next sweep
        with ws.engine.begin() as conn:
            conn.execute(sa.update(UNITS).where(UNITS.c.code == "KANWIL-BALI").values(active=False))
        assert daemon.schedule_digests() == 1
        assert set(jobs(daemon)) == {DIGEST_JOB + JAKARTA}
    finally:
        daemon.scheduler.shutdown(wait=False)
        daemon.dispatcher.close()
