"""HTML calendar: static, self-contained pages that open from ``file://`` with no network.

    report = export_html(ws, "public/kalender")
    # public/kalender/index.html, public/kalender/campaigns/hut-ri-2027.html, …

Each page is one file: the page, its CSS and its JavaScript (``amplifier/data/exports/``)
and its data, embedded as JSON. The JavaScript renders a month view and a week (agenda)
view, filters by unit, campaign and platform, and shows a variant's text, status, account,
unit and time when an entry is clicked. UI labels are in Bahasa Indonesia.

- **Pages.** ``index.html`` lists every campaign and, while the export holds at most
  ``index_limit`` variants, shows them all in one calendar; ``campaigns/<slug>.html`` is
  one campaign's calendar. File names never change from one export to the next.
- **Entries** are the variants that have a publish time and are in a calendar status
  (``amplifier.exports.ics.CALENDAR_STATUSES``), placed on their unit's local date, with
  the time in the unit's own zone and its abbreviation (``09.00 WITA``; the local name
  abroad), made by ``amplifier.render.context``'s helpers.
- **Colours.** Each campaign's colour is derived from its slug: the same in every export.
- **Shaded days.** Holidays and cuti bersama (for campaigns that avoid holidays), Nyepi,
  quiet periods, custom blackouts and active embargoes, built as the timing stage builds
  them (``amplifier.timing.build_blackouts``), are shaded on the local days they touch in
  the zone of each unit they apply to; the shading follows the unit, campaign and
  platform filters, and the legend names them.
- **Untrusted text.** Variant texts are unit-authored. In the page the JSON has every
  ``<``, ``>`` and ``&`` escaped (so no ``</script>`` or ``<!--`` can end it), and the
  JavaScript writes data only with ``textContent``, never as markup.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import sqlalchemy as sa
from markupsafe import Markup

from amplifier.errors import InvalidOperation
from amplifier.exports.ics import CALENDAR_STATUSES
from amplifier.exports.rows import A, C, P, U, V, aware, plain, variant_rows
from amplifier.load import load_calendars
from amplifier.publishers.outbox import write_atomic
from amplifier.render.context import jam, local_time, tanggal
from amplifier.timetable import workspace_blackouts
from amplifier.timing import (
    Blackout,
    TimingSpec,
    UnitInfo,
    years_between,
)
from amplifier.timing.clock import local_date
from amplifier.vocab import PLATFORM_NAMES

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

__all__ = ["INDEX_LIMIT", "HtmlReport", "campaign_colour", "export_html", "page_json"]

#: the index page shows every variant in one calendar up to this many
INDEX_LIMIT = 20_000
EMBARGO = "embargo"
_IN_CALENDARS = frozenset(str(s) for s in CALENDAR_STATUSES)
Progress = Callable[[str], None]
_When = tuple[str, str, str, int]


@dataclass
class HtmlReport:
    folder: Path
    variants: int = 0  # entries written (each variant once, whatever the pages)
    pages: list[tuple[str, int]] = field(default_factory=list)  # (file, entries)
    index: Path | None = None  # the page to open first
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "index": str(self.index) if self.index else None,
            "variants": self.variants,
            "pages": [{"file": name, "entries": n} for name, n in self.pages],
            "seconds": round(self.seconds, 3),
        }


def campaign_colour(slug: str) -> str:
    """The campaign's colour, ``hsl(…)``: derived from the slug, so stable across exports."""
    digest = hashlib.blake2b(slug.encode(), digest_size=2).digest()
    hue = int.from_bytes(digest) * 360 // 65536
    return f"hsl({hue} 62% 40%)"


def page_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no character of it
    can end the element or start a comment, whatever the text holds."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# --- what the pages are made of ---------------------------------------------------------


@dataclass
class _Campaign:
    id: int
    slug: str
    title: str
    start: str
    end: str
    active: bool
    avoid_holidays: bool
    file: str

    def as_json(self, href: str | None) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "colour": campaign_colour(self.slug),
            "start": self.start,
            "end": self.end,
            "active": self.active,
            "avoidHolidays": self.avoid_holidays,
            "href": href,
        }


