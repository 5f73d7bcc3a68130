"""Schedule: the ``amplifier run`` daemon, an APScheduler 3.11 scheduler over the database.

The database is the truth; every job is derived from it, and the number of jobs never grows
with the number of variants:

- one ``DateTrigger`` job per distinct upcoming publish minute within the horizon; it
  fires ``PREFETCH_LEAD`` seconds early to claim that minute's variants ahead, then
  publishes them at the minute (never before);
- one ``IntervalTrigger`` sweeper that catches everything else (plans made by another
  process, retries that came due, leases that expired, variants that became too late) and
  re-derives the minute jobs;
- one ``CronTrigger`` job per unit timezone for the daily digest (kept in step with the
  units by the sweeper).

Each daemon has its own ``MemoryJobStore``; any number of daemons can share one PostgreSQL
database because dispatch claims work row by row. ``misfire_grace_time`` is set on every
job, and a late job still runs (``coalesce``): nothing is dropped silently — whatever is
past its maximum lateness becomes ``missed`` with the reason.

    daemon = Daemon(ws)
    daemon.run()          # until SIGTERM/SIGINT or daemon.stop()
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from amplifier.dispatch import Dispatcher, DispatchReport
from amplifier.load import load_calendars
from amplifier.models import UNITS, VARIANTS, utcnow
from amplifier.vocab import ReviewState, VariantStatus

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

log = logging.getLogger("amplifier.daemon")

MINUTE_JOB = "minute:"
SWEEP_JOB = "sweep"
DIGEST_JOB = "digest:"
MISFIRE_GRACE = 3600  # seconds: a job that fires late still runs; lateness is judged per variant
PREFETCH_LEAD = dt.timedelta(seconds=5)  # a minute job claims its variants this much ahead


class _QuietSweepSkips(logging.Filter):
    """A sweep still running when the next is due is expected (the next one catches up:
    the sweeper is idempotent and coalesced), so APScheduler's warning about it is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (SWEEP_JOB in message and "maximum number of running instances" in message)


