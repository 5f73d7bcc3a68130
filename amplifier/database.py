"""Engines, sessions and schema migrations.

A new, empty database is created at the current schema. An existing database is never
altered silently: if its schema is behind, ``SchemaOutOfDate`` says to run
``amplifier db upgrade`` (``upgrade(engine)`` in Python).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import json
import os
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from amplifier.errors import DatabaseError, SchemaOutOfDate

ENV_URL = "AMPLIFIER_DATABASE_URL"
MIGRATIONS = Path(__file__).with_name("migrations")
#: the newest migration; a test checks it against Alembic's script directory. Kept here so
#: the everyday check (is the schema current?) does not import Alembic (~0.6 s).
HEAD = "0008"


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
        sa.event.listen(engine, "before_cursor_execute", _count_variant_writes)
    return engine


#: a statement that writes the variant table (of the main database)
_VARIANT_WRITE = re.compile(
    r"\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)"
    r'\s+(?:"?main"?\s*\.\s*)?"?variant"?(?![\w".])',
    re.IGNORECASE,
)
_COUNT_VARIANT_WRITE = "UPDATE change_counter SET count = count + 1 WHERE name = 'variant'"


def _count_variant_writes(_conn: sa.Connection, cursor: Any, statement: str, *_args: Any) -> None:
    """Count a statement that writes the variant table in ``change_counter``, in the
    statement's own transaction: a plan's digest reads the count (``variant_writes``),
    so that a re-plan sees every write since the last plan through this engine. SQLite
    only (one writer at a time); on other databases no count is kept."""
    if _VARIANT_WRITE.match(statement) or (
        statement.lstrip()[:4].upper() == "WITH" and "variant" in statement.lower()
    ):  # (a statement behind a WITH is counted when it names the table at all)
        try:
            cursor.connection.execute(_COUNT_VARIANT_WRITE)
        except sqlite3.OperationalError as exc:  # pragma: no cover - a migration runs
            if "no such table" not in str(exc):
                raise


def variant_writes(conn: sa.Connection) -> int | None:
    """How many statements wrote the variant table, as counted on this database by every
    engine of ``create_engine``; None when no count is kept (not SQLite, or an engine
    that does not count)."""
    engine = conn.engine
    if not sa.event.contains(engine, "before_cursor_execute", _count_variant_writes):
        return None
    found = conn.exec_driver_sql(
        "SELECT count FROM change_counter WHERE name = 'variant'"
    ).scalar_one_or_none()
    return None if found is None else int(found)


#: what every SQLite connection is set to (the benchmark's plain-``sqlite3`` floor applies
#: the same list). ``page_size`` only counts for a new database (an existing one keeps its
#: own): 16 KiB pages hold about 15 variant rows of ~1 KiB, where 4 KiB ones hold 3, so a
#: plan writes a quarter of the pages. ``cache_size`` is negative KiB: a 64 MiB page
#: cache, so that a large plan's inserts find the variant table's index pages in memory.
SQLITE_PAGE_SIZE = 16 * 1024
SQLITE_CACHE_KIB = 64 * 1024
SQLITE_PRAGMAS = (
    f"page_size={SQLITE_PAGE_SIZE}",  # first: before journal_mode writes the header
    "foreign_keys=ON",
    "journal_mode=WAL",
    "synchronous=NORMAL",
    f"cache_size=-{SQLITE_CACHE_KIB}",
)


def apply_sqlite_pragmas(dbapi_connection: Any) -> None:
    """Set ``SQLITE_PRAGMAS`` on a DBAPI (``sqlite3``) connection."""
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


#: the page cache a large write may grow to (KiB): a plan of 100,000 new variants writes
#: about 120 MiB of pages, and pages that no longer fit are spilled to the WAL mid-way
#: (measured: the second 50,000 rows of such a plan insert 1.5x slower in 64 MiB)
MAX_WRITE_CACHE_KIB = 512 * 1024
#: what a new row of the variant table and its indexes take in pages, about (KiB)
ROW_PAGES_KIB = 1.5


def grow_cache(conn: sa.Connection, rows: int, after: contextlib.ExitStack) -> None:
    """On SQLite, let ``conn``'s page cache hold the pages ``rows`` new rows will dirty (up
    to ``MAX_WRITE_CACHE_KIB``), so they are written once, at the commit. ``after`` sets it
    back (which frees the pages above the usual size); it must end after the transaction."""
    if conn.dialect.name != "sqlite":
        return
    dbapi = conn.connection.dbapi_connection
    if not isinstance(dbapi, sqlite3.Connection):
        return
    needed = int(rows * ROW_PAGES_KIB)
    if needed <= SQLITE_CACHE_KIB // 2:  # they fit beside what the cache holds already
        return
    dbapi.execute(f"PRAGMA cache_size=-{min(MAX_WRITE_CACHE_KIB, needed + SQLITE_CACHE_KIB)}")
    after.callback(dbapi.execute, f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    apply_sqlite_pragmas(dbapi_connection)


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


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """``INSERT INTO table`` many rows, stored exactly as ``conn.execute(insert(table), rows)``
    would store them, in their order.

    Each run of consecutive rows with the same keys is one executemany; a column a row does
    not name gets its Python ``default=``, as Core gives it (server defaults are the
    database's). On SQLite the statement is compiled once per run and the rows go to the
    driver's executemany as tuples, converted here with each column type's own bind
    processor (the JSON serializer, the DateTime format, booleans as 0/1, enums as their
    values): that skips Core's per-row parameter handling, most of the cost of a large
    insert. Other databases take Core's executemany.
    """
    start = 0
    while start < len(rows):
        keys = rows[start].keys()
        end = start + 1
        while end < len(rows) and rows[end].keys() == keys:
            end += 1
        _executemany(conn, sa.insert(table), rows[start:end])
        start = end


def _executemany(
    conn: sa.Connection, statement: sa.Insert | sa.Update, rows: list[dict[str, Any]]
) -> None:
    """Core's ``conn.execute(statement, rows)`` for rows that all have the same keys; on
    SQLite through the driver (``_driver_executemany``), with the same values."""
    if not (conn.dialect.name == "sqlite" and _driver_executemany(conn, statement, rows)):
        conn.execute(statement, rows)


def _driver_executemany(
    conn: sa.Connection, statement: sa.Insert | sa.Update, rows: list[dict[str, Any]]
) -> bool:
    """The driver's executemany of ``prepare``'s statement and tuples. False (nothing
    written) if the statement has a parameter ``prepare`` cannot fill."""
    prepared = prepare(conn.dialect, statement, rows)
    if prepared is None:
        return False
    conn.exec_driver_sql(prepared.sql, prepared.params)
    return True


def reserve_ids(conn: sa.Connection, table: sa.Table, count: int) -> list[int] | None:
    """``count`` new primary keys for ``table``, in the order its own inserts would give
    them, for rows inserted with explicit ids: on SQLite the next integers after the
    largest stored one (what SQLite gives a table without AUTOINCREMENT), on PostgreSQL
    values of the column's sequence (unique under concurrent inserts too). None on other
    databases, or when ``count`` is 0: insert without ids."""
    if count <= 0:
        return None
    (key,) = table.primary_key.columns
    if conn.dialect.name == "sqlite":
        last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(key), 0))).scalar_one()
        return list(range(last + 1, last + 1 + count))
    if conn.dialect.name == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(table.name, key.name)
        values = sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))
        return sorted(conn.execute(values).scalars())
    return None


class Prepared(NamedTuple):
    """A statement compiled for the driver, and the rows as its parameter tuples."""

    sql: str
    params: list[tuple[Any, ...]]
    names: tuple[str, ...]  # the parameters' names (for an INSERT: its columns), in order
    #: (column, SQL literal) of an INSERT's columns that hold one value in every row,
    #: written into ``sql`` rather than bound once per row (``prepare_insert``)
    constants: tuple[tuple[str, str], ...] = ()


def prepare_insert(
    dialect: sa.Dialect, table: sa.Table, rows: list[dict[str, Any]]
) -> Prepared | None:
    """SQLite: ``prepare`` for an INSERT of ``rows`` into ``table`` (all with the same
    keys); None on other databases. A plan's parts prepare their new rows with it in their
    own process, so the parent only executes ``conn.exec_driver_sql(sql, params)``.

    A column with one value in every row is written into the SQL as a literal: a plan's
    new rows share a dozen such columns (its time, the empty review fields), and binding
    each of them once per row is a third of the insert's time (measured on 50,000
    variants: 0.53 s against 0.34 s). SQLite applies a column's affinity to a literal as
    to a bound value, so the stored values are the same (tested byte for byte)."""
    if dialect.name != "sqlite" or not rows:
        return None
    return prepare(dialect, sa.insert(table), rows, inline=True)


def prepare(
    dialect: sa.Dialect,
    statement: sa.Insert | sa.Update,
    rows: list[dict[str, Any]],
    *,
    inline: bool = False,
) -> Prepared | None:
    """The statement compiled once for the rows' keys (all the same), and the rows as the
    driver's parameter tuples, converted as Core converts them. As in Core's executemany, a
    value is bound as it is (no SQL expressions). None if the statement has a parameter
    this cannot fill. ``inline`` (an INSERT of two rows or more): the columns whose value
    is the same in every row are written as literals (``Prepared.constants``)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    names = compiled.positiontup
    if names is None or set(rows[0]) - set(names):
        return None
    prefetch = {c.key: c for c in (*compiled.insert_prefetch, *compiled.update_prefetch)}
    inline = inline and isinstance(statement, sa.Insert) and len(rows) > 1
    # the values column by column (a C-level loop each), then transposed into row tuples
    columns: list[Any] = []
    constants: dict[str, str] = {}
    for name in names:
        column = compiled.binds[name]
        process = _bind_processor(column.type, dialect)
        if name in rows[0]:
            values: Any = [row[name] for row in rows]
        else:
            default = prefetch[name].default if name in prefetch else None
            if not isinstance(default, sa.ColumnDefault) or default.is_clause_element:
                return None
            constant = not default.is_callable
            if constant or getattr(default.arg, "__wrapped__", None) in _EMPTY:
                # a scalar, or a fresh empty container (``default_factory=list``)
                value = default.arg if constant else default.arg(None)
                value = value if process is None else process(value)
                literal = _literal(value) if inline else None
                if literal is not None:
                    constants[name] = literal
                else:
                    columns.append(itertools.repeat(value, len(rows)))
                continue
            values = [default.arg(None) for _ in rows]
        if process is not None:
            values = list(map(process, values)) if inline else map(process, values)
        literal = _shared_literal(values) if inline else None
        if literal is not None:
            constants[name] = literal
        else:
            columns.append(values)
    if not constants:
        return Prepared(compiled.string, list(zip(*columns, strict=True)), tuple(names))
    bound = tuple(name for name in names if name not in constants)
    if not bound:  # every row the same: nothing gained
        return prepare(dialect, statement, rows)
    table = statement.table
    quote = dialect.identifier_preparer.quote
    listed = ", ".join(quote(table.c[name].name) for name in names)
    values_sql = ", ".join(constants.get(name, "?") for name in names)
    into = quote(table.name)  # type: ignore[union-attr]
    return Prepared(
        f"INSERT INTO {into} ({listed}) VALUES ({values_sql})",
        list(zip(*columns, strict=True)),
        bound,
        tuple(constants.items()),
    )


