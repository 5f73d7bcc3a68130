"""``database.insert_rows``: on SQLite the driver's executemany, storing exactly the bytes
Core's executemany stores; elsewhere Core itself."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amplifier import database
from amplifier.models import ACCOUNTS, CAMPAIGNS, POSTS, UNITS, VARIANTS
from amplifier.vocab import ReviewState, UnitKind, VariantStatus

JAKARTA = ZoneInfo("Asia/Jakarta")
T0 = dt.datetime(2027, 6, 1, 9, 30, tzinfo=dt.UTC)


def _engine(url: str) -> sa.Engine:
    engine = database.create_engine(url)
    database.ensure_schema(engine)
    return engine


def _parents(conn: sa.Connection) -> None:
    conn.execute(
        sa.insert(UNITS),
        [
            {"code": "pusat", "name": "Pusat", "kind": UnitKind.CENTRAL, "timezone": "UTC"},
            {"code": "kw", "name": "Kanwil", "kind": "regional", "timezone": "Asia/Jakarta"},
        ],
    )
    conn.execute(
        sa.insert(ACCOUNTS),
        [
            {"unit_id": u, "platform": "x", "handle": f"h{u}{p}", "handle_key": f"h{u}{p}"}
            for u in (1, 2)
            for p in "ab"
        ],
    )
    conn.execute(
        sa.insert(CAMPAIGNS),
        [{"slug": "c", "title": "C", "period_start": T0.date(), "period_end": T0.date()}],
    )
    conn.execute(
        sa.insert(POSTS),
        [{"campaign_id": 1, "key": f"p{i}", "central_at": T0, "body": "Halo."} for i in (1, 2)],
    )


def _core(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """The reference: Core's own executemany, one per row (so any keys may differ)."""
    for row in rows:
        conn.execute(sa.insert(table), [row])


