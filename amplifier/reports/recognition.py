"""Recognition: a per-unit leaderboard, and the admins behind each unit.

    board = leaderboard(ws, campaign="hari-pelayanan-publik", top=10)
    for entry in board.entries:
        print(entry.rank, entry.unit, entry.counts.on_time_pct, entry.current_streak,
              [a.name for a in entry.admins])

Outcomes are those of ``amplifier.reports.coverage`` (same ``now`` and ``grace``). For each
unit that has at least one judged variant (on time, late, missed or not confirmed):

- **on-time rate** = on time / targeted over the unit's variants;
- a central post is **amplified on time** by the unit when every one of the unit's judged
  variants of that post is on time. A post whose variants are all not applicable is
  skipped; one with a pending variant and no other failure is not judged yet and skipped;
- **current streak**: consecutive central posts amplified on time, in ``central_at``
  order (across campaigns when no campaign is given), ending at the unit's latest judged
  post; **best streak**: the longest such run;
- **rank**: by on-time rate, then current streak, then the number of on-time variants
  (all descending), then unit code. Ties get consecutive ranks;
- **admins**: the admins linked to the unit, or to one of its accounts, through an active
  link, who are themselves active; each with the accounts they cover (``unit`` for the
  whole unit) and whether their assignment letter is in force on ``today``
  (``issued <= today <= valid_until``; default: the date of ``now`` in Asia/Jakarta).

One more query reads the admin links; everything else comes from the coverage query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from amplifier.errors import NotFound
from amplifier.models import ACCOUNTS, ADMIN_LINKS, ADMINS
from amplifier.reports.coverage import (
    DEFAULT_GRACE,
    LATE,
    MISSED,
    NOT_APPLICABLE,
    NOT_CONFIRMED,
    ON_TIME,
    OUTCOMES,
    PENDING,
    Counts,
    Outcome,
    judge,
    tally,
)

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

__all__ = ["AdminCredit", "Leaderboard", "LeaderboardEntry", "leaderboard"]

CENTRAL_ZONE = ZoneInfo("Asia/Jakarta")


@dataclass
class AdminCredit:
    """An admin behind a unit, with the assignment letter (surat tugas) that appoints them."""

    key: str
    name: str
    covers: list[str]  # "unit" for the whole unit, else account labels ("x:@handle")
    letter_number: str
    letter_issued: dt.date
    letter_valid_until: dt.date
    letter_in_force: bool
    letter_state: str  # "in_force", "expired" or "not_yet_valid" on the leaderboard's today

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "covers": list(self.covers),
            "letter_number": self.letter_number,
            "letter_issued": self.letter_issued.isoformat(),
            "letter_valid_until": self.letter_valid_until.isoformat(),
            "letter_in_force": self.letter_in_force,
            "letter_state": self.letter_state,
        }


@dataclass
class LeaderboardEntry:
    rank: int
    unit: str
    name: str
    kind: str
    region: str | None
    timezone: str
    counts: Counts
    posts: int  # central posts judged for this unit
    posts_on_time: int
    current_streak: int
    best_streak: int
    admins: list[AdminCredit] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "unit": self.unit,
            "name": self.name,
            "kind": self.kind,
            "region": self.region,
            "timezone": self.timezone,
            **self.counts.as_dict(),
            "posts": self.posts,
            "posts_on_time": self.posts_on_time,
            "current_streak": self.current_streak,
            "best_streak": self.best_streak,
            "admins": [a.as_dict() for a in self.admins],
        }


@dataclass
class Leaderboard:
    as_of: dt.datetime
    grace: dt.timedelta
    today: dt.date
    campaign: str | None
    entries: list[LeaderboardEntry] = field(default_factory=list)
    units: int = 0  # ranked units before --top

    def entry(self, unit: str) -> LeaderboardEntry:
        for e in self.entries:
            if e.unit == unit:
                return e
        raise NotFound(f"unit {unit!r} is not on this leaderboard")

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "grace_seconds": int(self.grace.total_seconds()),
            "letters_checked_on": self.today.isoformat(),
            "campaign": self.campaign,
            "units": self.units,
            "entries": [e.as_dict() for e in self.entries],
        }


def streaks(per_post: Iterable[Iterable[Outcome]]) -> tuple[int, int, int, int]:
    """(judged posts, posts on time, current streak, best streak) from the unit's outcomes
    per central post, in central-time order."""
    return _streaks(_post_state(outcomes) for outcomes in per_post)


# A unit's state for one post: all its judged variants on time, some still pending (and
# none failed), or at least one late, missed or not confirmed. Broken wins over pending.
_ON_TIME, _PENDING, _BROKEN = 0, 1, 2
_STATE = {ON_TIME: _ON_TIME, PENDING: _PENDING, LATE: _BROKEN, MISSED: _BROKEN}
_STATE[NOT_CONFIRMED] = _BROKEN


def _post_state(outcomes: Iterable[Outcome]) -> int | None:
    codes = [OUTCOMES.index(o) for o in outcomes if o is not Outcome.NOT_APPLICABLE]
    return max((_STATE[c] for c in codes), default=None)


def _streaks(states: Iterable[int | None]) -> tuple[int, int, int, int]:
    judged = on_time = current = best = 0
    for state in states:
        if state is None or state == _PENDING:
            continue
        judged += 1
        if state == _BROKEN:
            current = 0
        else:
            on_time += 1
            current += 1
            best = max(best, current)
    return judged, on_time, current, best


def leaderboard(
    ws: Workspace,
    campaign: str | None = None,
    *,
    top: int | None = None,
    now: dt.datetime | None = None,
    grace: dt.timedelta = DEFAULT_GRACE,
    today: dt.date | None = None,
) -> Leaderboard:
    """Rank the units of ``campaign`` (or of every campaign) by how they amplified on time."""
    judged = judge(ws, campaign, now=now, grace=grace)
    today = today or judged.now.astimezone(CENTRAL_ZONE).date()
    (counts,) = tally(judged.rows, (3,))  # per unit
    states: dict[int, dict[int, int]] = {}  # unit -> post -> state
    for _campaign, post_id, _account, unit_id, code, _delay in judged.rows:
        if code == NOT_APPLICABLE:
            continue
        per_post = states.get(unit_id)
        if per_post is None:
            per_post = states[unit_id] = {}
        state = _STATE[code]
        if per_post.get(post_id, -1) < state:
            per_post[post_id] = state
    posts = judged.posts
    entries = []
    for unit_id, unit_counts in counts.items():
        if not unit_counts.targeted:
            continue
        unit = judged.units[unit_id]
        per_post = states[unit_id]
        order = sorted(per_post, key=lambda p: (posts[p].central_at, p))
        n_posts, n_on_time, current, best = _streaks(per_post[p] for p in order)
        entries.append(
            LeaderboardEntry(
                0,
                unit.code,
                unit.name,
                unit.kind,
                unit.region,
                unit.timezone,
                unit_counts,
                n_posts,
                n_on_time,
                current,
                best,
            )
        )
    entries.sort(
        key=lambda e: (
            -(e.counts.on_time_rate or 0.0),
            -e.current_streak,
            -e.counts.on_time,
            e.unit,
        )
    )
    ranked = len(entries)
    entries = entries[:top] if top is not None else entries
    for rank, entry in enumerate(entries, 1):
        entry.rank = rank
    _attach_admins(ws, entries, {u.code: u.id for u in judged.units.values()}, today)
    return Leaderboard(judged.now, grace, today, campaign, entries, ranked)


def _letter_state(issued: dt.date, valid_until: dt.date, today: dt.date) -> str:
    if valid_until < today:
        return "expired"
    return "not_yet_valid" if issued > today else "in_force"


def _attach_admins(
    ws: Workspace, entries: list[LeaderboardEntry], unit_ids: dict[str, int], today: dt.date
) -> None:
    if not entries:
        return
    L, M, A = ADMIN_LINKS, ADMINS, ACCOUNTS
    with ws.engine.connect() as conn:
        links = conn.execute(
            sa.select(
                L.c.unit_id,
                A.c.unit_id.label("account_unit"),
                A.c.platform,
                A.c.handle,
                M.c.key,
                M.c.name,
                M.c.letter_number,
                M.c.letter_issued,
                M.c.letter_valid_until,
            )
            .join(M, M.c.id == L.c.admin_id)
            .outerjoin(A, A.c.id == L.c.account_id)
            .where(L.c.active, M.c.active)
        ).all()
    wanted = {unit_ids[e.unit]: e for e in entries}
    credits: dict[tuple[int, str], AdminCredit] = {}
    for link in links:
        unit_id = link.unit_id if link.unit_id is not None else link.account_unit
        entry = wanted.get(unit_id)
        if entry is None:
            continue
        credit = credits.get((unit_id, link.key))
        if credit is None:
            credit = credits[(unit_id, link.key)] = AdminCredit(
                link.key,
                link.name,
                [],
                link.letter_number,
                link.letter_issued,
                link.letter_valid_until,
                link.letter_issued <= today <= link.letter_valid_until,
                _letter_state(link.letter_issued, link.letter_valid_until, today),
            )
            entry.admins.append(credit)
        covers = "unit" if link.unit_id is not None else f"{link.platform}:@{link.handle}"
        if covers not in credit.covers:
            credit.covers.append(covers)
    for entry in entries:
        entry.admins.sort(key=lambda a: (a.name, a.key))
        for credit in entry.admins:
            credit.covers.sort(key=lambda c: (c != "unit", c))