class _Page:
    """The entries of one page, with the tables (units, accounts, posts) they point into."""

    def __init__(self, campaigns: list[_Campaign]) -> None:
        self.campaigns = campaigns
        self._campaign_index = {c.id: i for i, c in enumerate(campaigns)}
        self.units: set[int] = set()  # ids of the units with entries here
        self.accounts: dict[int, int] = {}
        self.posts: dict[int, int] = {}
        self.entries: list[list[Any]] = []
        self.first: str | None = None
        self.last: str | None = None

    def add(self, row: tuple[Any, ...], when: _When, ctx: _Context) -> None:
        vid, _, status, text, url, account_id, post_id, campaign_id, _ = row
        day, clock, full, epoch = when
        account = ctx.accounts[account_id]
        self.units.add(account[0])
        a = self.accounts.get(account_id)
        if a is None:
            a = self.accounts[account_id] = len(self.accounts)
        p = self.posts.get(post_id)
        if p is None:
            p = self.posts[post_id] = len(self.posts)
        self.entries.append(
            [
                vid,
                a,
                self._campaign_index[campaign_id],
                p,
                day,
                clock,
                full,
                status,
                text or "",
                url if status == "published" else None,
                epoch,
            ]
        )
        if self.first is None or day < self.first:
            self.first = day
        if self.last is None or day > self.last:
            self.last = day

    def data(self, ctx: _Context, title: str, hrefs: list[str | None]) -> dict[str, Any]:
        units = sorted(self.units, key=lambda uid: ctx.units[uid].code)
        order = {uid: i for i, uid in enumerate(units)}
        accounts: list[list[Any]] = [[]] * len(self.accounts)
        for aid, i in self.accounts.items():
            unit_id, platform, handle = ctx.accounts[aid]
            accounts[i] = [order[unit_id], platform, handle]
        posts = [""] * len(self.posts)
        for pid, i in self.posts.items():
            posts[i] = ctx.posts[pid]
        return {
            "title": title,
            "campaigns": [c.as_json(h) for c, h in zip(self.campaigns, hrefs, strict=True)],
            "units": [[ctx.units[uid].code, ctx.names[uid], ctx.units[uid].zone] for uid in units],
            "accounts": accounts,
            "platforms": dict(PLATFORM_NAMES),
            "posts": posts,
            "entries": self.entries,
            "shades": ctx.shades(units, order, self.first, self.last),
        }


class _Context:
    """What every page reads: units, accounts, posts and blackouts, read once."""

    def __init__(self, ws: Workspace, conn: sa.Connection) -> None:
        rows = conn.execute(
            sa.select(
                U.c.id,
                U.c.code,
                U.c.name,
                U.c.timezone,
                U.c.parent_id,
                U.c.region,
                U.c.tags,
                plain(U.c.kind),
            )
        ).all()
        parents = {r.id: r.parent_id for r in rows}
        codes = {r.id: r.code for r in rows}
        self.names: dict[int, str] = {r.id: r.name for r in rows}
        self.units: dict[int, UnitInfo] = {}
        for r in rows:
            ancestors, seen, parent = [], {r.id}, parents.get(r.id)
            while parent is not None and parent not in seen:
                seen.add(parent)
                ancestors.append(codes[parent])
                parent = parents.get(parent)
            self.units[r.id] = UnitInfo(
                r.code, r.timezone, r.kind, r.region, tuple(ancestors), tuple(r.tags or ())
            )
        self.accounts: dict[int, tuple[int, str, str]] = {
            r.id: (r.unit_id, r.platform, r.handle)
            for r in conn.execute(sa.select(A.c.id, A.c.unit_id, plain(A.c.platform), A.c.handle))
        }
        self.posts: dict[int, str] = {
            r.id: r.title or r.key for r in conn.execute(sa.select(P.c.id, P.c.key, P.c.title))
        }
        self._blackouts = _blackouts(ws, conn)
        self._times: dict[tuple[Any, str], _When] = {}

    def when(self, publish_at: Any, zone: str) -> _When:
        """(local date, '09.00 WITA', 'Jumat, 29 Oktober 2027, 09.00 WITA', epoch seconds),
        made once per distinct time and zone."""
        key = (publish_at, zone)
        found = self._times.get(key)
        if found is None:
            try:
                local = local_time(aware(publish_at), zone)
            except ValueError:  # an unknown zone (pendulum's InvalidTimezone): UTC, said so
                local = local_time(aware(publish_at), "UTC")
            clock = jam(local)
            found = (
                local.date().isoformat(),
                clock,
                f"{tanggal(local)}, {clock}",
                int(local.timestamp()),
            )
            self._times[key] = found
        return found

    def shades(
        self, units: list[int], order: dict[int, int], first: str | None, last: str | None
    ) -> list[list[Any]]:
        """``[name, kind, reason, campaigns|None, platforms|None, units|None, days]`` for
        every blackout that touches the page's months, per group of units it shades alike."""
        if first is None or last is None:
            return []
        low = dt.date.fromisoformat(first).replace(day=1) - dt.timedelta(days=7)
        high = dt.date.fromisoformat(last).replace(day=28) + dt.timedelta(days=14)
        zones = sorted({self.units[u].zone for u in units})
        out: list[list[Any]] = []
        for b in self._blackouts:
            days_by_zone = {z: _days(b, z, low, high) for z in zones}
            if not any(days_by_zone.values()):
                continue
            campaigns = sorted(b.campaigns) if b.campaigns is not None else None
            platforms = sorted(b.scope.platforms) or None
            head = [b.name, b.kind.value, b.reason or "", campaigns, platforms]
            if b.scope.all_units and len({tuple(d) for d in days_by_zone.values()}) == 1:
                out.append([*head, None, days_by_zone[zones[0]]])
                continue
            for zone_name in zones:
                days = days_by_zone[zone_name]
                matched = [
                    order[u]
                    for u in units
                    if self.units[u].zone == zone_name and b.scope.matches(self.units[u])
                ]
                if days and matched:
                    out.append([*head, matched, days])
        return out


