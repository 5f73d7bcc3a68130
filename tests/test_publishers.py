"""Publishers: the registry, the outbox, the dry-run log publisher and retry timing."""

from __future__ import annotations

import datetime as dt
import doctest
import email.utils
import importlib.metadata
import json
import logging
import multiprocessing
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

import amplifier.publishers as publishers
from amplifier.models import Account, Campaign, CentralPost, Variant, WorkUnit
from amplifier.publishers import (
    ENTRY_POINT_GROUP,
    Publisher,
    PublisherConfigError,
    PublishItem,
    PublishResult,
    available,
    base,
    load_publisher,
    parse_retry_after,
    publisher_class,
    register,
    retry,
    retry_delay,
    unregister,
    webhook,
)
from amplifier.publishers.base import PermanentPublishError, TransientPublishError
from amplifier.publishers.log import LogPublisher
from amplifier.publishers.outbox import OutboxPublisher, safe_name
from amplifier.publishers.retry import backoff_ceiling
from amplifier.vocab import AccountMode, Platform, UnitKind

WHEN = dt.datetime(2027, 6, 23, 1, 0, tzinfo=dt.UTC)  # 09:00 WITA, 10:00 WIT


def make_item(**changes: Any) -> PublishItem:
    fields: dict[str, Any] = {
        "variant_id": 42,
        "idempotency_key": "a" * 32,
        "attempt": 1,
        "platform": "instagram",
        "handle": "kptd.kanwil.bali",
        "account_url": "https://instagram.com/kptd.kanwil.bali",
        "unit_code": "KANWIL-BALI",
        "unit_name": "Kantor Wilayah Bali",
        "unit_timezone": "Asia/Makassar",
        "campaign_slug": "hari-bhakti",
        "post_key": "pembukaan",
        "text": "Selamat Hari Bhakti ke-79! 🇮🇩\n\n#HariBhakti  ",
        "title": None,
        "media": ("media/poster.jpg",),
        "publish_at": WHEN,
        "mode": "manual",
    }
    fields.update(changes)
    return PublishItem(**fields)


# --- the protocol ----------------------------------------------------------------------


def test_item_wants_an_aware_time_and_keeps_it_in_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_item(publish_at=dt.datetime(2027, 6, 23, 9, 0))
    wita = dt.timezone(dt.timedelta(hours=8))
    item = make_item(publish_at=dt.datetime(2027, 6, 23, 9, 0, tzinfo=wita), media=["a", "b"])
    assert item.publish_at == WHEN and item.publish_at.tzinfo is dt.UTC
    assert item.media == ("a", "b")
    assert item.as_dict()["publish_at"] == "2027-06-23T01:00:00Z"
    json.dumps(item.as_dict())  # JSON-ready


def test_item_from_database_rows() -> None:
    unit = WorkUnit(
        id=3,
        code="KANWIL-BALI",
        name="Kanwil Bali",
        kind=UnitKind.REGIONAL,
        timezone="Asia/Makassar",
    )
    account = Account(
        id=5,
        unit_id=3,
        platform=Platform.X,
        handle="kanwilbali",
        handle_key="kanwilbali",
        mode=AccountMode.API,
    )
    campaign = Campaign(
        id=1,
        slug="hari-bhakti",
        title="Hari Bhakti",
        period_start=dt.date(2027, 6, 1),
        period_end=dt.date(2027, 6, 30),
    )
    post = CentralPost(
        id=2, campaign_id=1, key="pembukaan", central_at=WHEN, body="b", media=["poster.jpg"]
    )
    variant = Variant(
        id=42,
        post_id=2,
        account_id=5,
        unit_id=3,
        text="halo",
        publish_at=WHEN,
        idempotency_key="k" * 32,
    )
    item = PublishItem.from_rows(variant, account, unit, post, campaign, attempt=2)
    assert (item.variant_id, item.attempt, item.platform, item.mode) == (42, 2, "x", "api")
    assert type(item.platform) is str and item.media == ("poster.jpg",)
    assert (item.campaign_slug, item.post_key, item.unit_timezone) == (
        "hari-bhakti",
        "pembukaan",
        "Asia/Makassar",
    )
    variant.publish_at = None
    with pytest.raises(ValueError, match="timed"):
        PublishItem.from_rows(variant, account, unit, post, campaign, attempt=1)


