"""iCalendar export: one subscribable calendar per unit, per account or per campaign.

    report = export_ics(ws, "public/kalender", by=("unit", "campaign"))
    # public/kalender/units/KANWIL-BALI.ics, public/kalender/campaigns/hut-ri-2027.ics, …

Every variant that has a publish time and is on its way, out, or stopped (scheduled, held,
publishing, published, missed, failed, uncertain, cancelled) is one ``VEVENT``:

- ``UID`` is ``<idempotency key>@amplifier``: the same from one export to the next, and the
  same in the unit's, the account's and the campaign's calendar;
- ``DTSTART;TZID=<unit zone>`` with a ``VTIMEZONE`` for every zone used (made by
  ``icalendar.Timezone.from_tzid`` from the system's zoneinfo), ``DURATION:PT15M``;
- ``SUMMARY`` is platform, account and post title; ``DESCRIPTION`` the ready-to-copy text;
  ``URL`` the live post once published; ``STATUS`` is ``CANCELLED`` for cancelled variants,
  ``TENTATIVE`` for held ones and ``CONFIRMED`` otherwise (amplifier's own status is in
  ``X-AMPLIFIER-STATUS``, the variant id in ``X-AMPLIFIER-VARIANT``);
- ``DTSTAMP`` is when amplifier last changed the variant, so an unchanged database gives
  byte-identical files (there is no ``METHOD``, RFC 5545 §3.8.7.2).

Every unit, account or campaign in the database gets its file, even with no events, so a
calendar that empties is rewritten rather than left stale; file names never change.

**SEQUENCE.** The database keeps no history of publish times, so the export keeps one:
``<out>/.amplifier-ics.json`` maps each idempotency key to the start and ``STATUS`` last
written and the ``SEQUENCE`` they were written with. An event is exported with the stored
sequence if its start and status are unchanged, with the stored sequence + 1 if either
changed (RFC 5545 §3.8.7.4), and with 0 the first time. Entries are never dropped, so a
variant that loses its time and gets a new one later still moves up. Several calendar
views of one variant read the same entry, so they agree. The state is written last,
atomically: an interrupted export is simply redone by the next one. Exports into one
folder are serialised by a lock file. Losing the state file restarts sequences at 0.

**Speed** (``benchmarks/exports.py``: 100,000 variants, 5,000 unit calendars, in about
6 s on a small shared machine). ``icalendar`` builds the ``VTIMEZONE`` components, once
per zone and process. Events and calendar headers are written by this module (RFC 5545
TEXT escaping and 75-octet folding, checked against ``icalendar``'s parser in the tests):
building and serialising one ``icalendar.Event`` per variant took about 1 ms on the same
machine, 100 s for 100,000. Rows are streamed in calendar order, values that repeat
(times, account names, titles) are formatted once, and files are written by a background
thread while the next calendars are built; an unchanged file is left untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from amplifier.errors import InvalidOperation
from amplifier.exports.rows import A, C, P, U, V, aware, plain, variant_rows
from amplifier.models import utcnow
from amplifier.publishers.outbox import safe_name, write_atomic
from amplifier.vocab import PLATFORM_NAMES, VariantStatus

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

__all__ = [
    "CALENDAR_STATUSES",
    "GROUPINGS",
    "IcsReport",
    "export_ics",
    "fold",
    "text_value",
]

Grouping = Literal["unit", "account", "campaign"]
GROUPINGS: tuple[Grouping, ...] = ("unit", "account", "campaign")

#: variants in these states appear in calendars (when they have a publish time)
CALENDAR_STATUSES = (
    VariantStatus.SCHEDULED,
    VariantStatus.HELD,
    VariantStatus.PUBLISHING,
    VariantStatus.PUBLISHED,
    VariantStatus.MISSED,
    VariantStatus.FAILED,
    VariantStatus.UNCERTAIN,
    VariantStatus.CANCELLED,
)
_IN_CALENDARS = frozenset(str(s) for s in CALENDAR_STATUSES)
STATE_FILE = ".amplifier-ics.json"
LOCK_FILE = ".amplifier-ics.lock"
STATE_VERSION = 1
DURATION = "PT15M"
UID_DOMAIN = "amplifier"


@dataclass
class IcsReport:
    folder: Path
    events: int = 0  # distinct variants written
    changed: int = 0  # of those, how many got a higher SEQUENCE than last time
    new: int = 0  # of those, how many were never exported to this folder before
    calendars: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # by → files
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "events": self.events,
            "changed": self.changed,
            "new": self.new,
            "calendars": {
                by: [{"file": name, "events": count} for name, count in files]
                for by, files in self.calendars.items()
            },
            "seconds": round(self.seconds, 3),
        }


# --- RFC 5545 text ------------------------------------------------------------------------

# Control characters are not allowed in TEXT values (§3.3.11), except HTAB and line breaks,
# which are escaped.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_value(value: str) -> str:
    r"""``value`` escaped as an iCalendar TEXT value: ``\\ \; \, \n``; controls dropped."""
    if _CONTROLS.search(value):
        value = _CONTROLS.sub("", value)
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> bytes:
    """One content line as UTF-8, folded at 75 octets, with its CRLF (RFC 5545 §3.1).

    A fold never splits a UTF-8 sequence nor a backslash escape (some clients mind).
    """
    return _fold(line).encode()


def _fold(line: str) -> str:
    """``fold`` as text: the folded line and its CRLF."""
    if line.isascii():  # one octet a character: cut the string itself
        size = len(line)
        if size <= 75:
            return line + "\r\n"
        cuts = range(75, size, 74)  # continuation lines begin with a space: 74 more octets
        if "\\" not in line or "\\" not in "".join([line[c - 1] for c in cuts]):
            return "\r\n ".join([line[:75], *[line[c : c + 74] for c in cuts]]) + "\r\n"
        parts = []  # a cut would fall after a backslash: walk it, cut by cut
        start, limit = 0, 75
        while size - start > limit:
            end = start + limit
            if line[end - 1] == "\\":
                run = end - 1
                while run > start and line[run - 1] == "\\":
                    run -= 1
                if (end - run) % 2 and end - 1 > start:  # the last backslash starts an escape
                    end -= 1
            parts.append(line[start:end])
            start, limit = end, 74
        parts.append(line[start:])
        return "\r\n ".join(parts) + "\r\n"
    data = line.encode()
    if len(data) <= 75:
        return line + "\r\n"
    chunks = []
    start, limit, size = 0, 75, len(data)
    while size - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # inside a multi-byte character
            end -= 1
        run = end
        while run > start and data[run - 1] == 0x5C:
            run -= 1
        if (end - run) % 2 and end - 1 > start:
            end -= 1
        chunks.append(data[start:end])
        start, limit = end, 74
    chunks.append(data[start:])
    return b"\r\n ".join(chunks).decode() + "\r\n"


_NOT_IN_URI = re.compile(r"[\x00-\x20\x7f]")


def _uri(value: str | None) -> str | None:
    """A URI property value, or None if it has characters a content line cannot hold."""
    if not value or _NOT_IN_URI.search(value):
        return None
    return value


def _utc(value: dt.datetime | str) -> str:
    v = aware(value).astimezone(dt.UTC)
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}Z"


def _local(v: dt.datetime) -> str:
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}"


# --- time zones ---------------------------------------------------------------------------


class _Zones:
    """Time formatting for one export: zones, VTIMEZONE blocks and DTSTART/DTSTAMP text,
    each made once (publish times repeat a lot: many variants share a minute)."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.first, self.last = first, last
        self._zones: dict[str, ZoneInfo | None] = {}
        self._starts: dict[tuple[Any, str], tuple[str | None, str]] = {}
        self._stamps: dict[Any, str] = {}
        self._texts: dict[str, str] = {}

    def zone(self, name: str) -> ZoneInfo | None:
        """The zone, if it is known and icalendar can describe it as a VTIMEZONE."""
        if name not in self._zones:
            try:
                zone: ZoneInfo | None = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                zone = None
            self._zones[name] = zone if zone is not None and self.block(name) else None
        return self._zones[name]

    def block(self, name: str) -> bytes | None:
        return _vtimezone(name, self.first, self.last)

    def block_text(self, name: str) -> str:
        found = self._texts.get(name)
        if found is None:
            found = self._texts[name] = (self.block(name) or b"").decode()
        return found

    def start(self, when: dt.datetime | str, tzname: str) -> tuple[str | None, str]:
        """``(TZID or None, DTSTART line)``; the UTC form for unknown zones and for the
        repeated hour of a DST change (a local time there would be ambiguous)."""
        key = (when, tzname)
        found = self._starts.get(key)
        if found is None:
            zone = self.zone(tzname)
            local = aware(when).astimezone(zone) if zone is not None else None
            if local is None or local.fold:
                found = (None, f"DTSTART:{self.stamp(when)}")
            else:
                found = (tzname, f"DTSTART;TZID={tzname}:{_local(local)}")
            self._starts[key] = found
        return found

    def stamp(self, when: dt.datetime | str) -> str:
        """``when`` as UTC text, e.g. ``20270405T023000Z``."""
        found = self._stamps.get(when)
        if found is None:
            found = self._stamps[when] = _utc(when)
        return found


