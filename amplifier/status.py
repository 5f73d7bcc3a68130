"""Status and hands-on operations: what is due, running, late, failed, missed, uncertain;
retry or cancel one variant.

    print(status(ws))
    retry_variant(ws, 42)      # failed / missed / uncertain -> scheduled now
    cancel_variant(ws, 43)
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from amplifier.errors import InvalidOperation, NotFound
from amplifier.models import VARIANTS, utcnow
from amplifier.plan import HAND_CANCELLED
from amplifier.vocab import ReviewState, VariantStatus

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

V = VARIANTS
RETRYABLE = (VariantStatus.FAILED, VariantStatus.MISSED, VariantStatus.UNCERTAIN)
CANCELLABLE = (
    VariantStatus.PENDING,
    VariantStatus.SCHEDULED,
    VariantStatus.UNSCHEDULED,
    VariantStatus.HELD,
    VariantStatus.FAILED,
    VariantStatus.MISSED,
    VariantStatus.UNCERTAIN,
)


def status(ws: Workspace, now: dt.datetime | None = None) -> dict[str, Any]:
    """Counts by status, plus due (scheduled, time reached), late (due a minute ago or more)
    and the next publish time."""
    now = now or utcnow()
    with ws.engine.connect() as conn:
        by_status = {
            str(s): n
            for s, n in conn.execute(sa.select(V.c.status, sa.func.count()).group_by(V.c.status))
        }
        scheduled = (V.c.status == VariantStatus.SCHEDULED) & (V.c.review == ReviewState.APPROVED)
        due = conn.execute(
            sa.select(sa.func.count()).where(scheduled, V.c.due_at <= now)
        ).scalar_one()
        late = conn.execute(
            sa.select(sa.func.count()).where(scheduled, V.c.due_at <= now - dt.timedelta(minutes=1))
        ).scalar_one()
        upcoming = conn.execute(
            sa.select(sa.func.min(V.c.due_at)).where(scheduled, V.c.due_at > now)
        ).scalar_one()
    return {
        "due": due,
        "running": by_status.get(VariantStatus.PUBLISHING, 0),
        "late": late,
        "failed": by_status.get(VariantStatus.FAILED, 0),
        "missed": by_status.get(VariantStatus.MISSED, 0),
        "uncertain": by_status.get(VariantStatus.UNCERTAIN, 0),
        "next": upcoming.isoformat() if upcoming else None,
        "by_status": by_status,
    }


def _get(ws: Workspace, variant_id: int) -> Any:
    with ws.engine.connect() as conn:
        row = conn.execute(sa.select(V).where(V.c.id == variant_id)).first()
    if row is None:
        raise NotFound(f"no variant {variant_id}")
    return row


def retry_variant(ws: Workspace, variant_id: int, *, now: dt.datetime | None = None) -> None:
    """Send a failed, missed or uncertain variant again, now (it keeps its idempotency key)."""
    now = now or utcnow()
    row = _get(ws, variant_id)
    if row.status not in RETRYABLE:
        raise InvalidOperation(
            f"variant {variant_id} is {row.status}; only failed, missed or uncertain ones retry"
        )
    if row.review != ReviewState.APPROVED:
        raise InvalidOperation(f"variant {variant_id} is not approved (review: {row.review})")
    with ws.engine.begin() as conn:
        conn.execute(
            sa.update(V)
            .where(V.c.id == variant_id, V.c.status == row.status)
            .values(
                status=VariantStatus.SCHEDULED,
                due_at=now,
                publish_at=row.publish_at or now,
                reasons=[*row.reasons, f"retried by hand at {now:%Y-%m-%d %H:%M} UTC"],
                updated_at=now,
            )
        )


def cancel_variant(ws: Workspace, variant_id: int, *, now: dt.datetime | None = None) -> None:
    """Cancel a variant that has not gone out (it stays on record)."""
    now = now or utcnow()
    row = _get(ws, variant_id)
    if row.status not in CANCELLABLE:
        raise InvalidOperation(f"variant {variant_id} is {row.status} and cannot be cancelled")
    with ws.engine.begin() as conn:
        conn.execute(
            sa.update(V)
            .where(V.c.id == variant_id, V.c.status == row.status)
            .values(
                status=VariantStatus.CANCELLED,
                due_at=None,
                reasons=[f"{HAND_CANCELLED} at {now:%Y-%m-%d %H:%M} UTC"],
                updated_at=now,
            )
        )