def test_every_builtin_declares_its_name_and_idempotency() -> None:
    found = available()
    assert {"log", "outbox", "webhook"} <= set(found)
    for name in ("log", "outbox", "webhook"):
        cls = found[name]
        assert issubclass(cls, Publisher) and cls.name == name
        assert cls.idempotent is True
        assert cls.options_doc, f"{name} documents its options"


def test_unknown_option_is_named_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(PublisherConfigError, match=r"option 'dri'.*did you mean 'dir'") as info:
        load_publisher("outbox", {"dri": "x"}, workspace_root=tmp_path)
    assert info.value.option == "dri" and info.value.publisher == "outbox"
    with pytest.raises(PublisherConfigError, match="option 'index_days': must be a number"):
        load_publisher("outbox", {"index_days": "lots"}, workspace_root=tmp_path)
    with pytest.raises(PublisherConfigError, match=r"option 'level'.*did you mean 'DEBUG'"):
        load_publisher("log", {"level": "DEBG"}, workspace_root=tmp_path)


# --- the registry ----------------------------------------------------------------------


class EchoPublisher(Publisher):
    """A third-party publisher, as a plugin package would write it."""

    name: ClassVar[str] = "echo"
    idempotent: ClassVar[bool] = False
    options_doc: ClassVar[Mapping[str, str] | None] = {"prefix": "put before the id"}

    def __init__(self, options: Mapping[str, Any], *, workspace_root: Path) -> None:
        super().__init__(options, workspace_root=workspace_root)
        self.prefix = options.get("prefix", "echo")

    def publish(self, item: PublishItem) -> PublishResult:
        return PublishResult(
            f"{self.prefix}-{item.variant_id}", f"https://echo.test/{item.post_key}"
        )


