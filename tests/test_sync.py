"""sync: idempotent, applies edits, deactivates what was removed; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from amplifier import database
from amplifier.errors import DatabaseError, SchemaOutOfDate
from amplifier.workspace import Workspace
from tests.conftest import MINIMAL_ORG, REPO, WorkspaceFactory


def dump(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every amplifier table, ordered by id."""
    out = {}
    with ws.engine.connect() as conn:
        for name, table in SQLModel.metadata.tables.items():
            out[name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]
    return out


def test_example_workspace_syncs_twice_to_identical_content(database_url: str) -> None:
    ws = Workspace.open(REPO, database_url=database_url)
    first = ws.sync()
    assert first.tables["units"].created >= 40
    assert first.tables["accounts"].created > 0
    before = dump(ws)
    second = ws.sync()
    assert not second.changed, second.summary()
    assert dump(ws) == before


def test_edits_apply_and_removals_deactivate(
    make_workspace: WorkspaceFactory, database_url: str
) -> None:
    root = make_workspace()
    ws = Workspace.open(root, database_url=database_url)
    ws.sync()
    ids = {u.code: u.id for n in ws.unit_tree() for u in n.walk()}

    edited = MINIMAL_ORG.replace("Kantor Wilayah Bali", "Kanwil Provinsi Bali")
    edited = edited.replace(
        "      - platform: instagram\n        handle: kptd.kanwil.bali\n", "      []\n"
    ).replace("    accounts:\n      []\n", "")
    make_workspace(org=edited, root=root)
    report = ws.sync()
    assert report.tables["units"].updated == 1
    assert report.tables["accounts"].deactivated == 1

    tree = ws.unit_tree()
    bali = tree[0].children[0]
    assert bali.name == "Kanwil Provinsi Bali" and bali.accounts == []
    assert {u.code: u.id for n in tree for u in n.walk()} == ids  # same ids
    every = ws.unit_tree(include_inactive=True)[0].children[0]
    assert [(a.handle, a.active) for a in every.accounts] == [("kptd.kanwil.bali", False)]

    # removing the unit deactivates it (and keeps the row)
    without = MINIMAL_ORG.split("  - code: KANWIL-BALI")[0] + MINIMAL_ORG.split("admins:")[1].join(
        ["admins:", ""]
    )
    without = without.replace("units: [PUSAT, KANWIL-BALI]", "units: [PUSAT]")
    make_workspace(org=without, root=root)
    report = ws.sync()
    assert report.tables["units"].deactivated == 1
    assert [n.code for n in ws.unit_tree()] == ["PUSAT"]
    assert [c.active for c in ws.unit_tree(include_inactive=True)[0].children] == [False]

    # and putting it back reactivates the same row
    make_workspace(org=MINIMAL_ORG, root=root)
    ws.sync()
    assert {u.code: u.id for n in ws.unit_tree() for u in n.walk()} == ids


def test_dry_run_writes_nothing(make_workspace: WorkspaceFactory, database_url: str) -> None:
    ws = Workspace.open(make_workspace(), database_url=database_url)
    report = ws.sync(dry_run=True)
    assert report.tables["units"].created == 2
    assert ws.unit_tree() == []


def test_old_schema_is_refused_not_altered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = database.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0000')"))
    with pytest.raises(SchemaOutOfDate, match="does not know"):
        database.ensure_schema(engine)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["alembic_version"]


def test_foreign_tables_are_refused(tmp_path: Path) -> None:
    engine = database.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE something (id INTEGER)"))
    with pytest.raises(DatabaseError, match="no amplifier schema version"):
        database.ensure_schema(engine)


def test_relative_sqlite_url_is_inside_the_workspace(
    make_workspace: WorkspaceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(database.ENV_URL, raising=False)
    root = make_workspace()
    ws = Workspace.open(root)
    assert ws.database_url == f"sqlite:///{root.resolve() / '.amplifier' / 'amplifier.db'}"
    monkeypatch.setenv(database.ENV_URL, "sqlite:///elsewhere.db")
    assert Workspace.open(root).database_url == f"sqlite:///{root.resolve() / 'elsewhere.db'}"


def test_timestamps_come_back_aware_utc(
    make_workspace: WorkspaceFactory, database_url: str
) -> None:
    cal = """\
    campaigns:
      - slug: c
        title: C
        period: {start: 2027-06-01, end: 2027-06-30}
        posts:
          - key: p
            at: 2027-06-23T09:00:00+09:00
            body: Halo.
    """
    ws = Workspace.open(make_workspace(calendars={"c.yaml": cal}), database_url=database_url)
    ws.sync()
    from sqlmodel import select

    from amplifier.models import CentralPost

    with ws.session() as s:
        post = s.exec(select(CentralPost)).one()
    assert post.central_at.utcoffset() is not None
    assert post.central_at.isoformat() == "2027-06-23T00:00:00+00:00"


def test_head_constant_matches_the_migrations() -> None:
    assert database._scripts().get_current_head() == database.HEAD


def test_recurring_post_expands_within_the_horizon(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    import datetime as dt

    from amplifier.load import load_workspace
    from amplifier.sync import sync_workspace

    cal = """\
    campaigns:
      - slug: pengingat
        title: Pengingat mingguan
        period: {start: 2027-01-01, end: 2027-03-31}
        posts:
          - key: senin
            at: 2027-01-04T09:00:00+07:00
            body: Pengingat setiap Senin.
            timing: {recurrence: "FREQ=WEEKLY;BYDAY=MO"}
    """
    root = make_workspace(calendars={"p.yaml": cal}, settings='[timing]\nhorizon = "21d"\n')
    ws = Workspace.open(root, database_url=f"sqlite:///{tmp_path / 'r.db'}")
    now = dt.datetime(2027, 1, 3, tzinfo=dt.UTC)
    report = sync_workspace(ws.engine, load_workspace(root), now=now)
    assert report.tables["posts"].created == 3  # Jan 4, 11, 18 (< Jan 24)
    from sqlmodel import select

    from amplifier.models import CentralPost

    with ws.session() as s:
        keys = sorted(p.key for p in s.exec(select(CentralPost)).all())
    assert keys == ["senin-20270104-0900", "senin-20270111-0900", "senin-20270118-0900"]
