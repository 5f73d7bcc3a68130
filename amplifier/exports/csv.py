"""CSV export: one row per variant, for spreadsheets and scripts.

    report = export_csv(ws, "variants.csv", bom=True)   # Excel opens UTF-8 cleanly
    export_csv(ws, sys.stdout)                            # any text stream (newline="")

Columns (``COLUMNS``): variant id, campaign, post, unit code and name, region, timezone,
platform, handle, status, review, publish time in UTC and in the unit's zone, the central
post's time (UTC), the text, the number of findings, the live post's URL and when it was
confirmed. Times are ISO 8601 with their offset (``2027-04-05T02:00:00Z``,
``2027-04-05T10:00:00+08:00``); empty cells are empty strings.

Rows are streamed from the database to the file: memory does not grow with the number of
variants. A file is written to a temporary name and renamed into place.

Cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
apostrophe, so that a spreadsheet shows them as text instead of running them as a formula
(texts come from unit templates, which are untrusted); ``formula_guard=False`` writes every
cell exactly. ``amplifier confirm --import`` reads this file back (``variant`` and
``external_url``), so a team can fill in the live URLs and import them.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from amplifier.exports.rows import A, C, P, U, V, aware, plain, variant_rows

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

__all__ = ["COLUMNS", "CsvReport", "export_csv"]

COLUMNS = (
    "variant",
    "campaign",
    "post",
    "unit_code",
    "unit_name",
    "region",
    "timezone",
    "platform",
    "handle",
    "status",
    "review",
    "publish_at_utc",
    "publish_at_local",
    "central_at_utc",
    "text",
    "findings",
    "external_url",
    "confirmed_at_utc",
)
BOM = "\ufeff"
_FORMULA_START = "=+-@\t\r"


@dataclass
class CsvReport:
    rows: int
    path: Path | None  # None when written to a stream
    bom: bool
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "path": str(self.path) if self.path else None,
            "bom": self.bom,
            "seconds": round(self.seconds, 3),
        }


class _Times:
    """ISO 8601 text of times, made once per distinct value (times repeat a lot)."""

    def __init__(self) -> None:
        self._utc: dict[Any, str] = {}
        self._local: dict[tuple[Any, str], str] = {}
        self._zones: dict[str, ZoneInfo | None] = {}

    def utc(self, value: dt.datetime | str | None) -> str:
        if value is None:
            return ""
        found = self._utc.get(value)
        if found is None:
            text = aware(value).astimezone(dt.UTC).isoformat(timespec="seconds")
            found = self._utc[value] = text.replace("+00:00", "Z")
        return found

    def local(self, value: dt.datetime | str | None, tzname: str) -> str:
        if value is None:
            return ""
        key = (value, tzname)
        found = self._local.get(key)
        if found is None:
            zone = self._zone(tzname)
            moment = aware(value)
            found = moment.astimezone(zone).isoformat(timespec="seconds") if zone else ""
            self._local[key] = found
        return found

    def _zone(self, name: str) -> ZoneInfo | None:
        if name not in self._zones:
            try:
                self._zones[name] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self._zones[name] = None
        return self._zones[name]


def _count(findings: Any) -> int:
    """How many findings: the column as stored text (SQLite) or as decoded JSON."""
    if isinstance(findings, str):
        return 0 if findings == "[]" else len(json.loads(findings) or ())
    return len(findings or ())


def _query() -> sa.Select[Any]:
    # ``_Times`` reads each distinct (plain) time once
    return variant_rows(
        V.c.id,
        C.c.slug,
        P.c.key,
        U.c.code,
        U.c.name,
        U.c.region,
        U.c.timezone,
        plain(A.c.platform),
        A.c.handle,
        plain(V.c.status),
        plain(V.c.review),
        plain(V.c.publish_at),
        plain(P.c.central_at),
        V.c.text,
        plain(V.c.findings),
        V.c.external_url,
        plain(V.c.confirmed_at),
        order_by=[V.c.id],
    )


def _write(ws: Workspace, stream: IO[str], formula_guard: bool) -> int:
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    times = _Times()
    utc, local = times.utc, times.local
    risky = _FORMULA_START if formula_guard else ""

    def cell(value: str | None) -> str:
        if not value:
            return ""
        return "'" + value if value[0] in risky else value

    count = 0
    with ws.engine.connect() as conn:
        rows = conn.execution_options(yield_per=2000).execute(_query())
        for (
            vid,
            slug,
            post,
            code,
            name,
            region,
            tzname,
            platform,
            handle,
            status,
            review,
            publish_at,
            central_at,
            text,
            findings,
            url,
            confirmed_at,
        ) in rows:
            writer.writerow(
                (
                    vid,
                    slug,
                    post,
                    code,
                    cell(name),
                    cell(region),
                    tzname,
                    platform,
                    cell(handle),
                    status,
                    review,
                    utc(publish_at),
                    local(publish_at, tzname),
                    utc(central_at),
                    cell(text),
                    _count(findings),
                    cell(url),
                    utc(confirmed_at),
                )
            )
            count += 1
    return count


def export_csv(
    ws: Workspace,
    out: str | Path | IO[str] | None = None,
    *,
    bom: bool = False,
    formula_guard: bool = True,
) -> CsvReport:
    """Write one row per variant to the file ``out`` (or a text stream; default stdout).

    ``bom`` starts the output with a UTF-8 byte order mark, which Excel needs to read
    UTF-8. A stream should be opened with ``newline=""``.
    """
    started = time.perf_counter()
    if out is None or not isinstance(out, str | Path):
        stream = out if out is not None else sys.stdout
        if bom:
            stream.write(BOM)
        count = _write(ws, stream, formula_guard)
        stream.flush()
        return CsvReport(count, None, bom, time.perf_counter() - started)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        encoding = "utf-8-sig" if bom else "utf-8"
        with open(tmp, "w", encoding=encoding, newline="") as handle:
            count = _write(ws, handle, formula_guard)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return CsvReport(count, path.resolve(), bom, time.perf_counter() - started)