class NotAPublisher:
    pass


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, **targets: str) -> None:
    real = importlib.metadata.entry_points
    points = [
        importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
        for name, value in targets.items()
    ]

    def entry_points(**params: Any) -> Any:
        if params.get("group") == ENTRY_POINT_GROUP:
            return importlib.metadata.EntryPoints(points)
        return real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_a_third_party_publisher_is_found_through_its_entry_point(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_entry_points(monkeypatch, echo=f"{__name__}:EchoPublisher")
    assert available()["echo"] is EchoPublisher
    with load_publisher("echo", {"prefix": "e"}, workspace_root=tmp_path) as publisher:
        assert publisher.publish(make_item()) == PublishResult(
            "e-42", "https://echo.test/pembukaan"
        )
        assert publisher.workspace_root == tmp_path


def test_a_plugin_cannot_take_over_a_builtin_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake_entry_points(
        monkeypatch,
        outbox=f"{__name__}:EchoPublisher",
        log="amplifier.publishers.log:LogPublisher",  # the package's own entry point
    )
    with caplog.at_level(logging.WARNING):
        assert publisher_class("outbox") is OutboxPublisher
        assert publisher_class("log") is LogPublisher
    assert "outbox" in caplog.text and "built-in" in caplog.text
    assert "log =" not in caplog.text


def test_a_broken_plugin_leaves_the_others_working(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_entry_points(
        monkeypatch,
        broken="amplifier_no_such_plugin.mod:Thing",
        odd=f"{__name__}:NotAPublisher",
        echo=f"{__name__}:EchoPublisher",
    )
    with caplog.at_level(logging.WARNING):
        found = available()
    assert {"echo", "log", "outbox", "webhook"} <= set(found)
    assert "broken" not in found and "odd" not in found
    assert "amplifier_no_such_plugin" in caplog.text
    with pytest.raises(PublisherConfigError, match="cannot load entry point broken"):
        load_publisher("broken", {}, workspace_root=tmp_path)
    with pytest.raises(PublisherConfigError, match="not name a subclass"):
        load_publisher("odd", {}, workspace_root=tmp_path)


def test_unknown_publisher_lists_known_names_and_suggests(tmp_path: Path) -> None:
    with pytest.raises(PublisherConfigError) as info:
        load_publisher("webhok", {}, workspace_root=tmp_path)
    message = str(info.value)
    assert "did you mean 'webhook'" in message
    assert "known: log, outbox, webhook" in message


def test_register_at_run_time(tmp_path: Path) -> None:
    register(EchoPublisher)
    try:
        assert available()["echo"] is EchoPublisher
        assert isinstance(load_publisher("echo", workspace_root=tmp_path), EchoPublisher)
    finally:
        unregister("echo")
    assert "echo" not in available()
    with pytest.raises(PublisherConfigError, match="not name a subclass"):
        register(NotAPublisher, "odd")  # type: ignore[arg-type]


# --- outbox ----------------------------------------------------------------------------


def outbox(tmp_path: Path, **options: Any) -> OutboxPublisher:
    publisher = load_publisher("outbox", {"dir": "outbox", **options}, workspace_root=tmp_path)
    assert isinstance(publisher, OutboxPublisher)
    return publisher


def files(root: Path, pattern: str = "*/*/*") -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.glob(pattern))


def test_outbox_writes_the_text_exactly_and_its_metadata(tmp_path: Path) -> None:
    item = make_item(text='Baris satu\r\nbaris dua 🇮🇩 | "kutip"\n\n  ')
    result = outbox(tmp_path).publish(item)
    base = "KANWIL-BALI/2027-06-23/0900-instagram-kptd.kanwil.bali-42"
    assert result == PublishResult(external_id=f"{base}.txt", external_url=None)
    root = tmp_path / "outbox"
    assert (root / f"{base}.txt").read_bytes() == item.text.encode("utf-8")
    meta = json.loads((root / f"{base}.json").read_text("utf-8"))
    assert meta["text"] == item.text
    assert meta["idempotency_key"] == item.idempotency_key
    assert meta["publish_at"] == "2027-06-23T01:00:00Z"
    assert meta["local_time"] == "2027-06-23 09:00 WITA"
    assert meta["media"] == ["media/poster.jpg"] and meta["title"] is None
    assert meta["file"] == f"{base}.txt" and meta["publisher"] == "outbox"
    assert not list(root.rglob("*.tmp"))


def test_outbox_dates_files_in_the_units_own_timezone(tmp_path: Path) -> None:
    item = make_item(
        unit_code="KANTOR-JAYAPURA",
        unit_timezone="Asia/Jayapura",
        publish_at=dt.datetime(2027, 6, 23, 17, 30, tzinfo=dt.UTC),
    )
    assert outbox(tmp_path).publish(item).external_id == (
        "KANTOR-JAYAPURA/2027-06-24/0230-instagram-kptd.kanwil.bali-42.txt"
    )


def test_outbox_names_stay_inside_the_outbox(tmp_path: Path) -> None:
    item = make_item(unit_code="../..", handle="../../etc/passwd", platform="x")
    external_id = outbox(tmp_path).publish(item).external_id
    assert external_id is not None and ".." not in external_id
    assert (tmp_path / "outbox" / external_id).is_file()
    assert safe_name("@Kanwil Bali/2") == "Kanwil_Bali_2"
    assert safe_name("...") == "_"


def test_outbox_rewrite_of_the_same_variant_keeps_one_copy(tmp_path: Path) -> None:
    publisher = outbox(tmp_path)
    first = publisher.publish(make_item())
    again = publisher.publish(make_item(attempt=2, text="diperbaiki"))
    root = tmp_path / "outbox"
    assert first == again
    assert files(root) == [
        "KANWIL-BALI/2027-06-23/0900-instagram-kptd.kanwil.bali-42.json",
        "KANWIL-BALI/2027-06-23/0900-instagram-kptd.kanwil.bali-42.txt",
    ]
    assert (root / str(again.external_id)).read_text("utf-8") == "diperbaiki"
    assert len(publisher.read_index()) == 1


def test_outbox_moves_a_variant_whose_time_changed(tmp_path: Path) -> None:
    publisher = outbox(tmp_path)
    publisher.publish(make_item())
    moved = publisher.publish(make_item(publish_at=WHEN + dt.timedelta(days=1, hours=2)))
    root = tmp_path / "outbox"
    assert files(root) == [
        "KANWIL-BALI/2027-06-24/1100-instagram-kptd.kanwil.bali-42.json",
        "KANWIL-BALI/2027-06-24/1100-instagram-kptd.kanwil.bali-42.txt",
    ]
    [entry] = publisher.read_index()
    assert entry["file"] == moved.external_id


def test_outbox_index_lists_items_by_unit_and_time(tmp_path: Path) -> None:
    publisher = outbox(tmp_path)
    items = [
        make_item(variant_id=3, idempotency_key="c" * 32, publish_at=WHEN + dt.timedelta(hours=5)),
        make_item(variant_id=1, idempotency_key="a" * 32),
        make_item(
            variant_id=2,
            idempotency_key="b" * 32,
            unit_code="KANWIL-ACEH",
            unit_name="Kantor Wilayah Aceh",
            unit_timezone="Asia/Jakarta",
            platform="x",
            handle="kanwil_aceh",
        ),
    ]
    for item in items:
        publisher.publish(item)
    index = json.loads((tmp_path / "outbox" / "index.json").read_text("utf-8"))
    assert index["version"] == 1
    assert [e["variant_id"] for e in index["items"]] == [2, 1, 3]
    assert all(e["idempotency_key"] and e["file"].endswith(".txt") for e in index["items"])
    md = (tmp_path / "outbox" / "index.md").read_text("utf-8")
    assert "3 items" in md
    aceh, bali = md.index("## KANWIL-ACEH"), md.index("## KANWIL-BALI")
    assert aceh < md.index("kanwil_aceh") < bali
    assert bali < md.index("0900-instagram-kptd.kanwil.bali-1.txt")
    assert md.index("0900-instagram-kptd.kanwil.bali-1.txt") < md.index("-3.txt")
    assert "2027-06-23 08:00 WIB" in md and "2027-06-23 14:00 WITA" in md


def test_outbox_index_drops_old_items_but_keeps_their_files(tmp_path: Path) -> None:
    publisher = outbox(tmp_path, index_days=30)
    long_ago = dt.datetime(2020, 1, 2, 3, 0, tzinfo=dt.UTC)
    old = publisher.publish(make_item(variant_id=1, idempotency_key="o" * 32, publish_at=long_ago))
    assert [e["variant_id"] for e in publisher.read_index()] == [1]  # just written: kept
    publisher.publish(make_item(variant_id=2, idempotency_key="n" * 32))
    assert [e["variant_id"] for e in publisher.read_index()] == [2]
    assert (tmp_path / "outbox" / str(old.external_id)).is_file()
    keep_all = outbox(tmp_path, index_days=0)
    keep_all.publish(make_item(variant_id=1, idempotency_key="o" * 32, publish_at=long_ago))
    keep_all.publish(make_item(variant_id=2, idempotency_key="n" * 32))
    assert len(keep_all.read_index()) == 2


def test_outbox_rebuilds_a_damaged_index(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    publisher = outbox(tmp_path)
    publisher.publish(make_item(variant_id=1, idempotency_key="a" * 32))
    publisher.publish(make_item(variant_id=2, idempotency_key="b" * 32))
    (tmp_path / "outbox" / "index.json").write_text("{ not json", "utf-8")
    with caplog.at_level(logging.WARNING):
        publisher.publish(make_item(variant_id=3, idempotency_key="c" * 32))
    assert "rebuilding" in caplog.text
    assert [e["variant_id"] for e in publisher.read_index()] == [1, 2, 3]
    (tmp_path / "outbox" / "index.json").unlink()
    assert len(publisher.read_index()) == 3


def test_outbox_bad_timezone_fails_the_variant(tmp_path: Path) -> None:
    with pytest.raises(PermanentPublishError, match="Mars/Olympus"):
        outbox(tmp_path).publish(make_item(unit_timezone="Mars/Olympus"))


def test_outbox_absolute_dir_and_describe(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    publisher = load_publisher("outbox", {"dir": str(target)}, workspace_root=tmp_path / "ws")
    assert str(target) in publisher.describe() and "30 days" in publisher.describe()
    assert publisher.publish(make_item()).external_id
    assert (target / "index.md").is_file()


def test_outbox_batch_writes_the_good_items_and_reports_the_bad(tmp_path: Path) -> None:
    publisher = outbox(tmp_path)
    outcomes = publisher.publish_many(
        [
            make_item(variant_id=1, idempotency_key="a" * 32),
            make_item(variant_id=2, idempotency_key="b" * 32, unit_timezone="Mars/Olympus"),
            make_item(variant_id=3, idempotency_key="c" * 32, platform="x"),
        ]
    )
    assert isinstance(outcomes[0], PublishResult) and isinstance(outcomes[2], PublishResult)
    assert isinstance(outcomes[1], PermanentPublishError)
    assert [e["variant_id"] for e in publisher.read_index()] == [1, 3]
    assert len(list((tmp_path / "outbox").rglob("*.txt"))) == 2


class FlakyPublisher(EchoPublisher):
    name: ClassVar[str] = "flaky"

    def publish(self, item: PublishItem) -> PublishResult:
        if item.variant_id % 2:
            raise TransientPublishError("odd ids time out", retry_after=3)
        return super().publish(item)


def test_default_batch_reports_each_items_outcome(tmp_path: Path) -> None:
    publisher = FlakyPublisher({}, workspace_root=tmp_path)
    outcomes = publisher.publish_many([make_item(variant_id=n) for n in (1, 2, 3)])
    assert [type(o).__name__ for o in outcomes] == [
        "TransientPublishError",
        "PublishResult",
        "TransientPublishError",
    ]
    assert outcomes[1] == PublishResult("echo-2", "https://echo.test/pembukaan")


def _write_many(root: str, start: int, count: int) -> None:
    publisher = OutboxPublisher({"dir": root, "fsync": False}, workspace_root=Path(root))
    for n in range(start, start + count):
        publisher.publish(
            make_item(
                variant_id=n,
                idempotency_key=f"{n:032d}",
                unit_code=f"UNIT-{n % 4}",
                publish_at=WHEN + dt.timedelta(minutes=n),
                text=f"teks {n}",
            )
        )


def test_two_processes_writing_one_outbox_leave_a_consistent_index(tmp_path: Path) -> None:
    # fork starts in milliseconds; each child still opens and locks the outbox on its own
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods:
        context: Any = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("spawn")
    root = str(tmp_path / "outbox")
    workers = [
        context.Process(target=_write_many, args=(root, 0, 50)),
        context.Process(target=_write_many, args=(root, 25, 50)),  # 25 variants in common
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    index = json.loads((tmp_path / "outbox" / "index.json").read_text("utf-8"))
    ids = [e["variant_id"] for e in index["items"]]
    assert sorted(ids) == list(range(75))
    for entry in index["items"]:
        text = (tmp_path / "outbox" / entry["file"]).read_text("utf-8")
        assert text == f"teks {entry['variant_id']}"
    assert len(list((tmp_path / "outbox").rglob("*.txt"))) == 75
    assert not list((tmp_path / "outbox").rglob("*.tmp"))
    md = (tmp_path / "outbox" / "index.md").read_text("utf-8")
    assert "75 items" in md and md.count(".txt](") == 75


# --- log -------------------------------------------------------------------------------


def test_log_publisher_logs_and_returns_a_fake_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = load_publisher("log", {"level": "WARNING"}, workspace_root=tmp_path)
    item = make_item()
    with caplog.at_level(logging.INFO, logger="amplifier.publishers.log"):
        result = publisher.publish(item)
    assert result == PublishResult(external_id=f"dry-run:{item.idempotency_key}")
    assert not result.confirms
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "would publish variant 42" in record.getMessage()
    assert "kptd.kanwil.bali" in record.getMessage()
    assert record.amplifier_item["text"] == item.text  # type: ignore[attr-defined]
    assert "WARNING" in repr(publisher)


# --- retry timing ----------------------------------------------------------------------

unit = st.floats(min_value=0, max_value=1, exclude_max=True)


@given(
    attempt=st.integers(min_value=1, max_value=5000),
    base=st.floats(min_value=0.01, max_value=1e4),
    cap=st.floats(min_value=1, max_value=1e6),
    r=unit,
    retry_after=st.none() | st.floats(min_value=0, max_value=1e7),
    jitter=st.sampled_from(["equal", "full"]),
)
def test_retry_delay_is_bounded_and_honours_retry_after(
    attempt: int,
    base: float,
    cap: float,
    r: float,
    retry_after: float | None,
    jitter: Any,
) -> None:
    delay = retry_delay(
        attempt, base=base, cap=cap, retry_after=retry_after, rng=lambda: r, jitter=jitter
    )
    assert 0 <= delay <= max(cap, retry_after or 0)
    if retry_after is not None:
        assert delay >= retry_after
    else:
        assert delay <= cap
    if jitter == "equal":
        assert delay >= backoff_ceiling(attempt, base=base, cap=cap) / 2


@given(
    attempt=st.integers(min_value=1, max_value=200),
    base=st.floats(min_value=0.01, max_value=1e3),
    cap=st.floats(min_value=1, max_value=1e6),
    r=unit,
    jitter=st.sampled_from(["equal", "full"]),
)
def test_retry_delay_never_shrinks_as_attempts_grow(
    attempt: int, base: float, cap: float, r: float, jitter: Any
) -> None:
    def delay(n: int) -> float:
        return retry_delay(n, base=base, cap=cap, rng=lambda: r, jitter=jitter)

    assert delay(attempt + 1) >= delay(attempt)
    if jitter == "equal" and base * 2**attempt < cap:
        assert delay(attempt + 1) == pytest.approx(2 * delay(attempt))


@pytest.mark.parametrize("jitter", ["equal", "full"])
def test_retry_delay_grows_with_attempt_on_average(jitter: Any) -> None:
    rng = random.Random(7)
    means = [
        sum(retry_delay(n, base=30, cap=3600, rng=rng.random, jitter=jitter) for _ in range(400))
        / 400
        for n in range(1, 9)
    ]
    assert means == sorted(means) and means[-1] <= 3600
    assert means[0] == pytest.approx(30 * (0.75 if jitter == "equal" else 0.5), rel=0.1)


def test_retry_delay_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(0)
    with pytest.raises(ValueError, match="jitter"):
        retry_delay(1, jitter="none")  # type: ignore[arg-type]


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2027, 6, 23, 2, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    later = email.utils.format_datetime(now + dt.timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90.0
    assert parse_retry_after("Wed, 23 Jun 2027 01:00:00 GMT", now=now) == 0.0
    for junk in (None, "", "soon", "-5", "Wed, 99 Foo 2027"):
        assert parse_retry_after(junk, now=now) is None


def test_the_public_api_is_curated() -> None:
    for name in publishers.__all__:
        assert hasattr(publishers, name), name


@pytest.mark.parametrize("module", [base, retry, webhook], ids=lambda m: m.__name__)
def test_docstring_examples_run(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def test_the_log_sends_a_digest_to_the_log_and_the_outbox_beside_the_units_items(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from amplifier.digest import Digest, DigestItem

    digest = Digest("KANWIL-BALI", "Kanwil Bali", dt.date(2027, 6, 23), "Asia/Makassar")
    digest.items.append(DigestItem(7, "x:@kptd_bali", "manual", "09.00", "Selamat pagi."))
    with caplog.at_level(logging.INFO, logger="amplifier.digest"):
        LogPublisher({}, workspace_root=tmp_path).send_digest(digest)
    assert "digest for KANWIL-BALI to no admin" in caplog.text and "Selamat pagi." in caplog.text
    outbox = OutboxPublisher({"dir": "out", "fsync": False}, workspace_root=tmp_path)
    outbox.send_digest(digest)
    digest.admins.append("bali@kptd.go.id")
    outbox.send_digest(digest)  # sent again: rewritten, not a second copy
    (path,) = (tmp_path / "out").rglob("digest*")
    assert path == tmp_path / "out" / "KANWIL-BALI" / "2027-06-23" / "digest.txt"
    assert path.read_text(encoding="utf-8") == "Untuk: bali@kptd.go.id\n\n" + digest.as_text()