def _blackouts(ws: Workspace, conn: sa.Connection) -> list[Blackout]:
    """Every blackout the timing stage knows of (holidays, Nyepi, quiet periods, custom
    blackouts, active embargoes), for the years the variants' times touch."""
    low, high = conn.execute(
        sa.select(sa.func.min(V.c.publish_at), sa.func.max(V.c.publish_at)).where(
            V.c.publish_at.is_not(None)
        )
    ).one()
    if low is None:
        return []
    low, high = aware(low), aware(high)
    # holidays and quiet periods live in the calendar files only (not in the database)
    calendars = load_calendars(ws.root)
    return workspace_blackouts(
        ws,
        conn,
        years_between(low, high),
        holidays=[h for cal in calendars for h in cal.holidays],
        quiet_periods=[q for cal in calendars for q in cal.quiet_periods],
    )


def _days(b: Blackout, zone_name: str, low: dt.date, high: dt.date) -> list[str]:
    """The local dates in ``zone_name`` that the blackout touches, within [low, high]."""
    if b.local_day is not None and not low <= b.local_day <= high:
        return []
    try:
        start, end = b.span(zone_name)
        first, last = local_date(start, zone_name), local_date(max(end - 1, start), zone_name)
    except ValueError:
        return []
    first, last = max(first, low), min(last, high)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _campaigns(ws: Workspace, conn: sa.Connection) -> list[_Campaign]:
    out = []
    settings = ws.settings.timing
    for r in conn.execute(sa.select(C).order_by(C.c.slug)):
        try:
            avoid = settings.resolve(TimingSpec.model_validate(r.timing or {}))[1]
        except ValueError:
            avoid = settings.avoid_holidays
        out.append(
            _Campaign(
                r.id,
                r.slug,
                r.title,
                r.period_start.isoformat(),
                r.period_end.isoformat(),
                bool(r.active),
                avoid,
                f"campaigns/{r.slug}.html",
            )
        )
    return out


def _number(n: int) -> str:
    """``20.000``: thousands separated as Indonesian writes them."""
    return f"{n:,}".replace(",", ".")


