"""The plan state: what the last plan of a scope read, so that a re-plan of unchanged input
can tell it is one without reading or comparing a single variant.

A plan's *stamp* is the digest of everything it reads — the settings, the templates, the
lexicons, the units and accounts, the campaigns and posts, the timing input (calendars,
quiet periods, blackouts) — and of the count of statements that ever wrote the variant
table (``database.variant_writes``). At the end of a plan it is stored with the summary a
re-plan of unchanged input reports (``plan_state``). A plan whose stamp equals the stored
one has nothing to render, write or time: it reports that summary.

The count is kept on SQLite by every engine amplifier opens; a write to the variant table
made with another tool is not counted, and ``amplifier plan --full`` compares every
variant whatever the stamp says. On other databases no count is kept, and every plan
compares every variant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from amplifier.database import variant_writes
from amplifier.models import CAMPAIGNS, PLAN_STATES, POSTS, utcnow
from amplifier.timetable import TimingBase, timing_base

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

#: a plan that lists more findings than this stores no state (its summary would be large)
MAX_STORED_FINDINGS = 10_000


@dataclass(frozen=True)
class PlanStamp:
    """What a plan read before it started (``plan_stamp``)."""

    scope: str  # digest of the plan's filters
    inputs: str  # digest of everything it reads but the variant table
    post_ids: tuple[int, ...]  # the posts of its scope, sorted
    base: TimingBase  # the timing input but the variants' states
    #: the stored summary of a re-plan, when the stored stamp is this one: nothing changed
    unchanged: dict[str, Any] | None

    def digest(self, writes: int) -> str:
        return _digest(self.inputs, str(writes))


def plan_stamp(
    ws: Workspace,
    conn: sa.Connection,
    campaign: str | None,
    post: str | None,
    now: dt.datetime,
    extra: Sequence[str],
) -> PlanStamp | None:
    """The stamp of a plan of ``campaign``/``post`` (``extra``: the planner's own inputs:
    settings, templates, versions). None when the plan cannot have one: no count of variant
    writes is kept here, or its timing depends on ``now`` (``timetable.timing_input``)."""
    writes = variant_writes(conn)
    if writes is None:
        return None
    query = sa.select(POSTS.c.id).join(CAMPAIGNS, CAMPAIGNS.c.id == POSTS.c.campaign_id)
    if campaign:
        query = query.where(CAMPAIGNS.c.slug == campaign)
    if post:
        query = query.where(POSTS.c.key == post)
    post_ids = sorted(conn.execute(query).scalars())
    base = timing_base(ws, conn, post_ids, now)
    if base is None:
        return None
    rows = []
    for table in (CAMPAIGNS, POSTS):  # every column, as the driver hands it over
        raw = [sa.type_coerce(c, sa.String()) for c in table.c]
        rows.append(repr(conn.execute(sa.select(*raw).order_by(table.c.id)).all()))
    scope = _digest(repr((campaign or None, post or None)))
    inputs = _digest(scope, base.digest, *extra, *rows)
    stored = conn.execute(
        sa.select(PLAN_STATES.c.digest, PLAN_STATES.c.summary).where(PLAN_STATES.c.scope == scope)
    ).first()
    stamp = PlanStamp(scope, inputs, tuple(post_ids), base, None)
    if stored is not None and stored.digest == stamp.digest(writes):
        stamp = PlanStamp(scope, inputs, tuple(post_ids), base, dict(stored.summary))
    return stamp


def store_plan_state(
    conn: sa.Connection, stamp: PlanStamp, unchanged: dict[str, Any] | None
) -> None:
    """Record, inside the plan's transaction and after its last variant write, its stamp
    and the summary a re-plan of unchanged input reports (None: forget the scope's)."""
    T = PLAN_STATES
    writes = variant_writes(conn)
    digest = None if writes is None or unchanged is None else stamp.digest(writes)
    stored = conn.execute(
        sa.select(T.c.digest, T.c.summary).where(T.c.scope == stamp.scope)
    ).first()
    if stored is not None and digest is not None and tuple(stored) == (digest, unchanged):
        return  # the same: nothing to write
    conn.execute(sa.delete(T).where(T.c.scope == stamp.scope))
    if digest is not None:
        conn.execute(
            sa.insert(T).values(
                scope=stamp.scope, digest=digest, summary=unchanged, updated_at=utcnow()
            )
        )


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()
