"""The demo: the whole pipeline on a workspace, compressed into under a minute.

It copies nothing and changes nothing of the workspace: it uses its own SQLite database and
outbox in a fresh folder. It syncs and plans the calendar for real (targeting, templates,
checks, review, timing) and writes the HTML calendar of that plan (``html/index.html``),
then compresses time: every scheduled variant keeps its order but is moved into the next
few seconds. Then it runs the real daemon until every demo variant has gone out through the
outbox (manual accounts) or the log publisher (API accounts).

    result = run_demo(Path("."), Path("/tmp/amplifier-demo"))
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from amplifier.dispatch import DispatchReport
from amplifier.exports.html import export_html
from amplifier.models import VARIANTS, utcnow
from amplifier.schedule import Daemon
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace

V = VARIANTS
FINAL = (
    VariantStatus.PUBLISHED,
    VariantStatus.FAILED,
    VariantStatus.MISSED,
    VariantStatus.UNCERTAIN,
    VariantStatus.CANCELLED,
)


@dataclass
class DemoResult:
    folder: Path
    database_url: str
    outbox: Path
    planned: dict[str, Any]
    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    lateness: list[float] = field(default_factory=list)
    seconds: float = 0.0
    jobs: dict[str, Any] = field(default_factory=dict)
    calendar: Path | None = None  # the HTML calendar of the plan, before it was compressed

    def as_dict(self) -> dict[str, Any]:
        late = sorted(self.lateness)
        return {
            "folder": str(self.folder),
            "database_url": self.database_url,
            "outbox": str(self.outbox),
            "calendar": str(self.calendar) if self.calendar else None,
            "planned": self.planned,
            "statuses": dict(self.statuses),
            "outcomes": dict(self.outcomes),
            "lateness_seconds": {
                "median": round(statistics.median(late), 3) if late else None,
                "p99": round(late[int(0.99 * (len(late) - 1))], 3) if late else None,
            },
            "seconds": round(self.seconds, 1),
            "scheduler_jobs": self.jobs,
        }


def run_demo(
    root: Path,
    folder: Path | None = None,
    *,
    spread: float = 10.0,
    lead: float = 3.0,
    timeout: float = 50.0,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Plan the workspace's calendar into a fresh database, compress it into the next
    ``lead``..``lead + spread`` seconds, and publish it with the real daemon."""
    started = time.monotonic()
    say = progress or (lambda _msg: None)
    folder = folder or Path(tempfile.mkdtemp(prefix="amplifier-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'demo.db'}"
    ws = Workspace.open(root, database_url=url)
    outbox = folder / "outbox"
    settings = ws.settings.model_copy(
        update={
            "publishing": ws.settings.publishing.model_copy(
                update={
                    "sweep_seconds": 1,
                    "publishers": {
                        **ws.settings.publishing.publishers,
                        "outbox": {"dir": str(outbox)},
                    },
                }
            )
        }
    )
    ws.settings = settings
    say("syncing the workspace into a fresh database")
    ws.sync()
    say("planning: targeting, templates, checks, review, timing")
    summary = ws.plan()
    planned = {"variants": summary.targets, "by_status": dict(summary.by_status)}
    calendar = export_html(ws, folder / "html").index
    say(f"HTML calendar of the plan: {calendar}")
    count = compress(ws, utcnow() + dt.timedelta(seconds=lead), spread)
    say(f"compressed {count} scheduled variants into the next {lead + spread:.0f} seconds")

    result = DemoResult(folder, url, outbox, planned, calendar=calendar)
    reports: list[DispatchReport] = []
    done = threading.Event()
    daemon = Daemon(ws, on_dispatch=reports.append, digests=False)
    daemon.start()
    say("the daemon is running (APScheduler, sweeper every second)")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done.is_set():
            if _remaining(ws) == 0:
                done.set()
                break
            time.sleep(0.5)
        result.jobs = daemon.job_counts()
    finally:
        daemon.stop()
        daemon.shutdown()
    for report in reports:
        result.outcomes.update(report.outcomes)
        result.lateness.extend(report.lateness)
    with ws.engine.connect() as conn:
        result.statuses.update(
            {
                str(s): n
                for s, n in conn.execute(
                    sa.select(V.c.status, sa.func.count()).group_by(V.c.status)
                )
            }
        )
    ws.engine.dispose()
    result.seconds = time.monotonic() - started
    return result


def compress(ws: Workspace, start: dt.datetime, spread: float) -> int:
    """Move every scheduled variant into ``start``..``start + spread`` seconds, in order."""
    with ws.engine.begin() as conn:
        rows = conn.execute(
            sa.select(V.c.id)
            .where(V.c.status == VariantStatus.SCHEDULED)
            .order_by(V.c.publish_at, V.c.id)
        ).all()
        if not rows:
            return 0
        step = spread / max(len(rows) - 1, 1)
        updates = [
            {
                "_id": r.id,
                "publish_at": start + dt.timedelta(seconds=i * step),
                "due_at": start + dt.timedelta(seconds=i * step),
            }
            for i, r in enumerate(rows)
        ]
        conn.execute(sa.update(V).where(V.c.id == sa.bindparam("_id")), updates)
    return len(rows)


def _remaining(ws: Workspace) -> int:
    with ws.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    V.c.status.in_([VariantStatus.SCHEDULED, VariantStatus.PUBLISHING])
                )
            ).scalar_one()
        )