def _pick(campaigns: list[_Campaign], wanted: str | None) -> list[_Campaign]:
    if wanted is None:
        return campaigns
    for c in campaigns:
        if c.slug == wanted:
            return [c]
    near = difflib.get_close_matches(wanted, [c.slug for c in campaigns], n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else ""
    known = ", ".join(c.slug for c in campaigns) or "none"
    raise InvalidOperation(f"no campaign '{wanted}'{hint}; campaigns: {known}")


def _rows(conn: sa.Connection, campaign_ids: list[int]) -> Iterator[tuple[Any, ...]]:
    query = variant_rows(
        V.c.id,
        plain(V.c.publish_at),
        plain(V.c.status),
        V.c.text,
        V.c.external_url,
        V.c.account_id,
        V.c.post_id,
        P.c.campaign_id,
        U.c.timezone,
        # the status is checked in Python, as in the ICS export (a scan is faster)
        where=[V.c.publish_at.is_not(None), P.c.campaign_id.in_(campaign_ids)],
        order_by=[P.c.campaign_id, V.c.publish_at, V.c.id],
    )
    wanted = _IN_CALENDARS
    for row in conn.execution_options(yield_per=5000).execute(query):
        if row[2] in wanted:
            yield tuple(row)


# --- the page ---------------------------------------------------------------------------


@functools.cache
def _template() -> jinja2.Template:
    assets = resources.files("amplifier") / "data" / "exports"
    env = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    # our own assets, inlined as they are
    env.globals["css"] = Markup((assets / "calendar.css").read_text(encoding="utf-8"))
    env.globals["js"] = Markup((assets / "calendar.js").read_text(encoding="utf-8"))
    return env.from_string((assets / "calendar.html.j2").read_text(encoding="utf-8"))


def _render(data: dict[str, Any], back: str | None, notice: str | None) -> bytes:
    # page_json escapes every character that could end the script element
    html = _template().render(
        title=data["title"], data=Markup(page_json(data)), back=back, notice=notice
    )
    return html.encode()


def _collect(
    conn: sa.Connection,
    ctx: _Context,
    pages: dict[int, _Page],
    index: _Page | None,
    index_limit: int,
    say: Progress,
) -> int:
    """Put every calendar row on its campaign's page (and the index); return the count."""
    total = 0
    for row in _rows(conn, list(pages)):
        when = ctx.when(row[1], row[8])
        pages[row[7]].add(row, when, ctx)
        if index is not None and total < index_limit:
            index.add(row, when, ctx)
        total += 1
        if total % 20_000 == 0:
            say(f"{_number(total)} konten dibaca")
    return total


def export_html(
    ws: Workspace,
    folder: str | Path,
    *,
    campaign: str | None = None,
    index_limit: int = INDEX_LIMIT,
    progress: Progress | None = None,
) -> HtmlReport:
    """Write the calendar pages into ``folder``: ``index.html`` and one page per campaign.

    With ``campaign`` (a slug) only that campaign's page is written (the index is left as
    it is). ``progress`` is called with a line of text as each page is written.
    """
    started = time.perf_counter()
    say = progress or (lambda _: None)
    root = Path(folder)
    report = HtmlReport(root.resolve())
    with ws.engine.connect() as conn:
        campaigns = _pick(_campaigns(ws, conn), campaign)
        ctx = _Context(ws, conn)
        index = _Page(campaigns) if campaign is None else None
        pages = {c.id: _Page([c]) for c in campaigns}
        total = _collect(conn, ctx, pages, index, index_limit, say)
    for c in campaigns:
        page = pages.pop(c.id)
        data = page.data(ctx, c.title, [None])
        write_atomic(root / c.file, _render(data, "../index.html", None), fsync=False)
        report.pages.append((c.file, len(page.entries)))
        say(f"{c.file}: {_number(len(page.entries))} konten")
    if index is not None:
        notice = None
        if total > index_limit:
            index = _Page(campaigns)  # the campaign list only
            notice = (
                f"Ekspor ini memuat {_number(total)} konten, lebih dari {_number(index_limit)}: "
                "kalender gabungan tidak ditampilkan. Buka halaman tiap kampanye."
            )
        data = index.data(ctx, "Kalender konten turunan", [c.file for c in campaigns])
        write_atomic(root / "index.html", _render(data, None, notice), fsync=False)
        report.pages.append(("index.html", len(index.entries)))
        report.index = (root / "index.html").resolve()
        say(f"index.html: {_number(len(index.entries))} konten")
    elif campaigns:
        report.index = (root / campaigns[0].file).resolve()
    report.variants = total
    report.seconds = time.perf_counter() - started
    return report