logging.getLogger("apscheduler.scheduler").addFilter(_QuietSweepSkips())


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Daemon:
    """One scheduler process. ``run()`` blocks; ``start()``/``stop()`` for embedding."""

    def __init__(
        self,
        ws: Workspace,
        *,
        worker: str | None = None,
        on_dispatch: Callable[[DispatchReport], None] | None = None,
        digests: bool = True,
        max_lateness: Mapping[str, dt.timedelta] | None = None,
    ) -> None:
        """``max_lateness`` overrides ``[publishing] max_lateness`` per campaign slug; by
        default each campaign's ``max_lateness`` in the calendar files, read once here."""
        self.ws = ws
        self.worker = worker or worker_name()
        self.settings = ws.settings.publishing
        if max_lateness is None:
            max_lateness = campaign_lateness(ws)
        self.dispatcher = Dispatcher(ws, self.worker, max_lateness=max_lateness)
        self.on_dispatch = on_dispatch
        self.digests = digests
        self.stopped = threading.Event()
        # Held by a job while it changes the scheduler's jobs. APScheduler's shutdown holds
        # the job store lock while it waits for running jobs, so a job that reached for the
        # jobs then would wait for ever: shutdown takes this lock first, and once stopping,
        # jobs leave the scheduler alone.
        self._jobs_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=2)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE,
            },
            timezone=dt.UTC,
        )

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.ws.engine  # noqa: B018 - open (and check) the database before starting
        self.scheduler.add_job(
            self.sweep,
            IntervalTrigger(seconds=self.settings.sweep_seconds, timezone=dt.UTC),
            id=SWEEP_JOB,
            next_run_time=dt.datetime.now(dt.UTC),
        )
        if self.digests:
            self.schedule_digests()
        self.scheduler.start()
        log.info("daemon %s started", self.worker)

    def run(self, *, install_signals: bool = True) -> None:
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
        self.start()
        self.stopped.wait()
        self.shutdown()

    def stop(self) -> None:
        """Ask to stop: the attempt in flight finishes, unstarted claims are released."""
        log.info("daemon %s stopping", self.worker)
        self.dispatcher.stop()
        self.stopped.set()

    def shutdown(self) -> None:
        """Stop (if not asked yet), wait for the jobs, give back held claims, close."""
        self.dispatcher.stop()
        self.stopped.set()  # a minute job waiting for its minute returns at once
        with self._jobs_lock:  # no job is changing the jobs now, and none will
            pass
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.dispatcher.close()
        log.info("daemon %s stopped", self.worker)

    # --- jobs ---------------------------------------------------------------------------

    def dispatch(self) -> None:
        if self.dispatcher.stopping:
            return
        report = self.dispatcher.run_due()
        if report.claimed:
            log.info("dispatched %d: %s", report.claimed, dict(report.outcomes))
        if self.on_dispatch is not None:
            self.on_dispatch(report)

    def dispatch_minute(self, minute: dt.datetime) -> None:
        """Claim the variants due at ``minute`` ahead, wait for it, publish them."""
        if self.dispatcher.stopping:
            return
        self.dispatcher.prefetch(minute)
        wait = (minute - utcnow()).total_seconds()
        if wait > 0 and self.stopped.wait(wait):
            return  # stopping: shutdown gives the claims held back
        self.dispatch()

    def sweep(self) -> None:
        try:
            self.dispatch()
            self.refresh_minutes()
            if self.digests:
                self.schedule_digests()
        except Exception:  # keep the daemon alive; the next sweep tries again
            log.exception("sweep failed")

    def refresh_minutes(self, now: dt.datetime | None = None) -> int:
        """Make the minute jobs match the upcoming publish minutes in the database."""
        now = now or utcnow()
        t = VARIANTS
        with self.ws.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.due_at)
                .where(
                    t.c.status == VariantStatus.SCHEDULED,
                    t.c.review == ReviewState.APPROVED,
                    t.c.due_at > now,
                    t.c.due_at <= now + self.settings.horizon,
                )
                .distinct()
            ).scalars()
            minutes = {_minute(m) for m in rows if m is not None}
        wanted = {MINUTE_JOB + m.isoformat(): m for m in minutes}
        with self._jobs_lock:
            if self.dispatcher.stopping:
                return len(wanted)
            for job in self.scheduler.get_jobs():
                if job.id.startswith(MINUTE_JOB) and job.id not in wanted:
                    job.remove()
            for job_id, minute in wanted.items():
                if self.scheduler.get_job(job_id) is None:
                    self.scheduler.add_job(
                        self.dispatch_minute,
                        DateTrigger(run_date=minute - PREFETCH_LEAD, timezone=dt.UTC),
                        args=[minute],
                        id=job_id,
                    )
        return len(wanted)

    def schedule_digests(self, now: dt.datetime | None = None) -> int:
        """One ``CronTrigger`` digest job per zone of the active units, added and removed as
        units change (each sweep calls this). A digest time passed less than
        ``MISFIRE_GRACE`` ago today (the daemon started late) fires at once; the
        ``digest_run`` claim keeps it from going out twice."""
        from amplifier.digest import send_digests

        now = now or utcnow()
        hour, minute = (int(p) for p in self.settings.digest_at.split(":"))
        t = UNITS
        with self.ws.engine.connect() as conn:
            zones = set(
                conn.execute(sa.select(t.c.timezone).where(t.c.active).distinct()).scalars()
            )
        with self._jobs_lock:
            if self.dispatcher.stopping:
                return len(zones)
            for job in self.scheduler.get_jobs():
                if job.id.startswith(DIGEST_JOB) and job.id.removeprefix(DIGEST_JOB) not in zones:
                    job.remove()
            for zone in sorted(zones):
                if self.scheduler.get_job(DIGEST_JOB + zone) is not None:
                    continue
                local = now.astimezone(ZoneInfo(zone))
                today = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
                catch_up = 0 < (local - today).total_seconds() < MISFIRE_GRACE
                self.scheduler.add_job(
                    send_digests,
                    CronTrigger(hour=hour, minute=minute, timezone=zone),
                    args=[self.ws, zone, self.dispatcher, self.worker],
                    id=DIGEST_JOB + zone,
                    **({"next_run_time": today} if catch_up else {}),
                )
        return len(zones)

    def job_counts(self) -> dict[str, Any]:
        jobs = self.scheduler.get_jobs()
        return {
            "minutes": sum(j.id.startswith(MINUTE_JOB) for j in jobs),
            "digests": sum(j.id.startswith(DIGEST_JOB) for j in jobs),
            "total": len(jobs),
        }


def _minute(moment: dt.datetime) -> dt.datetime:
    """The first whole minute at or after ``moment`` (a job never fires before its variants)."""
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + dt.timedelta(minutes=1)


def campaign_lateness(ws: Workspace) -> dict[str, dt.timedelta]:
    """The campaigns whose calendar entry sets its own ``max_lateness``, by slug (read from
    ``calendars/`` alone: the unit tree of org.yaml is not needed for it)."""
    return {
        c.slug: c.max_lateness
        for cal in load_calendars(ws.root)
        for c in cal.campaigns
        if c.max_lateness is not None
    }
