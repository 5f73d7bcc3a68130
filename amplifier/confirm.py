"""Proof of posting: record the live URL of a variant that went out.

    confirm_variant(ws, 42, "https://x.com/kptd_ri/status/1790000000000000000")
    results = import_confirmations(ws, "tautan.csv")      # columns variant,url
    [r.as_dict() for r in results if r.result == "rejected"]

Publishers that return a URL confirm automatically (``amplifier.dispatch``). For accounts
posted by hand, an admin records the URL here. Confirming stores the URL in
``external_url`` and the time in ``confirmed_at``; a variant that was ``scheduled``,
``missed``, ``uncertain`` or ``failed`` becomes ``published`` (the admin says it went out:
``published_at`` is set to the confirmation time unless it was already set). A variant
already ``published`` keeps its status and its text; only its URL is recorded (or
corrected). Pending, unscheduled, held, publishing and cancelled variants cannot be
confirmed: they were not cleared to go out, or a daemon is on them.

**Which URLs are accepted.** A URL must be ``http(s)``, on one of the platform's hosts, and
point at one post. Where the URL form names the account, the name must be the account's
handle (case-insensitive). Per platform:

========== ====================================================== ===================
platform   accepted forms                                          account checked
========== ====================================================== ===================
X          ``x.com/<handle>/status/<id>`` (also ``twitter.com``,   yes
           ``www.``, ``mobile.``)
Threads    ``threads.net/@<handle>/post/<code>`` (also             yes
           ``threads.com``, ``www.``)
TikTok     ``tiktok.com/@<handle>/video/<id>`` or ``/photo/<id>``  yes
Instagram  ``instagram.com/<handle>/p/<code>`` (``/reel/``)        yes
           ``instagram.com/p/<code>``, ``/reel/``, ``/reels/``,    no: the form has no
           ``/tv/``                                                account
Facebook   ``facebook.com/<handle>/posts/…``, ``/videos/…``,       yes (not when the
           ``/photos/…``                                           page is a number)
           ``permalink.php?story_fbid=…``, ``story.php?…``,        no: the form has no
           ``photo.php?fbid=…``, ``/photo?fbid=…``, ``/watch?v=…``, account
           ``/reel/<id>``, ``/share/p|v|r/<code>``, ``fb.watch/…``
YouTube    ``youtube.com/watch?v=<id>``, ``/shorts/<id>``,         no: no form has one
           ``/live/<id>``, ``youtu.be/<id>``
========== ====================================================== ===================

X's ``/i/web/status/<id>`` and TikTok's short links (``vm.``/``vt.tiktok.com``) are
rejected although they may lead to the right post: the full address, which names the
account, is always at hand in the browser. Everything else is rejected with the reason.

**Bulk import** reads CSV (UTF-8, a BOM is fine) or JSON (a list of objects). It needs a
``variant`` column or key and a ``url`` one (``external_url`` works too, so the file
written by ``amplifier export csv`` can be filled in and imported). Every row gets a
result: ``ok``, ``rejected`` with the reason, or ``skipped`` when its URL is empty. The
rows that pass are applied even when others are rejected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy as sa

from amplifier.errors import InvalidOperation, NotFound
from amplifier.models import ACCOUNTS, VARIANTS, utcnow
from amplifier.vocab import PLATFORM_NAMES, VariantStatus

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

__all__ = [
    "ConfirmResult",
    "check_post_url",
    "confirm_many",
    "confirm_variant",
    "import_confirmations",
    "read_confirmations",
]

V = VARIANTS
A = ACCOUNTS

#: confirming one of these says it went out: it becomes ``published``
BECOMES_PUBLISHED = (
    VariantStatus.SCHEDULED,
    VariantStatus.MISSED,
    VariantStatus.UNCERTAIN,
    VariantStatus.FAILED,
)
NOT_CONFIRMABLE = {
    VariantStatus.PENDING: "it is pending (not yet approved and timed), so it cannot have gone out",
    VariantStatus.UNSCHEDULED: "it is unscheduled (no allowed time), so it cannot have gone out",
    VariantStatus.HELD: "it is held by an embargo; lift the embargo first",
    VariantStatus.PUBLISHING: "a daemon is publishing it right now; confirm once it is done",
    VariantStatus.CANCELLED: "it is cancelled",
}
HAND_CONFIRMED = "confirmed published by hand"

# --- URL rules ----------------------------------------------------------------------------

# the platform's domains (named in messages), and the subdomains a post link may use
_DOMAINS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "x": (("x.com", "twitter.com"), ("www.", "mobile.")),
    "threads": (("threads.net", "threads.com"), ("www.",)),
    "tiktok": (("tiktok.com",), ("www.", "m.")),
    "instagram": (("instagram.com",), ("www.", "m.")),
    "facebook": (("facebook.com", "fb.watch"), ("www.", "m.", "web.", "mbasic.", "business.")),
    "youtube": (("youtube.com", "youtu.be"), ("www.", "m.")),
}
_HOSTS = {
    platform: frozenset(d for d in domains) | {f"{s}{d}" for d in domains for s in subs}
    for platform, (domains, subs) in _DOMAINS.items()
}
_EXAMPLES = {
    "x": "x.com/{h}/status/…",
    "threads": "threads.net/@{h}/post/…",
    "tiktok": "tiktok.com/@{h}/video/…",
    "instagram": "instagram.com/p/…",
    "facebook": "facebook.com/{h}/posts/…",
    "youtube": "youtube.com/watch?v=…",
}
_DIGITS = re.compile(r"^\d+$")
_CODE = re.compile(r"^[A-Za-z0-9_-]+$")
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_IG_KINDS = ("p", "reel", "reels", "tv")
_FB_KINDS = ("posts", "videos", "photos", "reels", "permalink")


def _other(found: str, handle: str) -> str:
    return f"the post is on @{found}, not on this account (@{handle})"


Query = dict[str, list[str]]


def _check_x(seg: list[str], query: Query, handle: str) -> str | None:
    if len(seg) >= 3 and seg[0].lower() == "i" and "status" in seg:
        return (
            "this link form does not name the account; copy the link with the handle "
            f"(x.com/{handle}/status/…)"
        )
    if len(seg) >= 3 and seg[1] == "status" and _DIGITS.match(seg[2]):
        return None if seg[0].lower() == handle else _other(seg[0], handle)
    return ""


def _check_threads(seg: list[str], query: Query, handle: str) -> str | None:
    if len(seg) >= 3 and seg[0].startswith("@") and seg[1] == "post" and _CODE.match(seg[2]):
        found = seg[0][1:]
        return None if found.lower() == handle else _other(found, handle)
    return ""


def _check_tiktok(seg: list[str], query: Query, handle: str) -> str | None:
    ok_kind = len(seg) >= 3 and seg[1] in ("video", "photo") and _DIGITS.match(seg[2])
    if ok_kind and seg[0].startswith("@"):
        found = seg[0][1:]
        return None if found.lower() == handle else _other(found, handle)
    return ""


def _check_instagram(seg: list[str], query: Query, handle: str) -> str | None:
    if len(seg) >= 2 and seg[0] in _IG_KINDS and _CODE.match(seg[1]):
        return None  # no account in this form
    if len(seg) >= 3 and seg[1] in _IG_KINDS and _CODE.match(seg[2]):
        return None if seg[0].lower() == handle else _other(seg[0], handle)
    return ""


def _check_facebook(seg: list[str], query: Query, handle: str) -> str | None:
    first = seg[0] if seg else ""
    if first in ("permalink.php", "story.php"):
        return None if query.get("story_fbid") else ""
    if first in ("photo.php", "photo"):
        return None if query.get("fbid") else ""
    if first == "watch":
        return None if query.get("v") else ""
    if first == "reel" and len(seg) >= 2 and _DIGITS.match(seg[1]):
        return None
    if first == "share" and len(seg) >= 3 and seg[1] in ("p", "v", "r") and _CODE.match(seg[2]):
        return None
    if first in ("groups", "events", "profile.php"):
        return "not a post of the account's page"
    if len(seg) >= 3 and seg[1] in _FB_KINDS:
        if _DIGITS.match(first) or first.lower() == handle:
            return None  # a numeric page id cannot be matched to a handle
        return _other(first, handle)
    return ""


def _check_youtube(seg: list[str], query: Query, handle: str) -> str | None:
    if seg and seg[0] == "watch":
        return None if _VIDEO_ID.match((query.get("v") or [""])[0]) else ""
    if len(seg) >= 2 and seg[0] in ("shorts", "live") and _VIDEO_ID.match(seg[1]):
        return None
    return ""


_CHECKS = {
    "x": _check_x,
    "threads": _check_threads,
    "tiktok": _check_tiktok,
    "instagram": _check_instagram,
    "facebook": _check_facebook,
    "youtube": _check_youtube,
}


def check_post_url(platform: str, handle: str, url: str) -> str | None:
    """Why ``url`` cannot be a post of the account ``handle`` on ``platform``; None if it can.

    >>> check_post_url("x", "kptd_ri", "https://x.com/KPTD_RI/status/1790000000000000000")
    >>> check_post_url("x", "kptd_ri", "https://x.com/orang_lain/status/1790000000000000000")
    'the post is on @orang_lain, not on this account (@kptd_ri)'
    """
    platform = str(platform)
    name = PLATFORM_NAMES.get(platform, platform)
    example = _EXAMPLES.get(platform, "").format(h=handle)
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return "not a valid web address"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "not a web address: give the full link, starting with https://"
    if any(c.isspace() for c in text):
        return "a web address cannot contain spaces"
    if parts.username is not None or parts.password is not None:
        return "a link to a post does not carry a user name or password"
    hosts = _HOSTS.get(platform)
    if hosts is None:
        return f"amplifier cannot check links for the platform '{platform}'"
    if host not in hosts:
        if platform == "tiktok" and host in ("vm.tiktok.com", "vt.tiktok.com"):
            return (
                "a short TikTok link does not name the account; open it and copy the full "
                f"address ({example})"
            )
        expected = ", ".join(sorted(_DOMAINS[platform][0]))
        return f"the link is on {host}, not on {name} ({expected})"
    if host == "youtu.be":
        seg = [s for s in parts.path.split("/") if s]
        return None if len(seg) == 1 and _VIDEO_ID.match(seg[0]) else _not_a_post(name, example)
    if host == "fb.watch":
        seg = [s for s in parts.path.split("/") if s]
        return None if seg and _CODE.match(seg[0]) else _not_a_post(name, example)
    seg = [unquote(s) for s in parts.path.split("/") if s]
    query = parse_qs(parts.query)
    problem = _CHECKS[platform](seg, query, handle.lower().lstrip("@"))
    return _not_a_post(name, example) if problem == "" else problem


def _not_a_post(name: str, example: str) -> str:
    return f"not a link to one {name} post (expected {example})"


# --- confirming ---------------------------------------------------------------------------


@dataclass
class ConfirmResult:
    """What happened to one confirmation: ``ok``, ``rejected`` (see reason) or ``skipped``."""

    variant: int | str | None
    url: str
    result: Literal["ok", "rejected", "skipped"]
    reason: str | None = None
    status: str | None = None  # the variant's status afterwards
    row: int | None = None  # the row (CSV line, JSON item) it came from
    found: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "variant": self.variant,
            "url": self.url,
            "result": self.result,
            "reason": self.reason,
            "status": self.status,
        }


def _variant_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value or "").strip().lstrip("#")
    return int(text) if text.isdigit() else None


def confirm_many(
    ws: Workspace,
    items: Iterable[tuple[int | None, Any, str]],
    *,
    now: dt.datetime | None = None,
) -> list[ConfirmResult]:
    """Confirm ``(row, variant, url)`` items; every one gets a result, the valid ones apply."""
    now = now or utcnow()
    results: list[ConfirmResult] = []
    wanted: dict[int, ConfirmResult] = {}
    for row, ref, url in items:
        url = (url or "").strip()
        vid = _variant_id(ref)
        shown = vid if vid is not None else ref
        if vid is None:
            reason = f"'{ref}' is not a variant id (a number)"
            results.append(ConfirmResult(shown, url, "rejected", reason, row=row))
        elif not url:
            results.append(ConfirmResult(vid, url, "skipped", "no URL", row=row))
        elif vid in wanted:
            first = wanted[vid].row
            reason = f"variant {vid} is already in this file" + (
                f" (row {first})" if first is not None else ""
            )
            results.append(ConfirmResult(vid, url, "rejected", reason, row=row))
        else:
            result = ConfirmResult(vid, url, "ok", row=row)
            wanted[vid] = result
            results.append(result)
    if not wanted:
        return results
    rows = _load(ws, list(wanted))
    updates: list[tuple[ConfirmResult, Any, dict[str, Any]]] = []
    for vid, result in wanted.items():
        current = rows.get(vid)
        if current is None:
            result.result, result.reason, result.found = "rejected", f"no variant {vid}", False
            continue
        result.status = str(current.status)
        values = _decide(result, current, now)
        if values is not None:
            updates.append((result, current, values))
    if updates:
        with ws.engine.begin() as conn:
            for result, current, values in updates:
                done = conn.execute(
                    sa.update(V)
                    .where(V.c.id == current.id, V.c.status == current.status)
                    .values(**values)
                )
                if done.rowcount != 1:
                    result.result = "rejected"
                    result.reason = "the variant changed while confirming; try again"
                else:
                    result.status = str(values.get("status", current.status))
    return results


def _load(ws: Workspace, ids: list[int]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    with ws.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            query = (
                sa.select(
                    V.c.id,
                    V.c.status,
                    V.c.external_url,
                    V.c.confirmed_at,
                    V.c.published_at,
                    V.c.reasons,
                    A.c.platform,
                    A.c.handle,
                )
                .join(A, A.c.id == V.c.account_id)
                .where(V.c.id.in_(ids[start : start + 500]))
            )
            found.update({r.id: r for r in conn.execute(query)})
    return found


def _decide(result: ConfirmResult, current: Any, now: dt.datetime) -> dict[str, Any] | None:
    """The column values to write, or None (rejected, or nothing to do); fills ``result``."""
    status = VariantStatus(current.status)
    if status in NOT_CONFIRMABLE:
        result.result = "rejected"
        result.reason = f"variant {current.id} cannot be confirmed: {NOT_CONFIRMABLE[status]}"
        return None
    if status == VariantStatus.PUBLISHED and current.external_url == result.url:
        result.reason = "already recorded"
        if current.confirmed_at is not None:
            return None
        return {"confirmed_at": now, "updated_at": now}
    problem = check_post_url(str(current.platform), current.handle, result.url)
    if problem:
        result.result, result.reason = "rejected", problem
        return None
    values: dict[str, Any] = {"external_url": result.url, "confirmed_at": now, "updated_at": now}
    if status == VariantStatus.PUBLISHED:
        if current.external_url:
            result.reason = f"replaced {current.external_url}"
        return values
    assert status in BECOMES_PUBLISHED
    result.reason = f"was {status}"
    return {
        **values,
        "status": VariantStatus.PUBLISHED,
        "published_at": current.published_at or now,
        "due_at": None,
        "claimed_by": None,
        "lease_until": None,
        "reasons": [*(current.reasons or []), f"{HAND_CONFIRMED} at {now:%Y-%m-%d %H:%M} UTC"],
    }


def confirm_variant(
    ws: Workspace, variant_id: int, url: str, *, now: dt.datetime | None = None
) -> ConfirmResult:
    """Confirm one variant; raise ``NotFound`` or ``InvalidOperation`` (with the reason)."""
    (result,) = confirm_many(ws, [(None, variant_id, url)], now=now)
    if not result.found:
        raise NotFound(f"no variant {variant_id}")
    if result.result != "ok":
        raise InvalidOperation(f"variant {variant_id} not confirmed: {result.reason or 'no URL'}")
    return result


# --- import files -------------------------------------------------------------------------


def read_confirmations(path: str | Path) -> list[tuple[int | None, Any, str]]:
    """``(row, variant, url)`` items from a CSV or JSON file (see the module docstring)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidOperation(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {exc.start}"
        raise InvalidOperation(f"{path}: not UTF-8 text ({where})") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        return _from_json(path, text)
    return _from_csv(path, text)


def _from_json(path: Path, text: str) -> list[tuple[int | None, Any, str]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidOperation(f"{path}: not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("confirmations", data.get("items"))
    if not isinstance(data, list):
        raise InvalidOperation(f'{path}: expected a list of {{"variant": …, "url": …}}')
    items: list[tuple[int | None, Any, str]] = []
    for n, entry in enumerate(data, start=1):
        if not isinstance(entry, dict):
            items.append((n, repr(entry), ""))
            continue
        url = entry.get("url", entry.get("external_url")) or ""
        items.append((n, entry.get("variant", entry.get("id")), str(url)))
    return items


def _from_csv(path: Path, text: str) -> list[tuple[int | None, Any, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidOperation(f"{path}: empty file; expected the columns variant,url") from None
    except csv.Error as exc:
        raise InvalidOperation(f"{path}: not valid CSV: {exc}") from exc
    url_col = "url" if "url" in header else "external_url"
    if "variant" not in header or url_col not in header:
        raise InvalidOperation(
            f"{path}: needs the columns variant and url (found: {', '.join(header) or 'none'})"
        )
    vi, ui = header.index("variant"), header.index(url_col)
    items: list[tuple[int | None, Any, str]] = []
    end = reader.line_num
    try:
        for cells in reader:
            line, end = end + 1, reader.line_num  # a record may span lines: its first one
            if not any(c.strip() for c in cells):
                continue
            variant = cells[vi] if vi < len(cells) else ""
            url = cells[ui] if ui < len(cells) else ""
            items.append((line, variant.strip(), url.strip()))
    except csv.Error as exc:
        raise InvalidOperation(f"{path}:{reader.line_num}: not valid CSV: {exc}") from exc
    return items


def import_confirmations(
    ws: Workspace, path: str | Path, *, now: dt.datetime | None = None
) -> list[ConfirmResult]:
    """Read a CSV or JSON file of ``variant,url`` and confirm every row."""
    return confirm_many(ws, read_confirmations(path), now=now)