def _shared_literal(values: list[Any]) -> str | None:
    """The literal of the one value of ``values``, if they are all the same (and bind the
    same: equal text binds as equal text, and NULL is NULL; numbers must share a type)."""
    first = values[0]
    literal = _literal(first)
    if literal is None or values.count(first) != len(values):
        return None
    if first is not None and type(first) is not str and set(map(type, values)) != {type(first)}:
        return None
    return literal


#: the SQLite integers: a larger Python int would be written as a REAL if inlined
_INT64 = range(-(2**63), 2**63)


def _literal(value: Any) -> str | None:
    """``value`` as an SQLite literal that stores what binding it stores; None when that
    is not sure (only NULL, 64-bit integers and text without NUL are written out)."""
    if value is None:
        return "NULL"
    if type(value) is int and value in _INT64:
        return str(value)
    if type(value) is str and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None


class Scratch:
    """A scratch SQLite database attached to a connection of the main one (as ``scratch``),
    with an untyped, unconstrained copy of one table's columns: another process writes
    prepared rows of that table into it (``write``, with its own connection), and the
    connection copies them into the table with one ``INSERT … SELECT`` (``copy``). The
    copy runs in SQLite's C code, not one Python-bound row at a time: measured, a third
    less time than the driver's executemany of the same 50,000 variants. The values are
    stored as the driver would have stored them (tested byte for byte)."""

    SCHEMA = "scratch"

    def __init__(self, table: sa.Table, folder: str) -> None:
        self.table = table
        self.folder = folder
        self.path = str(Path(folder) / "scratch.db")

    @classmethod
    def attach(
        cls, conn: sa.Connection, table: sa.Table, after: contextlib.ExitStack
    ) -> Scratch | None:
        """Attach a new scratch database for ``table`` to ``conn`` (SQLite, before the transaction's
        first write: SQLite attaches outside transactions only). ``after`` detaches and
        removes it: it must end after the transaction, while ``conn`` is still open. None:
        not possible here."""
        if conn.dialect.name != "sqlite":
            return None
        dbapi = conn.connection.dbapi_connection
        if not isinstance(dbapi, sqlite3.Connection) or dbapi.in_transaction:
            return None
        scratch = cls(table, tempfile.mkdtemp(prefix="amplifier-scratch-"))
        after.callback(shutil.rmtree, scratch.folder, ignore_errors=True)
        dbapi.execute(f"ATTACH DATABASE ? AS {cls.SCHEMA}", (scratch.path,))
        after.callback(scratch._detach, conn, dbapi)
        dbapi.execute(f"PRAGMA {cls.SCHEMA}.page_size={SQLITE_PAGE_SIZE}")  # as a new main one's
        quote = conn.dialect.identifier_preparer.quote
        columns = ", ".join(quote(c.name) for c in table.columns)
        dbapi.execute(f"CREATE TABLE {cls.SCHEMA}.{quote(table.name)} ({columns})")
        return scratch

    def write(self, prepared: Prepared) -> None:
        """Store prepared rows of the table (``prepare_insert``) here, with a connection of
        this process: no journal, no syncs (it is thrown away after the plan). Only the
        bound columns are stored; ``copy`` writes the constant ones."""
        quote = sqlite.dialect().identifier_preparer.quote
        columns = ", ".join(quote(self.table.c[name].name) for name in prepared.names)
        marks = ", ".join("?" * len(prepared.names))
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.executemany(
                f"INSERT INTO {quote(self.table.name)} ({columns}) VALUES ({marks})",
                prepared.params,
            )
            db.commit()

    def copy(
        self,
        conn: sa.Connection,
        names: tuple[str, ...],
        constants: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Insert the rows written here (``names``: the columns they were written with,
        ``constants``: those of ``Prepared.constants``) into the table, in the order they
        were written, within ``conn``'s transaction."""
        quote = conn.dialect.identifier_preparer.quote
        written = [quote(self.table.c[name].name) for name in names]
        columns = ", ".join([*written, *(quote(self.table.c[n].name) for n, _ in constants)])
        values = ", ".join([*written, *(literal for _, literal in constants)])
        table = quote(self.table.name)
        conn.exec_driver_sql(
            f"INSERT INTO main.{table} ({columns}) "
            f"SELECT {values} FROM {self.SCHEMA}.{table} ORDER BY rowid"
        )

    def _detach(self, conn: sa.Connection, dbapi: sqlite3.Connection) -> None:
        try:
            dbapi.execute(f"DETACH DATABASE {self.SCHEMA}")
        except sqlite3.Error:  # still in a transaction: this connection must not be reused
            conn.invalidate()


#: callable defaults whose value is always an empty container
_EMPTY = (list, dict, tuple)


def _bind_processor(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Any:
    """The column type's SQLite bind processor, or an equivalent quicker one."""
    from amplifier.models import UTCDateTime

    process = type_._cached_bind_processor(dialect)
    if isinstance(type_, sa.JSON) and dialect._json_serializer is None:
        # json.dumps, whose texts of the empty list and mapping are fixed
        def json_text(value: Any, process: Any = process) -> Any:
            if value.__class__ is list and not value:
                return "[]"
            if value.__class__ is dict and not value:
                return "{}"
            return process(value)

        return json_text
    if isinstance(type_, UTCDateTime):
        storage = type_.impl_instance.dialect_impl(dialect)
        if (
            isinstance(storage, sqlite.DATETIME)
            and storage._storage_format == sqlite.DATETIME._storage_format
        ):
            return utc_text
    return process


@functools.lru_cache(maxsize=8192)  # a plan's times fall on few distinct minutes
def utc_text(value: dt.datetime | None) -> str | None:
    """``UTCDateTime`` as SQLite's DATETIME stores it: UTC, naive, always microseconds."""
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: amplifier stores only aware UTC times")
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


def update_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET … WHERE id = :_id`` for many rows.

    Rows that set the very same values (a dispatch batch that was all published, say) are
    one ``UPDATE … WHERE id IN (…)``; the others go as one executemany per set of columns,
    on SQLite through the driver as ``insert_rows`` does.
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
        _executemany(conn, sa.update(table).where(table.c.id == sa.bindparam("_id")), batch)


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
