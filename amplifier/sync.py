"""Sync: bring the database in line with the loaded workspace files.

Idempotent (a second run writes nothing), applies edits, and never deletes: a unit,
account, admin, campaign, post or blackout that disappeared from the files is deactivated,
so its history stays. Writes go through SQLAlchemy Core in bulk.

    report = sync_workspace(engine, load_workspace(root))
    print(report.summary())
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from amplifier.load import LoadedWorkspace
from amplifier.load.schema import CampaignSpec, PostSpec, Targets
from amplifier.models import (
    BLACKOUTS,
    Account,
    Admin,
    AdminLink,
    Blackout,
    Campaign,
    CentralPost,
    WorkUnit,
    utcnow,
)
from amplifier.timing.recurrence import expand

WORKSPACE_BLACKOUT_KIND = "custom"


@dataclass
class TableChanges:
    created: int = 0
    updated: int = 0
    deactivated: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.deactivated


@dataclass
class SyncReport:
    tables: dict[str, TableChanges] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(t.total for t in self.tables.values())

    def summary(self) -> str:
        parts = [
            f"{name}: +{t.created} ~{t.updated} -{t.deactivated}"
            for name, t in self.tables.items()
            if t.total
        ]
        return "; ".join(parts) if parts else "no changes"

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            name: {"created": t.created, "updated": t.updated, "deactivated": t.deactivated}
            for name, t in self.tables.items()
        }


def targets_dict(targets: Targets | None) -> dict[str, Any] | None:
    if targets is None:
        return None
    return targets.model_dump(mode="json", exclude_defaults=True)


def occurrences(
    campaign: CampaignSpec, post: PostSpec, ws: LoadedWorkspace, now: dt.datetime
) -> list[tuple[str, dt.datetime]]:
    """A post's dated occurrences: itself, or for a recurring post every occurrence from its
    first time up to the planning horizon (and the campaign's end), keyed ``key-YYYYMMDD-HHMM``
    in the institution's zone."""
    rule = post.timing.recurrence if post.timing else None
    if not rule:
        return [(post.key, post.at)]
    zone = ws.org.institution.timezone
    end_of_campaign = dt.datetime.combine(
        campaign.period.end + dt.timedelta(days=1), dt.time(0), ZoneInfo(zone)
    )
    horizon = min(now + ws.settings.timing.horizon_delta, end_of_campaign)
    out = []
    for at in expand(rule, post.at, horizon, zone):
        local = at.astimezone(ZoneInfo(zone))
        out.append((f"{post.key}-{local:%Y%m%d-%H%M}", at))
    return out


def sync_workspace(
    engine: Engine, ws: LoadedWorkspace, *, dry_run: bool = False, now: dt.datetime | None = None
) -> SyncReport:
    """Apply the files to the database; with ``dry_run`` compute the changes and roll back."""
    report = SyncReport()
    org = ws.org
    with engine.connect() as conn, conn.begin() as tx:
        unit_rows = [
            {
                "code": u.code,
                "name": u.name,
                "kind": u.kind,
                "region": u.region,
                "city": u.city,
                "timezone": u.timezone,
                "languages": list(u.languages),
                "tags": list(u.tags),
            }
            for u in org.units
        ]
        known_before = _ids(conn, WorkUnit, ("code",))
        report.tables["units"] = apply_rows(conn, WorkUnit, ("code",), unit_rows)
        unit_ids = _ids(conn, WorkUnit, ("code",))
        # Parents are linked in a second pass: a child may come before its parent in the file.
        parents = [
            {"code": u.code, "parent_id": unit_ids[(u.parent,)] if u.parent else None}
            for u in org.units
        ]
        moved = apply_rows(conn, WorkUnit, ("code",), parents, deactivate=False, count=known_before)
        report.tables["units"].updated += moved.updated

        account_rows = [
            {
                "platform": a.platform,
                "handle_key": a.handle.lower(),
                "handle": a.handle,
                "unit_id": unit_ids[(u.code,)],
                "url": a.url,
                "profile_photo": a.profile_photo,
                "mode": a.mode,
            }
            for u in org.units
            for a in u.accounts
        ]
        report.tables["accounts"] = apply_rows(
            conn, Account, ("platform", "handle_key"), account_rows
        )
        account_ids = _ids(conn, Account, ("platform", "handle_key"))

        admin_rows = [
            {
                "key": a.id,
                "name": a.name,
                "email": a.email,
                "phone": a.phone,
                "letter_number": a.letter.number,
                "letter_issued": a.letter.issued,
                "letter_valid_until": a.letter.valid_until,
            }
            for a in org.admins
        ]
        report.tables["admins"] = apply_rows(conn, Admin, ("key",), admin_rows)
        admin_ids = _ids(conn, Admin, ("key",))
        links = []
        for a in org.admins:
            admin_id = admin_ids[(a.id,)]
            links += [
                {"admin_id": admin_id, "unit_id": unit_ids[(code,)], "account_id": None}
                for code in a.units
            ]
            for ref in a.accounts:
                platform, _, handle = ref.partition(":")
                account_id = account_ids[(platform, handle)]
                links.append({"admin_id": admin_id, "unit_id": None, "account_id": account_id})
        report.tables["admin_links"] = apply_rows(
            conn, AdminLink, ("admin_id", "unit_id", "account_id"), links
        )

        campaign_rows = [
            {
                "slug": c.slug,
                "title": c.title,
                "goal": c.goal,
                "period_start": c.period.start,
                "period_end": c.period.end,
                "priority": c.priority,
                "key_messages": list(c.key_messages),
                "hashtags": list(c.hashtags),
                "links": list(c.links),
                "targets": targets_dict(c.targets),
                "review": c.review,
                "require": c.require.model_dump(exclude_defaults=True),
                "timing": c.timing.model_dump(exclude_none=True),
                "source": str(ws.sources.get(f"campaign:{c.slug}", "")) or None,
            }
            for c in ws.campaigns
        ]
        report.tables["campaigns"] = apply_rows(conn, Campaign, ("slug",), campaign_rows)
        campaign_ids = _ids(conn, Campaign, ("slug",))
        post_rows = [
            {
                "campaign_id": campaign_ids[(c.slug,)],
                "key": key,
                "central_at": at,
                "title": p.title,
                "body": p.body,
                "link": p.link,
                "media": list(p.media),
                "templates": list(p.templates),
                "targets": targets_dict(p.targets),
                "timing": p.timing.model_dump(exclude_none=True) if p.timing else {},
                "source": str(ws.source_of_post(c, p) or "") or None,
            }
            for c in ws.campaigns
            for p in c.posts
            for key, at in occurrences(c, p, ws, now or utcnow())
        ]
        report.tables["posts"] = apply_rows(conn, CentralPost, ("campaign_id", "key"), post_rows)

        blackout_rows = [
            {
                "key": b.key,
                "name": b.name,
                "kind": WORKSPACE_BLACKOUT_KIND,
                "starts_at": b.starts,
                "ends_at": b.ends,
                "scope": targets_dict(b.scope) or {},
                "campaigns": list(b.campaigns),
                "reason": b.reason,
            }
            for b in ws.blackouts
        ]
        report.tables["blackouts"] = apply_rows(
            conn,
            Blackout,
            ("key",),
            blackout_rows,
            only=BLACKOUTS.c.kind == WORKSPACE_BLACKOUT_KIND,
        )
        if dry_run:
            tx.rollback()
    return report


def _ids(conn: Connection, model: Any, key: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    table = model.__table__
    cols = [table.c[k] for k in key]
    return {
        tuple(_norm(v) for v in row[:-1]): row[-1]
        for row in conn.execute(sa.select(*cols, table.c.id))
    }


def _norm(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def apply_rows(
    conn: Connection,
    model: Any,
    key: tuple[str, ...],
    rows: Iterable[Mapping[str, Any]],
    *,
    deactivate: bool = True,
    only: sa.ColumnElement[bool] | None = None,
    count: Mapping[Any, Any] | None = None,
) -> TableChanges:
    """Insert new rows, update changed ones, deactivate missing ones; touch nothing else.

    ``only`` limits which existing rows this call owns (and so may deactivate);
    ``count`` limits which updated keys are counted as updates.
    """
    table = model.__table__
    changes = TableChanges()
    query = sa.select(table)
    if only is not None:
        query = query.where(only)

    def keyof(r: Mapping[str, Any]) -> Hashable:
        return tuple(_norm(r[k]) for k in key)

    existing = {keyof(row._mapping): row._mapping for row in conn.execute(query)}  # type: ignore[arg-type]
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[Hashable] = set()
    updated_keys: list[Hashable] = []
    has_active = "active" in table.c
    for row in rows:
        k = keyof(row)
        seen.add(k)
        old = existing.get(k)
        wanted = dict(row)
        if has_active and deactivate:
            wanted["active"] = True
        if old is None:
            inserts.append(wanted)
            continue
        diff = {c: v for c, v in wanted.items() if _norm(old[c]) != _norm(v)}
        if diff:
            updates.append({"_id": old["id"], **diff})
            updated_keys.append(k)
    if inserts:
        conn.execute(sa.insert(table), inserts)
        changes.created = len(inserts)
    for update in updates:  # few per run: edits are rare, each may touch other columns
        row_id = update.pop("_id")
        conn.execute(sa.update(table).where(table.c.id == row_id).values(**update))
    changes.updated = len(updates) if count is None else sum(1 for u in updated_keys if u in count)
    if deactivate and has_active:
        gone = [old["id"] for k, old in existing.items() if k not in seen and old["active"]]
        for start in range(0, len(gone), 500):
            chunk = gone[start : start + 500]
            conn.execute(sa.update(table).where(table.c.id.in_(chunk)).values(active=False))
        changes.deactivated = len(gone)
    return changes
