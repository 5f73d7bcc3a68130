"""Engines, sessions and schema migrations.

A new, empty database is created at the current schema. An existing database is never
altered silently: if its schema is behind, ``SchemaOutOfDate`` says to run
``amplifier db upgrade`` (``upgrade(engine)`` in Python).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from amplifier.errors import DatabaseError, SchemaOutOfDate

ENV_URL = "AMPLIFIER_DATABASE_URL"
MIGRATIONS = Path(__file__).with_name("migrations")
#: the newest migration; a test checks it against Alembic's script directory. Kept here so
#: the everyday check (is the schema current?) does not import Alembic (~0.6 s).
HEAD = "0005"


def resolve_url(url: str, root: Path, *, explicit: bool = False) -> str:
    """Make a relative SQLite path relative to the workspace ``root``.

    Precedence: an ``explicit`` URL (``--database-url``), then ``AMPLIFIER_DATABASE_URL``,
    then ``url`` from the settings.
    """
    if not explicit:
        url = os.environ.get(ENV_URL) or url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = (root / path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        parsed = parsed.set(database=str(path))
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    engine = sa.create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _config(connection: sa.Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return HEAD


def _scripts() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; return (before, after)."""
    from alembic import command

    before = current_revision(engine)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "head")
    return before, head_revision()


def ensure_schema(engine: Engine) -> None:
    """Create a brand-new database; refuse to use one whose schema is not current."""
    try:
        current = current_revision(engine)
    except sa.exc.OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"cannot open the database at {where}: {exc.orig}") from exc
    head = head_revision()
    if current == head:
        return
    if current is None:
        tables = sa.inspect(engine).get_table_names()
        if tables:
            raise DatabaseError(
                f"the database at {engine.url.render_as_string()} has tables "
                f"({', '.join(sorted(tables)[:5])}) but no amplifier schema version; "
                "point amplifier at an empty database"
            )
        upgrade(engine)
        return
    known = {rev.revision for rev in _scripts().walk_revisions()}
    if current not in known:
        raise SchemaOutOfDate(
            f"the database schema is at revision {current}, which this version of amplifier "
            "does not know (it was written by a newer amplifier); upgrade amplifier"
        )
    raise SchemaOutOfDate(
        f"the database schema is at revision {current} but this amplifier needs {head}; "
        "back it up, then run `amplifier db upgrade`"
    )


def update_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET … WHERE id = :_id`` for many rows.

    Rows that set the very same values (a dispatch batch that was all published, say) are
    one ``UPDATE … WHERE id IN (…)``; the others go as one executemany per set of columns.
    """
    same: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = _values_key(row)
        if key is None:
            by_columns.setdefault(tuple(sorted(row)), []).append(row)
        else:
            same.setdefault(key, []).append(row)
    for group in same.values():
        if len(group) == 1:
            by_columns.setdefault(tuple(sorted(group[0])), []).append(group[0])
            continue
        values = {k: v for k, v in group[0].items() if k != "_id"}
        ids = [row["_id"] for row in group]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.execute(sa.update(table).where(table.c.id.in_(chunk)).values(values))
    for batch in by_columns.values():
        conn.execute(sa.update(table).where(table.c.id == sa.bindparam("_id")), batch)


def _values_key(row: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a row sets, as a key: equal keys mean equal values (None if not hashable)."""
    key = tuple(
        (name, type(value), repr(value) if isinstance(value, list | dict) else value)
        for name, value in sorted(row.items())
        if name != "_id"
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def json_text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A JSON column read as its stored text, so that a reader parses only what it needs
    (``json_list``): most rows of a re-plan hold ``[]``."""
    return sa.cast(column, sa.Text)


def json_list(text: str | None) -> list[Any]:
    """A JSON list column read with ``json_text``; NULL and ``[]`` without parsing."""
    if text is None or text == "[]":
        return []
    value = json.loads(text)
    return value if isinstance(value, list) else []
