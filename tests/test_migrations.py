"""Schema migrations: the migrated schema is the models', and 0006 and 0008 drop the
indexes of delivery.variant_id and variant.post_id, which the unique (variant_id,
attempt) and (post_id, account_id) indexes already serve."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from amplifier import database
from amplifier.models import ACCOUNTS, CAMPAIGNS, DELIVERIES, POSTS, UNITS, VARIANTS

REDUNDANT = {"delivery": "ix_delivery_variant_id", "variant": "ix_variant_post_id"}
T0 = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)


def _indexes(conn: sa.Connection, table: str) -> dict[str, list[str | None]]:
    """Every index of the table, the unique constraints' too, by name: its columns."""
    inspector = sa.inspect(conn)
    out = {i["name"] or "": list(i["column_names"]) for i in inspector.get_indexes(table)}
    for u in inspector.get_unique_constraints(table):
        out.setdefault(u["name"] or f"unique{u['column_names']}", list(u["column_names"]))
    return out


def _rows(conn: sa.Connection) -> None:
    conn.execute(sa.insert(UNITS).values(code="u", name="U", kind="central", timezone="UTC"))
    conn.execute(sa.insert(ACCOUNTS).values(unit_id=1, platform="x", handle="h", handle_key="h"))
    conn.execute(
        sa.insert(CAMPAIGNS).values(
            slug="c", title="C", period_start=T0.date(), period_end=T0.date()
        )
    )
    conn.execute(sa.insert(POSTS).values(campaign_id=1, key="p", central_at=T0, body="Isi"))
    conn.execute(
        sa.insert(VARIANTS).values(
            post_id=1, account_id=1, unit_id=1, idempotency_key="k", updated_at=T0
        )
    )
    conn.execute(
        sa.insert(DELIVERIES).values(variant_id=1, attempt=1, publisher="log", started_at=T0)
    )


def test_the_migrated_schema_is_the_models(database_url: str) -> None:
    engine = database.create_engine(database_url)
    database.ensure_schema(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
        for table, name in REDUNDANT.items():
            assert name not in _indexes(conn, table)
    engine.dispose()


def test_0006_and_0008_drop_the_redundant_indexes_and_keep_the_rows(database_url: str) -> None:
    engine = database.create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(database._config(conn), "0005")
    with engine.begin() as conn:
        _rows(conn)
        for table, name in REDUNDANT.items():
            assert name in _indexes(conn, table)
    assert database.upgrade(engine) == ("0005", database.HEAD)  # through 0006 to 0008
    with engine.connect() as conn:
        variant, delivery = _indexes(conn, "variant"), _indexes(conn, "delivery")
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in (
                VARIANTS,
                DELIVERIES,
            )
        ]
    assert "ix_delivery_variant_id" not in delivery and "ix_variant_post_id" not in variant
    # what is left to find a variant's deliveries, and a post's variants
    assert ["variant_id", "attempt"] in delivery.values()
    assert ["post_id", "account_id"] in variant.values()
    assert counts == [1, 1]
    with engine.begin() as conn:
        command.downgrade(database._config(conn), "0005")
    with engine.connect() as conn:
        for table, name in REDUNDANT.items():
            assert name in _indexes(conn, table)
    engine.dispose()


def test_sqlite_finds_by_post_and_by_variant_through_an_index(
    tmp_path: Path,
) -> None:
    engine = database.create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    database.ensure_schema(engine)
    ids = ", ".join(str(i) for i in range(1, 21))
    # each query and the column its index must lead with
    queries = {
        f"SELECT id, account_id FROM variant WHERE post_id IN ({ids})": "post_id",
        f"SELECT status, count(*) FROM variant WHERE post_id IN ({ids}) GROUP BY status": (
            "post_id"
        ),
        "SELECT * FROM delivery WHERE variant_id = 5": "variant_id",
        "SELECT max(attempt) FROM delivery WHERE variant_id = 5": "variant_id",
    }
    with engine.connect() as conn:
        for query, leading in queries.items():
            plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
            found = re.match(r"SEARCH \w+ USING (?:COVERING )?INDEX (\w+) ", plan)
            assert found is not None, (query, plan)
            index = found.group(1)
            used = [r[2] for r in conn.exec_driver_sql(f"PRAGMA index_info({index})")]
            assert used[0] == leading, (query, plan)
    engine.dispose()
