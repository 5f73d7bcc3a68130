"""Digest: each morning, every unit admin gets what is scheduled for their accounts today.

At ``digest_at`` (07:00) in each unit zone, the daemon that first records the (zone, day)
in ``digest_run`` sends the digests of that zone's units — so with several daemons each
digest still goes out once. Manual accounts' items carry the ready-to-copy text. A digest
goes to the unit's admins through the unit's publisher channel (``Publisher.send_digest``):
the ``manual`` publisher when the unit posts any of that day's items by hand (the outbox
writes it beside them), else the ``api`` publisher (the webhook POSTs it; the log logs it).
A digest that cannot be sent is logged as an error, with the unit; the others still go.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from amplifier.models import (
    ACCOUNTS,
    ADMIN_LINKS,
    ADMINS,
    DIGEST_RUNS,
    UNITS,
    VARIANTS,
    utcnow,
)
from amplifier.vocab import AccountMode, ReviewState, VariantStatus

if TYPE_CHECKING:
    from amplifier.dispatch import Dispatcher
    from amplifier.workspace import Workspace

log = logging.getLogger("amplifier.digest")


@dataclass
class DigestItem:
    variant_id: int
    account: str
    mode: str
    local_time: str
    text: str | None  # ready to copy, for manual accounts


@dataclass
class Digest:
    unit_code: str
    unit_name: str
    day: dt.date
    zone: str
    admins: list[str] = field(default_factory=list)  # admin emails (or names)
    items: list[DigestItem] = field(default_factory=list)

    @property
    def manual(self) -> bool:
        """Whether any of the day's items is posted by hand."""
        return any(item.mode == AccountMode.MANUAL for item in self.items)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields, and the text."""
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["text"] = self.as_text()
        return data

    def as_text(self) -> str:
        head = f"Jadwal {self.unit_name} ({self.unit_code}) {self.day.isoformat()}"
        lines = [head, "=" * len(head)]
        for item in self.items:
            lines.append(f"{item.local_time}  {item.account}  ({item.mode})")
            if item.text:
                lines += ["", item.text, ""]
        return "\n".join(lines) + "\n"


def build_digests(ws: Workspace, zone: str, day: dt.date) -> list[Digest]:
    """The digests of every active unit in ``zone`` for the local ``day``."""
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
    end = start + dt.timedelta(days=1)
    V, A, U = VARIANTS, ACCOUNTS, UNITS
    L, M = ADMIN_LINKS, ADMINS
    digests: dict[int, Digest] = {}
    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                V.c.id,
                V.c.text,
                V.c.publish_at,
                A.c.platform,
                A.c.handle,
                A.c.mode,
                U.c.id.label("unit_id"),
                U.c.code,
                U.c.name,
            )
            .join(A, A.c.id == V.c.account_id)
            .join(U, U.c.id == V.c.unit_id)
            .where(
                U.c.timezone == zone,
                U.c.active,
                V.c.status == VariantStatus.SCHEDULED,
                V.c.review == ReviewState.APPROVED,
                V.c.publish_at >= start,
                V.c.publish_at < end,
            )
            .order_by(U.c.code, V.c.publish_at, V.c.id)
        ).all()
        for r in rows:
            digest = digests.setdefault(r.unit_id, Digest(r.code, r.name, day, zone))
            manual = str(r.mode) == AccountMode.MANUAL
            digest.items.append(
                DigestItem(
                    r.id,
                    f"{r.platform}:@{r.handle}",
                    str(r.mode),
                    r.publish_at.astimezone(tz).strftime("%H.%M"),
                    r.text if manual else None,
                )
            )
        if digests:
            admins = conn.execute(
                sa.select(L.c.unit_id, A.c.unit_id.label("account_unit"), M.c.email, M.c.name)
                .join(M, M.c.id == L.c.admin_id)
                .outerjoin(A, A.c.id == L.c.account_id)
                .where(L.c.active, M.c.active)
            ).all()
            for a in admins:
                unit_id = a.unit_id if a.unit_id is not None else a.account_unit
                if unit_id in digests:
                    who = a.email or a.name
                    if who not in digests[unit_id].admins:
                        digests[unit_id].admins.append(who)
    return list(digests.values())


def send_digests(
    ws: Workspace, zone: str, dispatcher: Dispatcher, worker: str, now: dt.datetime | None = None
) -> int:
    """Send today's digests for ``zone`` once across all daemons; return how many went out."""
    now = now or utcnow()
    day = now.astimezone(ZoneInfo(zone)).date()
    runs = DIGEST_RUNS
    try:
        with ws.engine.begin() as conn:
            conn.execute(sa.insert(runs).values(zone=zone, day=day, worker=worker, sent_at=now))
    except sa.exc.IntegrityError:
        log.info("digest %s %s already sent by another daemon", zone, day)
        return 0
    sent = 0
    for digest in build_digests(ws, zone, day):
        settings = dispatcher.settings
        name = settings.manual if digest.manual else settings.api
        try:
            dispatcher.publisher(name).send_digest(digest)
        except Exception as exc:  # one unit's channel failing must not stop the others
            log.error("digest for %s on %s through %s failed: %s", digest.unit_code, day, name, exc)
            continue
        sent += 1
    with ws.engine.begin() as conn:
        conn.execute(
            sa.update(runs).where(runs.c.zone == zone, runs.c.day == day).values(items=sent)
        )
    return sent
