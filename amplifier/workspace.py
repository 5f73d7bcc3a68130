"""The workspace: a folder of files plus the database they are synced into.

import amplifier
ws = amplifier.open_workspace("path/to/workspace")
report = ws.sync()
for node in ws.unit_tree():
    print(node.code, node.timezone, [a.handle for a in node.accounts])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from amplifier import database
from amplifier.errors import WorkspaceError
from amplifier.load import LoadedWorkspace, load_settings, load_workspace
from amplifier.load.schema import Settings
from amplifier.models import Account, Variant, WorkUnit
from amplifier.targeting import Directory, Target, select_targets

if TYPE_CHECKING:
    from amplifier.plan import PlanSummary, Preview
from amplifier.sync import SyncReport, sync_workspace


@dataclass
class AccountInfo:
    platform: str
    handle: str
    mode: str
    active: bool
    url: str | None = None


@dataclass
class UnitNode:
    id: int
    code: str
    name: str
    kind: str
    timezone: str
    region: str | None
    city: str | None
    active: bool
    accounts: list[AccountInfo] = field(default_factory=list)
    children: list[UnitNode] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "timezone": self.timezone,
            "region": self.region,
            "city": self.city,
            "active": self.active,
            "accounts": [vars(a) for a in self.accounts],
            "children": [c.as_dict() for c in self.children],
        }

    def walk(self) -> list[UnitNode]:
        out = [self]
        for child in self.children:
            out += child.walk()
        return out


class Workspace:
    """A workspace folder and its database. Cheap to open; files load on first use."""

    def __init__(self, root: Path, settings: Settings, database_url: str | None = None) -> None:
        self.root = root
        self.settings = settings
        self.database_url = database.resolve_url(
            database_url or settings.database.url, root, explicit=database_url is not None
        )

    @classmethod
    def open(cls, root: str | Path = ".", *, database_url: str | None = None) -> Workspace:
        root = Path(root).resolve()
        settings, problems = load_settings(root)
        if problems or settings is None:
            load_workspace(root)  # raises with every problem in every file
            raise WorkspaceError(problems, root)
        return cls(root, settings, database_url)

    @cached_property
    def files(self) -> LoadedWorkspace:
        """The validated workspace files (raises ``WorkspaceError`` listing every problem)."""
        return load_workspace(self.root)

    def reload(self) -> LoadedWorkspace:
        self.__dict__.pop("files", None)
        return self.files

    @cached_property
    def engine(self) -> Engine:
        engine = database.create_engine(self.database_url)
        database.ensure_schema(engine)
        return engine

    def session(self) -> Session:
        return database.session(self.engine)

    def sync(self, *, dry_run: bool = False) -> SyncReport:
        """Import the workspace files into the database (idempotent)."""
        files = self.reload()  # validate first: bad files must not even create a database
        return sync_workspace(self.engine, files, dry_run=dry_run)

    def plan(
        self,
        *,
        campaign: str | None = None,
        post: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        full: bool = False,
    ) -> PlanSummary:
        """Render and check every targeted variant and upsert them (see ``amplifier.plan``).
        ``full``: compare every stored variant even when the plan state says nothing
        changed since the last plan (``amplifier.plan_state``)."""
        from amplifier.plan import Planner

        return Planner(self, full=full).run(campaign=campaign, post=post, progress=progress)

    def targets(self, post: str) -> list[Target]:
        """Who receives a post (``campaign/post-key`` or a unique ``post-key``), and why."""
        from amplifier.plan import find_post

        with self.session() as s:
            camp, cpost = find_post(s, post)
            directory = Directory.from_rows(
                s.exec(select(WorkUnit)).all(), s.exec(select(Account)).all()
            )
        return select_targets(directory, camp.targets, cpost.targets)

    def preview(self, unit: str, post: str, platform: str | None = None) -> list[Preview]:
        """Render a post for one unit's accounts, writing nothing."""
        from amplifier.plan import preview_variants

        return preview_variants(self, unit, post, platform)

    def variants(self, **filters: Any) -> list[Variant]:
        """Variants in the database; filter by column equality, e.g. ``status="pending"``."""
        with self.session() as s:
            query = select(Variant).order_by(col(Variant.id))
            for name, value in filters.items():
                query = query.where(getattr(Variant, name) == value)
            return list(s.exec(query).all())

    def unit_tree(self, *, include_inactive: bool = False) -> list[UnitNode]:
        """The unit tree as stored in the database, roots first, children by code."""
        with self.session() as s:
            unit_q = select(WorkUnit).order_by(sa.asc(WorkUnit.code))
            account_q = select(Account).order_by(Account.platform, Account.handle)
            if not include_inactive:
                unit_q = unit_q.where(WorkUnit.active == sa.true())
                account_q = account_q.where(Account.active == sa.true())
            units = s.exec(unit_q).all()
            accounts = s.exec(account_q).all()
        nodes = {
            u.id: UnitNode(
                u.id or 0, u.code, u.name, u.kind, u.timezone, u.region, u.city, u.active
            )
            for u in units
        }
        for a in accounts:
            if a.unit_id in nodes:
                nodes[a.unit_id].accounts.append(
                    AccountInfo(a.platform, a.handle, a.mode, a.active, a.url)
                )
        roots = []
        for u in units:
            if u.parent_id in nodes:
                nodes[u.parent_id].children.append(nodes[u.id])
            else:
                roots.append(nodes[u.id])
        return roots


def open_workspace(root: str | Path = ".", *, database_url: str | None = None) -> Workspace:
    """Open the workspace folder at ``root`` (settings are read now, other files on use)."""
    return Workspace.open(root, database_url=database_url)