@functools.lru_cache(maxsize=256)
def _vtimezone(name: str, first: dt.date, last: dt.date) -> bytes | None:
    """The VTIMEZONE of zone ``name`` from ``first`` to ``last`` (icalendar scans the zone's
    offsets hour by hour, about 30-60 ms a zone whatever the span: made once per process)."""
    from icalendar import Timezone

    try:
        return Timezone.from_tzid(name, first_date=first, last_date=last).to_ical()
    except ValueError:
        return None


# --- sequence state -----------------------------------------------------------------------


class _Sequences:
    """Start, status and SEQUENCE last exported per idempotency key (see the docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.old: dict[str, list[Any]] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                events = data.get("events") if isinstance(data, dict) else None
                if isinstance(events, dict) and data.get("version") == STATE_VERSION:
                    self.old = events
            except (OSError, ValueError):
                self.old = {}  # damaged: sequences restart, the calendars are still right
        self.new: dict[str, list[Any]] = {}
        self.changed = 0
        self.created = 0

    def sequence(self, key: str, start: str, status: str) -> int:
        entry = self.new.get(key)
        if entry is not None:
            return int(entry[2])
        old = self.old.get(key)
        if not (isinstance(old, list) and len(old) == 3 and isinstance(old[2], int)):
            seq = 0
            self.created += 1
        elif old[0] == start and old[1] == status:
            seq = int(old[2])
        else:
            seq = int(old[2]) + 1
            self.changed += 1
        self.new[key] = [start, status, seq]
        return seq

    def save(self) -> None:
        if not self.changed and not self.created and self.path.exists():
            return  # nothing new to remember
        merged = {**self.old, **self.new}
        data = {"version": STATE_VERSION, "events": merged}
        write_atomic(self.path, json.dumps(data, separators=(",", ":")).encode())


# --- events -------------------------------------------------------------------------------


_ICS_STATUS = {str(VariantStatus.CANCELLED): "CANCELLED", str(VariantStatus.HELD): "TENTATIVE"}


class _Events:
    """Builds VEVENTs; what repeats across events (names, titles, slugs) is escaped once."""

    def __init__(self, zones: _Zones, sequences: _Sequences) -> None:
        self.zones = zones
        self.sequences = sequences
        self._accounts: dict[tuple[str, str], str] = {}
        self._titles: dict[str, str] = {}
        self._slugs: dict[str, str] = {}

    def event(self, row: Any) -> tuple[str | None, str]:
        """The VEVENT of one variant row, and the zone its DTSTART names (None for UTC)."""
        _, vid, key, text, start, status, url, updated, platform, handle, tz, post, title, slug = (
            row
        )
        zones = self.zones
        ics_status = _ICS_STATUS.get(status, "CONFIRMED")
        start_utc = zones.stamp(start)
        seq = self.sequences.sequence(key, start_utc, ics_status)
        tzid, dtstart = zones.start(start, tz)
        account = self._accounts.get((platform, handle))
        if account is None:
            name = f"{PLATFORM_NAMES.get(platform, platform)} @{handle}: "
            account = self._accounts[(platform, handle)] = "SUMMARY:" + text_value(name)
        title = title or post
        escaped_title = self._titles.get(title)
        if escaped_title is None:
            escaped_title = self._titles[title] = text_value(title)
        category = self._slugs.get(slug)
        if category is None:
            category = self._slugs[slug] = _fold("CATEGORIES:" + text_value(slug))
        link = _fold("URL:" + url) if url and status == "published" and _uri(url) else ""
        return tzid, (
            f"BEGIN:VEVENT\r\nUID:{key}@{UID_DOMAIN}\r\n"
            f"DTSTAMP:{zones.stamp(updated or start)}\r\n{dtstart}\r\n"
            f"DURATION:{DURATION}\r\nSEQUENCE:{seq}\r\nSTATUS:{ics_status}\r\n"
            f"{_fold(account + escaped_title)}{_fold('DESCRIPTION:' + text_value(text or ''))}"
            f"{category}TRANSP:TRANSPARENT\r\n{link}"
            f"X-AMPLIFIER-VARIANT:{vid}\r\nX-AMPLIFIER-STATUS:{status}\r\nEND:VEVENT\r\n"
        )


# --- calendars ----------------------------------------------------------------------------


@dataclass
class _Group:
    id: int
    file: str  # relative to the export folder
    name: str
    timezone: str | None = None  # X-WR-TIMEZONE, for calendars of one zone


def _header(group: _Group, version: str) -> str:
    lines = [
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n",
        _fold(f"PRODID:-//amplifier//amplifier {version}//EN"),
        "CALSCALE:GREGORIAN\r\n",
        _fold(f"NAME:{text_value(group.name)}"),
        _fold(f"X-WR-CALNAME:{text_value(group.name)}"),
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\nX-PUBLISHED-TTL:PT1H\r\n",
    ]
    if group.timezone:
        lines.append(_fold(f"X-WR-TIMEZONE:{text_value(group.timezone)}"))
    return "".join(lines)


def _unique(groups: list[_Group]) -> list[_Group]:
    """Make file names unique (two handles could reduce to the same safe name)."""
    seen: set[str] = set()
    for g in groups:
        if g.file.lower() in seen:
            stem = g.file.removesuffix(".ics")
            g.file = f"{stem}-{g.id}.ics"
        seen.add(g.file.lower())
    return groups


def _groups(conn: sa.Connection, by: Grouping) -> list[_Group]:
    if by == "unit":
        rows = conn.execute(sa.select(U.c.id, U.c.code, U.c.name, U.c.timezone).order_by(U.c.id))
        return _unique(
            [
                _Group(r.id, f"units/{safe_name(r.code)}.ics", f"{r.code} · {r.name}", r.timezone)
                for r in rows
            ]
        )
    if by == "account":
        rows = conn.execute(
            sa.select(A.c.id, A.c.platform, A.c.handle, A.c.handle_key, U.c.code, U.c.timezone)
            .join(U, U.c.id == A.c.unit_id)
            .order_by(A.c.id)
        )
        return _unique(
            [
                _Group(
                    r.id,
                    f"accounts/{r.platform}-{safe_name(r.handle_key)}.ics",
                    f"{PLATFORM_NAMES.get(str(r.platform), str(r.platform))} @{r.handle} "
                    f"· {r.code}",
                    r.timezone,
                )
                for r in rows
            ]
        )
    rows = conn.execute(sa.select(C.c.id, C.c.slug, C.c.title).order_by(C.c.id))
    return _unique([_Group(r.id, f"campaigns/{r.slug}.ics", r.title) for r in rows])


def _event_query(by: Grouping) -> sa.Select[Any]:
    key = {"unit": V.c.unit_id, "account": V.c.account_id, "campaign": C.c.id}[by]
    return variant_rows(
        key.label("group_id"),
        V.c.id,
        V.c.idempotency_key,
        V.c.text,
        plain(V.c.publish_at),  # raw: _Zones reads and caches times
        plain(V.c.status),  # plain strings: no Enum conversion
        V.c.external_url,
        plain(V.c.updated_at),
        plain(A.c.platform),
        A.c.handle,
        U.c.timezone,
        P.c.key.label("post_key"),
        P.c.title.label("post_title"),
        C.c.slug,
        # the status is checked in Python (_by_group): in SQLite, a filter on it picks the
        # status index, and reading 100,000 rows through it takes twice as long as a scan
        where=[V.c.publish_at.is_not(None)],
        order_by=[key, V.c.publish_at, V.c.id],
    )


def _by_group(rows: Iterable[Any]) -> Iterator[tuple[int, list[Any]]]:
    current: int | None = None
    batch: list[Any] = []
    wanted = _IN_CALENDARS
    for row in rows:
        if row[5] not in wanted:
            continue
        if row[0] != current:
            if batch and current is not None:
                yield current, batch
            current, batch = row[0], []
        batch.append(row)
    if batch and current is not None:
        yield current, batch


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _span(conn: sa.Connection) -> tuple[dt.date, dt.date]:
    """The dates the VTIMEZONE blocks cover: from January 1 of the year before the first
    publish time to January 1 two years after the last (whole years, so that the blocks,
    and the files, stay the same from one export to the next)."""
    low, high = conn.execute(
        sa.select(sa.func.min(V.c.publish_at), sa.func.max(V.c.publish_at)).where(
            V.c.publish_at.is_not(None)
        )
    ).one()
    this_year = utcnow().year
    return dt.date(_year(low, this_year) - 1, 1, 1), dt.date(_year(high, this_year) + 2, 1, 1)


def _year(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, str):  # SQLite aggregates bypass the column type
        return int(value[:4])
    return cast(dt.datetime, value).year


class _Files:
    """Writes calendar files on a background thread, so that the disk works while the
    next calendars are built; at most ``depth`` files wait in memory."""

    def __init__(self, root: Path, depth: int = 512) -> None:
        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amplifier-ics")
        self._slots = threading.BoundedSemaphore(depth)
        self._futures: list[Future[None]] = []

    def write(self, name: str, data: bytes) -> None:
        self._slots.acquire()
        future = self._pool.submit(self._write, self.root / name, data)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def close(self) -> None:
        try:
            for future in self._futures:
                future.result()  # re-raise the first failure
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Leave an identical file alone (its mtime is what HTTP caches of subscribers see)."""
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                return
        except OSError:
            pass
        write_atomic(path, data, fsync=False)


