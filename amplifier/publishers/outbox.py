"""``outbox``: ready-to-copy files for accounts that unit admins post by hand.

    [publishing]
    manual = "outbox"

    [publishing.publishers.outbox]
    dir = ".amplifier/outbox"            # relative to the workspace, or absolute

Each variant becomes two files in its unit's folder, dated in the unit's own timezone::

    <dir>/KANWIL-BALI/2027-06-23/0900-instagram-kptd.kanwil.bali-42.txt   the text, exactly
    <dir>/KANWIL-BALI/2027-06-23/0900-instagram-kptd.kanwil.bali-42.json  its metadata
    <dir>/KANWIL-BALI/2027-06-23/digest.txt           the unit admins' daily digest
    <dir>/index.json                                  every item, by unit and time
    <dir>/index.md                                    the same, for people

Publishing the same variant again (same idempotency key) rewrites its files in place, or
moves them if its time changed, so there is never a second copy. Every file is written to
a temporary name and renamed into place, and the index is updated under an exclusive lock
(``<dir>/.outbox.lock``, ``fcntl.flock``), so several daemons on one machine can share an
outbox. If ``index.json`` is lost or damaged it is rebuilt from the ``.json`` files.

Each update rewrites the whole index, so its cost grows with the index: ``publish_many``
writes a batch under one lock with one index update, and the index lists only items whose
publish time is less than ``index_days`` ago (their files stay on disk after they leave it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from amplifier.publishers.base import (
    PermanentPublishError,
    Publisher,
    PublishError,
    PublishItem,
    PublishResult,
    TransientPublishError,
    option_bool,
    option_float,
    require_str,
)

if TYPE_CHECKING:
    from amplifier.digest import Digest

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
LOCK_NAME = ".outbox.lock"
# The fields of an item's metadata that its index entry repeats.
ENTRY_FIELDS = (
    "idempotency_key",
    "variant_id",
    "unit_code",
    "unit_name",
    "unit_timezone",
    "platform",
    "handle",
    "account_url",
    "campaign_slug",
    "post_key",
    "title",
    "publish_at",
    "local_time",
    "file",
    "metadata",
    "written_at",
)


def safe_name(value: str, *, limit: int = 80) -> str:
    """``value`` reduced to letters, digits, ``.``, ``_`` and ``-``, safe as a file name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._")
    return cleaned[:limit] or "_"