def _stored(path: Path, table: str) -> list[dict[str, tuple[str, bytes]]]:
    """Every column of every row, read with plain ``sqlite3``: its type and its bytes."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        parts = ", ".join(f"typeof({n}), hex({n})" for n in names)
        rows = conn.execute(f"SELECT {parts} FROM {table} ORDER BY id").fetchall()
    return [
        {n: (row[2 * i], bytes.fromhex(row[2 * i + 1])) for i, n in enumerate(names)}
        for row in rows
    ]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at the current schema with the variants' parent rows, to copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = _engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        _parents(conn)
    engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _both(
    template: Path, tmp_path: Path, table: sa.Table, rows: list[dict[str, Any]]
) -> tuple[Any, Any]:
    """The stored rows after Core, and after ``insert_rows``, wrote ``rows``."""
    out = []
    for name, write in (("core", _core), ("driver", database.insert_rows)):
        path = tmp_path / f"{name}.db"
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, path)
        engine = database.create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            write(conn, table, rows)
        engine.dispose()
        out.append(_stored(path, table.name))
    return out[0], out[1]


def _variant(n: int, **values: Any) -> dict[str, Any]:
    post, account = divmod(n, 4)
    return {
        "post_id": post % 2 + 1,
        "account_id": account + 1,
        "unit_id": account // 2 + 1,
        "idempotency_key": f"k{n}",
        **values,
    }


FULL = {
    "text": "Selamat Hari Kemerdekaan — 🇮🇩 «80»",
    "title": None,
    "content_hash": "ab" * 32,
    "input_hash": "",
    "template": "institution/post.j2|builtin/x.j2",
    "publish_at": dt.datetime(2027, 8, 17, 1, 0, tzinfo=dt.UTC),
    "due_at": dt.datetime(2027, 8, 17, 8, 0, 0, 123456, tzinfo=JAKARTA),
    "timing": ["slot 08:00 WIB", "jam sibuk: ±15 menit"],
    "held_by": None,
    "attempts": 2,
    "status": VariantStatus.SCHEDULED,
    "review": "approved",
    "reasons": [],
    "findings": [{"rule": "ejaan", "span": [0, 7], "message": "kata “Selamat” ✓"}],
    "reviewed_by": "admin-1",
    "reviewed_at": dt.datetime(2027, 8, 1, 12, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
    "review_note": "",
    "updated_at": dt.datetime(2027, 8, 1, tzinfo=dt.UTC),
}
# only the required keys and a few others: the rest is Core's defaults or NULL
SPARSE = {
    "text": "pendek",
    "status": VariantStatus.PENDING,
    "review": ReviewState.DRAFT,
    "updated_at": dt.datetime(2027, 8, 2, 3, 4, 5, tzinfo=dt.UTC),
}


def test_the_same_bytes_as_core_for_varied_rows(template: Path, tmp_path: Path) -> None:
    rows = [
        _variant(0, **FULL),
        _variant(1, **{**FULL, "title": "Judul ünïcödé", "findings": None, "attempts": 0}),
        _variant(2, **SPARSE),  # a new run of other keys
        _variant(3, **{**FULL, "due_at": None, "publish_at": None, "timing": []}),
        _variant(4, **SPARSE),
        _variant(5, **{**SPARSE, "status": "unscheduled", "reasons": ["tidak ada slot"]}),
        _variant(6, **{**SPARSE, "review": ReviewState.NEEDS_REVIEW}),
    ]
    core, driver = _both(template, tmp_path, VARIANTS, rows)
    assert len(core) == len(rows)
    assert driver == core
    # what the comparison covers: JSON null text, defaults, NULLs, the DateTime format
    assert core[1]["findings"] == ("text", b"null")
    assert core[1]["title"] == ("text", "Judul ünïcödé".encode())
    assert core[1]["due_at"] == ("text", b"2027-08-17 01:00:00.123456")
    assert core[1]["publish_at"] == ("text", b"2027-08-17 01:00:00.000000")
    assert core[1]["reviewed_at"] == ("text", b"2027-08-01 15:00:00.000001")
    assert core[1]["status"] == ("text", b"scheduled")
    assert core[2]["title"] == core[2]["held_by"] == ("null", b"")
    assert core[2]["attempts"] == ("integer", b"0")
    assert core[2]["timing"] == ("text", b"[]")


def test_defaults_computed_per_row_look_like_cores(template: Path, tmp_path: Path) -> None:
    """``updated_at`` left out: each path calls ``utcnow`` itself, so compare the form."""
    rows = [_variant(n, text="t", status="pending", review="draft") for n in range(3)]
    core, driver = _both(template, tmp_path, VARIANTS, rows)
    for c_row, d_row in zip(core, driver, strict=True):
        c_at, d_at = c_row.pop("updated_at"), d_row.pop("updated_at")
        assert c_row == d_row
        assert c_at[0] == d_at[0] == "text"
        assert len(c_at[1]) == len(d_at[1]) == len(b"2027-08-02 03:04:05.000000")
        c_time, d_time = (dt.datetime.fromisoformat(v[1].decode()) for v in (c_at, d_at))
        assert abs(d_time - c_time) < dt.timedelta(minutes=5)


def test_booleans_enums_and_json_of_another_table(template: Path, tmp_path: Path) -> None:
    rows = [
        {"code": "a", "name": "A", "kind": UnitKind.CENTRAL, "timezone": "UTC", "active": False},
        {"code": "b", "name": "Bé", "kind": "service", "timezone": "UTC", "active": True},
        {"code": "c", "name": "C", "kind": "overseas", "timezone": "UTC"},
        {
            "code": "d",
            "name": "D",
            "kind": UnitKind.REGIONAL,
            "timezone": "Asia/Jayapura",
            "parent_id": 1,
            "languages": ["id", "en"],
            "tags": ["papua", "timur"],
            "region": None,
        },
    ]
    core, driver = _both(template, tmp_path, UNITS, rows)
    assert driver == core
    assert [r["active"] for r in core[2:]] == [("integer", b"0"), *[("integer", b"1")] * 3]
    assert core[-1]["languages"] == ("text", b'["id", "en"]')


def test_json_none_null_and_sql_null(template: Path, tmp_path: Path) -> None:
    post = {"campaign_id": 1, "central_at": T0, "body": "Isi"}
    rows = [
        {**post, "key": "a", "targets": None},
        {**post, "key": "b", "targets": sa.JSON.NULL},
        {**post, "key": "c", "targets": sa.null()},
        {**post, "key": "d", "targets": {"units": ["kw"], "catatan": "ñ"}, "media": []},
    ]
    core, driver = _both(template, tmp_path, POSTS, rows)
    assert driver == core
    assert [r["targets"] for r in core[2:]] == [
        ("text", b"null"),
        ("text", b"null"),
        ("null", b""),
        ("text", b'{"units": ["kw"], "catatan": "\\u00f1"}'),
    ]


def test_a_naive_datetime_is_refused_and_nothing_written(template: Path, tmp_path: Path) -> None:
    path = tmp_path / "naive.db"
    shutil.copyfile(template, path)
    engine = database.create_engine(f"sqlite:///{path}")
    rows = [_variant(0, **SPARSE), _variant(1, **{**SPARSE, "updated_at": dt.datetime(2027, 1, 1)})]
    with pytest.raises(ValueError, match="naive datetime"), engine.begin() as conn:
        database.insert_rows(conn, VARIANTS, rows)
    engine.dispose()
    assert _stored(path, "variant") == []


def test_update_rows_stores_what_core_stores(template: Path, tmp_path: Path) -> None:
    """``update_rows`` (the driver on SQLite for rows that differ) against Core's UPDATE."""
    base = [_variant(n, **(FULL if n % 2 else SPARSE)) for n in range(6)]
    changes: list[dict[str, Any]] = [
        {"_id": 1, "text": "baru ✓", "timing": ["±1 jam"], "status": VariantStatus.SCHEDULED},
        {"_id": 2, "text": "lain", "timing": [], "status": "unscheduled"},
        {"_id": 3, "publish_at": None, "due_at": None, "reasons": ["tidak ada slot"]},
        {"_id": 4, "publish_at": FULL["due_at"], "due_at": T0, "reasons": []},
        # the same values: one UPDATE ... WHERE id IN (...) through Core
        {"_id": 5, "status": VariantStatus.CANCELLED, "updated_at": T0},
        {"_id": 6, "status": VariantStatus.CANCELLED, "updated_at": T0},
    ]
    update = sa.update(VARIANTS).where(VARIANTS.c.id == sa.bindparam("_id"))

    def core(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        _core(conn, table, rows)
        for change in changes:
            conn.execute(update, [change])

    def driver(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        _core(conn, table, rows)
        database.update_rows(conn, table, changes)

    stored = []
    for write in (core, driver):
        path = tmp_path / f"{write.__name__}.db"
        shutil.copyfile(template, path)
        engine = database.create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            write(conn, VARIANTS, base)
        engine.dispose()
        stored.append(_stored(path, "variant"))
    assert stored[1] == stored[0]
    assert stored[0][0]["text"] == ("text", "baru ✓".encode())
    assert stored[0][3]["due_at"] == ("text", b"2027-06-01 09:30:00.000000")
    assert [r["status"][1] for r in stored[0][4:]] == [b"cancelled", b"cancelled"]


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_aware = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from([dt.UTC, JAKARTA, dt.timezone(dt.timedelta(hours=5, minutes=45))]),
)
_optional = {
    "title": st.none() | _text,
    "template": st.none() | _text,
    "publish_at": st.none() | _aware,
    "due_at": st.none() | _aware,
    "timing": st.lists(_text, max_size=3),
    "held_by": st.none() | _text,
    "attempts": st.integers(-(2**63), 2**63 - 1),
    "reasons": st.lists(_text, max_size=2),
    "findings": st.lists(st.dictionaries(_text, _text | st.integers(), max_size=2), max_size=2),
    "reviewed_at": st.none() | _aware,
    "updated_at": _aware,
}


@st.composite
def _variant_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for n in range(draw(st.integers(1, 8))):
        keys = draw(st.sets(st.sampled_from(sorted(_optional))))
        values = {k: draw(_optional[k]) for k in sorted(keys | {"updated_at"})}
        values["text"] = draw(_text)
        values["status"] = draw(st.sampled_from([*VariantStatus, "pending"]))
        values["review"] = draw(st.sampled_from([*ReviewState]))
        out.append(_variant(n, **values))
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_variant_rows())
def test_property_the_same_bytes_as_core(
    template: Path, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    core, driver = _both(template, tmp_path, VARIANTS, rows)
    assert driver == core


_every = {
    **_optional,
    "text": _text | st.sampled_from(["it's", "''", "a\x00b", "«80» 🇮🇩"]),
    "status": st.sampled_from([*VariantStatus, "pending"]),
    "review": st.sampled_from([*ReviewState]),
}


@st.composite
def _rows_sharing_values(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows with the same keys, most of whose values are the same in every row."""
    shared = {k: draw(strategy) for k, strategy in _every.items()}
    varying = draw(st.sets(st.sampled_from(sorted(set(_every) - {"review"}))))
    return [
        _variant(n, **{**shared, **{k: draw(_every[k]) for k in sorted(varying)}})
        for n in range(draw(st.integers(2, 6)))
    ]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_rows_sharing_values())
def test_property_inlined_constants_store_the_same_bytes_as_core(
    template: Path, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    """``prepare_insert`` writes the values every row shares into its SQL as literals;
    what is stored is what Core stores, byte for byte."""
    core, _ = _both(template, tmp_path, VARIANTS, rows)
    path = tmp_path / "inlined.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, path)
    engine = database.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            prepared = database.prepare_insert(conn.dialect, VARIANTS, rows)
            assert prepared is not None and prepared.constants  # review at least is shared
            bound = len(prepared.names)
            assert all(len(params) == bound for params in prepared.params)
            conn.exec_driver_sql(prepared.sql, prepared.params)
    finally:
        engine.dispose()
    assert _stored(path, "variant") == core


def test_works_on_each_database(database_url: str) -> None:
    engine = _engine(database_url)
    rows = [
        _variant(0, **FULL),
        _variant(1, **SPARSE),
        _variant(2, **{**FULL, "findings": [], "title": "Judul"}),
    ]
    with engine.begin() as conn:
        _parents(conn)
        database.insert_rows(conn, VARIANTS, rows)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(VARIANTS).order_by(VARIANTS.c.id)).mappings().all()
    engine.dispose()
    assert [r["idempotency_key"] for r in stored] == ["k0", "k1", "k2"]
    first, sparse, third = stored
    for key in ("text", "timing", "findings", "attempts", "reviewed_by", "title"):
        assert first[key] == FULL[key]
    for key in ("publish_at", "due_at", "reviewed_at", "updated_at"):
        assert first[key] == FULL[key]
        assert first[key].tzinfo is not None
    assert first["status"] == VariantStatus.SCHEDULED
    assert first["review"] == ReviewState.APPROVED
    assert (sparse["timing"], sparse["attempts"], sparse["held_by"]) == ([], 0, None)
    assert sparse["updated_at"] == SPARSE["updated_at"]
    assert (third["findings"], third["title"]) == ([], "Judul")


def test_reserved_ids_are_the_ones_the_database_would_give(database_url: str) -> None:
    """``reserve_ids``: the next ids in order, no collision with the rows inserted with
    them, and a later insert without an id goes on after them."""
    engine = _engine(database_url)
    try:
        with engine.begin() as conn:
            _parents(conn)
            assert database.reserve_ids(conn, VARIANTS, 0) is None
            database.insert_rows(conn, VARIANTS, [_variant(n, **SPARSE) for n in (0, 1)])
            ids = database.reserve_ids(conn, VARIANTS, 3)
            assert ids == [3, 4, 5]
            rows = [{**_variant(n, **SPARSE), "id": i} for n, i in zip((2, 3, 4), ids, strict=True)]
            database.insert_rows(conn, VARIANTS, rows)
            database.insert_rows(conn, VARIANTS, [_variant(5, **SPARSE)])
            stored = conn.execute(
                sa.select(VARIANTS.c.id, VARIANTS.c.idempotency_key).order_by(VARIANTS.c.id)
            ).all()
        assert [tuple(r) for r in stored] == [(n + 1, f"k{n}") for n in range(6)]
    finally:
        engine.dispose()


def test_a_scratch_database_stores_the_same_bytes_and_leaves_nothing_behind(
    template: Path, tmp_path: Path
) -> None:
    """``Scratch``: rows written into the scratch database by another connection and
    copied into the table are stored as Core stores them; the scratch database is
    detached and removed afterwards."""
    rows = [_variant(n, **{**FULL, "idempotency_key": f"s{n}"}) for n in range(4)]
    rows[2]["findings"] = None
    core, _ = _both(template, tmp_path, VARIANTS, rows)
    path = tmp_path / "scratched.db"
    shutil.copyfile(template, path)
    engine = database.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn, contextlib.ExitStack() as after, conn.begin():
            scratch = database.Scratch.attach(conn, VARIANTS, after)
            assert scratch is not None and Path(scratch.path).parent.is_dir()
            prepared = database.prepare_insert(conn.dialect, VARIANTS, rows)
            assert prepared is not None
            scratch.write(prepared)
            with contextlib.closing(sqlite3.connect(scratch.path)) as db:  # as the main one's
                assert db.execute("PRAGMA page_size").fetchone()[0] == database.SQLITE_PAGE_SIZE
            assert prepared.constants  # columns the rows share are written as literals
            scratch.copy(conn, prepared.names, prepared.constants)
            # a second scratch database cannot be attached once the transaction has written
            assert database.Scratch.attach(conn, VARIANTS, after) is None
        assert not Path(scratch.folder).exists()
        with (
            engine.connect() as conn
        ):  # the pool's one connection, now without the scratch database
            schemas = [r[1] for r in conn.exec_driver_sql("PRAGMA database_list")]
        assert schemas == ["main"]
    finally:
        engine.dispose()
    assert _stored(path, "variant") == core


def test_no_scratch_database_on_other_databases(database_url: str) -> None:
    engine = _engine(database_url)
    try:
        with engine.connect() as conn, contextlib.ExitStack() as after:
            scratch = database.Scratch.attach(conn, VARIANTS, after)
            assert (scratch is None) == (engine.dialect.name != "sqlite")
    finally:
        engine.dispose()


def test_a_large_write_grows_the_page_cache_for_its_transaction_only(tmp_path: Path) -> None:
    """``grow_cache``: room for the pages of the rows to come (capped), set back to the
    usual size once the transaction is over; nothing for a few rows."""
    engine = _engine(f"sqlite:///{tmp_path / 'cache.db'}")

    def cache(conn: sa.Connection) -> int:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        return int(dbapi.execute("PRAGMA cache_size").fetchone()[0])

    usual = -database.SQLITE_CACHE_KIB
    try:
        with engine.connect() as conn:
            for rows, during in (
                (10, usual),
                (100_000, -(database.SQLITE_CACHE_KIB + int(100_000 * database.ROW_PAGES_KIB))),
                (10**7, -database.MAX_WRITE_CACHE_KIB),
            ):
                with contextlib.ExitStack() as after, conn.begin():
                    database.grow_cache(conn, rows, after)
                    assert cache(conn) == during
                assert cache(conn) == usual
    finally:
        engine.dispose()


def test_the_page_cache_grows_on_sqlite_only(database_url: str) -> None:
    engine = _engine(database_url)
    try:
        with engine.connect() as conn, contextlib.ExitStack() as after:
            database.grow_cache(conn, 100_000, after)
            to_undo = len(after._exit_callbacks)  # type: ignore[attr-defined]
        assert to_undo == (engine.dialect.name == "sqlite")
    finally:
        engine.dispose()


def test_a_new_database_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """``SQLITE_PAGE_SIZE`` applies to a database the engine creates; one made before (with
    SQLite's 4 KiB default) opens, works and keeps its page size."""
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        db.commit()
    for path, size in ((tmp_path / "new.db", database.SQLITE_PAGE_SIZE), (old, 4096)):
        engine = database.create_engine(f"sqlite:///{path}")
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x)")
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA page_size").scalar() == size
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("SELECT max(x) FROM t").scalar() == 2
        finally:
            engine.dispose()