def _write_groups(
    files: _Files,
    groups: list[_Group],
    batches: Iterator[tuple[int, list[Any]]],
    events: _Events,
    version: str,
    exported: set[int],
) -> list[tuple[str, int]]:
    """Write one calendar per group; ``batches`` are the groups' events, by ascending id."""
    written = []
    pending = next(batches, None)
    for group in groups:  # ascending id, like the batches
        parts: list[str] = []
        used: set[str] = set()
        while pending is not None and pending[0] <= group.id:
            if pending[0] == group.id:
                for row in pending[1]:
                    tzid, event = events.event(row)
                    parts.append(event)
                    exported.add(row[1])
                    if tzid is not None:
                        used.add(tzid)
            pending = next(batches, None)
        blocks = [events.zones.block_text(name) for name in sorted(used)]
        text = "".join([_header(group, version), *blocks, *parts, "END:VCALENDAR\r\n"])
        files.write(group.file, text.encode())
        written.append((group.file, len(parts)))
    return written


def export_ics(ws: Workspace, folder: str | Path, *, by: Iterable[str] = ("unit",)) -> IcsReport:
    """Write the calendars of every unit, account and/or campaign into ``folder``.

    ``by`` names the views: any of ``"unit"`` (``units/<CODE>.ics``), ``"account"``
    (``accounts/<platform>-<handle>.ics``) and ``"campaign"`` (``campaigns/<slug>.ics``).
    """
    from amplifier import __version__

    started = time.perf_counter()
    ways: list[Grouping] = []
    for name in by:
        if name not in GROUPINGS:
            raise InvalidOperation(f"unknown grouping '{name}': use {', '.join(GROUPINGS)}")
        if name not in ways:
            ways.append(cast(Grouping, name))
    root = Path(folder)
    report = IcsReport(root.resolve())
    exported: set[int] = set()
    with _locked(root):
        sequences = _Sequences(root / STATE_FILE)
        files = _Files(root)
        try:
            with ws.engine.connect() as conn:
                events = _Events(_Zones(*_span(conn)), sequences)
                for way in ways:
                    groups = _groups(conn, way)
                    rows = conn.execution_options(yield_per=2000).execute(_event_query(way))
                    report.calendars[way] = _write_groups(
                        files, groups, _by_group(rows), events, __version__, exported
                    )
        finally:
            files.close()
        sequences.save()
    report.events = len(exported)
    report.changed = sequences.changed
    report.new = sequences.created
    report.seconds = time.perf_counter() - started
    return report