def _utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_atomic(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _dump(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _index_json(entries: list[dict[str, Any]], updated: dt.datetime) -> bytes:
    document = {"version": INDEX_VERSION, "updated_at": _utc_text(updated), "items": entries}
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


_SPECIAL = re.compile(r"[\\|\r\n]")


def _cell(value: Any) -> str:
    """``value`` safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    if _SPECIAL.search(text) is None:  # the common case, kept cheap for big indexes
        return text
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _sort_key(entry: Mapping[str, Any]) -> tuple[str, str, str, str, int]:
    return (
        entry.get("unit_code", ""),
        entry.get("publish_at", ""),
        entry.get("platform", ""),
        entry.get("handle", ""),
        entry.get("variant_id", 0),
    )


def render_index_md(entries: list[dict[str, Any]], *, updated: dt.datetime) -> str:
    """The human index: one section per unit, one row per item; ``entries`` in index order."""
    lines = [
        "# Outbox (kotak keluar)",
        "",
        f"Updated {_utc_text(updated)}. {len(entries)} item{'s' if len(entries) != 1 else ''}.",
        "Copy each text file as it is, post it at its time, then record the post's link",
        "in amplifier so the variant is confirmed.",
    ]
    unit = None
    for entry in entries:
        if entry["unit_code"] != unit:
            unit = entry["unit_code"]
            lines += [
                "",
                f"## {_cell(unit)}: {_cell(entry['unit_name'])} ({_cell(entry['unit_timezone'])})",
                "",
                "| Time (waktu setempat) | Platform | Account (akun) | Campaign / post | File |",
                "|---|---|---|---|---|",
            ]
        name = entry["file"].rsplit("/", 1)[-1]
        lines.append(
            f"| {_cell(entry['local_time'])} | {_cell(entry['platform'])} "
            f"| {_cell(entry['handle'])} "
            f"| {_cell(entry['campaign_slug'])} / {_cell(entry['post_key'])} "
            f"| [{_cell(name)}]({entry['file']}) |"
        )
    return "\n".join(lines) + "\n"


class OutboxPublisher(Publisher):
    """Writes each variant as files for hand posting, with an index per outbox."""

    name: ClassVar[str] = "outbox"
    idempotent: ClassVar[bool] = True
    options_doc: ClassVar[Mapping[str, str] | None] = {
        "dir": "the outbox folder, relative to the workspace or absolute "
        "(default .amplifier/outbox)",
        "index_days": "days after its publish time that an item stays in index.json and "
        "index.md; 0 keeps every item (default 30). Files are never removed",
        "fsync": "flush each file to disk before renaming it into place (default true)",
    }

    def __init__(self, options: Mapping[str, Any], *, workspace_root: Path) -> None:
        super().__init__(options, workspace_root=workspace_root)
        folder = Path(require_str(self, options, "dir", default=".amplifier/outbox"))
        self.dir = folder if folder.is_absolute() else self.workspace_root / folder
        self.index_days = option_float(self, options, "index_days", 30)
        self.fsync = option_bool(self, options, "fsync", True)

    # -- paths ------------------------------------------------------------------------

    def paths_for(self, item: PublishItem) -> tuple[str, str, str]:
        """The item's text and metadata files (relative, with ``/``) and its local time."""
        try:
            zone = ZoneInfo(item.unit_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PermanentPublishError(
                f"unit {item.unit_code}: unknown timezone {item.unit_timezone!r}"
            ) from exc
        local = item.publish_at.astimezone(zone)
        folder = f"{safe_name(item.unit_code)}/{local:%Y-%m-%d}"
        stem = f"{local:%H%M}-{safe_name(item.platform)}-{safe_name(item.handle)}-{item.variant_id}"
        return f"{folder}/{stem}.txt", f"{folder}/{stem}.json", local.strftime("%Y-%m-%d %H:%M %Z")

    # -- publishing -------------------------------------------------------------------

    def publish(self, item: PublishItem) -> PublishResult:
        [outcome] = self.publish_many([item])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def publish_many(self, items: Sequence[PublishItem]) -> list[PublishResult | Exception]:
        """Write many items under one lock with one index update (much faster than one by one)."""
        now = dt.datetime.now(dt.UTC)
        outcomes: list[PublishResult | Exception] = []
        ready: list[tuple[int, PublishItem, dict[str, Any]]] = []
        for position, item in enumerate(items):
            try:
                ready.append((position, item, self._metadata(item, now)))
                outcomes.append(PublishResult(external_id=ready[-1][2]["file"]))
            except PermanentPublishError as exc:
                outcomes.append(exc)
        if not ready:
            return outcomes
        try:
            with self._locked():
                entries = self._read_index()
                replaced: list[dict[str, Any]] = []
                for position, item, metadata in ready:
                    try:
                        self._write_item(item, metadata)
                    except OSError as exc:
                        outcomes[position] = self._failure(exc)
                        continue
                    previous = entries.get(item.idempotency_key)
                    if previous and previous.get("file") != metadata["file"]:
                        replaced.append(previous)
                    entries[item.idempotency_key] = {k: metadata.get(k) for k in ENTRY_FIELDS}
                self._write_index(entries, now=now, keep={item.idempotency_key for item in items})
                for previous in replaced:  # only once the index points at the new files
                    for old in (previous.get("file"), previous.get("metadata")):
                        if old:
                            (self.dir / old).unlink(missing_ok=True)
        except OSError as exc:  # the lock or the index: none of the items counts as published
            failure = self._failure(exc)
            return [failure if isinstance(o, PublishResult) else o for o in outcomes]
        return outcomes

    def send_digest(self, digest: Digest) -> None:
        """Write the digest beside the unit's items of that day (rewritten if sent again)."""
        path = self.dir / safe_name(digest.unit_code) / digest.day.isoformat() / "digest.txt"
        to = "Untuk: " + (", ".join(digest.admins) or "-") + "\n\n"
        try:
            write_atomic(path, (to + digest.as_text()).encode("utf-8"), fsync=self.fsync)
        except OSError as exc:
            raise self._failure(exc) from exc

    def _metadata(self, item: PublishItem, now: dt.datetime) -> dict[str, Any]:
        text_rel, meta_rel, local_time = self.paths_for(item)
        return {
            **item.as_dict(),
            "local_time": local_time,
            "file": text_rel,
            "metadata": meta_rel,
            "written_at": _utc_text(now),
            "publisher": self.name,
        }

    def _write_item(self, item: PublishItem, metadata: dict[str, Any]) -> None:
        write_atomic(self.dir / metadata["file"], item.text.encode("utf-8"), fsync=self.fsync)
        write_atomic(self.dir / metadata["metadata"], _dump(metadata), fsync=self.fsync)

    def _failure(self, exc: OSError) -> PublishError:
        if isinstance(exc, PermissionError):
            error: PublishError = PermanentPublishError(
                f"outbox {self.dir}: permission denied writing {exc.filename}"
            )
        else:
            error = TransientPublishError(
                f"outbox {self.dir}: cannot write {exc.filename}: {exc.strerror}"
            )
        error.__cause__ = exc
        return error

    def describe(self) -> str:
        keep = f"items of the last {self.index_days:g} days" if self.index_days else "every item"
        return f"outbox: files in {self.dir}, index of {keep}"

    # -- the index --------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def read_index(self) -> list[dict[str, Any]]:
        """The index entries, sorted by unit and time (rebuilt if the index is damaged)."""
        with self._locked():
            return sorted(self._read_index().values(), key=_sort_key)

    def _read_index(self) -> dict[str, dict[str, Any]]:
        path = self.dir / "index.json"
        try:
            data = json.loads(path.read_bytes())
            items = data["items"]
            return {entry["idempotency_key"]: entry for entry in items}
        except FileNotFoundError:
            if any(self.dir.glob("*/*/*.json")):
                logger.warning("outbox %s: index.json is missing; rebuilding it", self.dir)
                return self._rebuild()
            return {}
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("outbox %s: index.json is damaged (%s); rebuilding it", self.dir, exc)
            return self._rebuild()

    def _rebuild(self) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        for meta in self.dir.glob("*/*/*.json"):
            try:
                data = json.loads(meta.read_bytes())
                entries[data["idempotency_key"]] = {k: data.get(k) for k in ENTRY_FIELDS}
            except (OSError, ValueError, KeyError, TypeError):
                logger.warning("outbox %s: skipping unreadable %s", self.dir, meta)
        return entries

    def _write_index(
        self, entries: dict[str, dict[str, Any]], *, now: dt.datetime, keep: set[str]
    ) -> None:
        if self.index_days:
            oldest = _utc_text(now - dt.timedelta(days=self.index_days))
            for key, entry in list(entries.items()):
                if key not in keep and (entry.get("publish_at") or "") < oldest:
                    del entries[key]
        ordered = sorted(entries.values(), key=_sort_key)
        write_atomic(self.dir / "index.json", _index_json(ordered, now), fsync=self.fsync)
        md = render_index_md(ordered, updated=now)
        write_atomic(self.dir / "index.md", md.encode("utf-8"), fsync=self.fsync)
