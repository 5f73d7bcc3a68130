"""Assign each variant its publish time: window, posting hours, blackouts, stagger, rules.

    timings = assign(requests, blackouts, Rules(min_gap=timedelta(minutes=45)), fixed)
    t = timings["<variant key>"]
    t.status, t.publish_at          # "scheduled", aware UTC datetime
    for step in t.steps: print(step)

For each request (one variant: a central post on one account):

1. **Window.** The amplification window (``RelativeWindow`` or ``LocalWindow``) for the
   post's central time in the unit's zone, never before the central time (nor before
   ``not_before`` when given), intersected with the unit's local posting hours, minus every
   blackout and embargo that applies to the unit, platform and campaign (holidays and cuti
   bersama only when the campaign avoids holidays). Times are on a grid of ``Rules.step``
   (aligned to the epoch in UTC).
2. **Stagger.** The account's position in the window comes from a stable hash of the
   account key and the post key (blake2b of each, mixed): the same for every run and any
   input order, never Python's ``hash()``. From there it takes the first slot (going
   forward, then wrapping to the window's start) that is free on its platform and meets
   the account rules. Only when every slot of the window that the account rules allow is
   taken on the platform does it share a minute (the first one the rules allow from its
   position); its steps then say so.
3. **Account rules.** At least ``min_gap`` between two posts of one account and at most
   ``max_per_day`` posts per local day in the unit's zone. Fixed times (published or
   scheduled variants of other posts, ``Fixed``) count and always win. Requests are placed
   in priority order: higher campaign priority first, then earlier central time, then the
   post key and the request key; a later one that conflicts loses and moves to the next
   allowed slot. If no slot fits, it is ``unscheduled`` with the reason, naming what it
   lost to.

Every request of one post must carry the same central time, window, campaign, priority
and avoid_holidays, and every request of one unit code the same ``UnitInfo``
(``ValueError`` otherwise): the window, hours and blackouts are worked out once per post
and unit shape (zone, posting hours, scoped blackouts that apply), not once per request.
Inside, instants are integer epoch seconds; occupied platform slots live in a "next free
slot" union-find per platform, account times in sorted lists searched with ``bisect``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from hashlib import blake2b
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from amplifier.timing.calendar import Blackout, BlackoutKind
from amplifier.timing.clock import (
    format_duration,
    from_seconds,
    local_date,
    local_text,
    local_to_utc,
    to_seconds,
    utc_text,
)
from amplifier.timing.explain import Step
from amplifier.timing.scope import UnitInfo
from amplifier.timing.windows import DEFAULT_WINDOW, Window

Status = Literal["scheduled", "unscheduled"]
SCHEDULED: Status = "scheduled"
UNSCHEDULED: Status = "unscheduled"
_FAR = 1 << 62
_MAX_LISTED = 5
_MASK = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: multiplicative (Fibonacci) hashing


class Request(NamedTuple):
    """One variant to time.

    ``key`` is its stable identity (e.g. the idempotency key); ``post`` the stable key of
    its central post (``campaign/post``), which with ``account`` (``platform:handle``)
    seeds the stagger; ``label`` is how explanations name it (default: ``key``).
    """

    key: str
    post: str
    account: str
    platform: str
    unit: UnitInfo
    central_at: dt.datetime
    campaign: str = ""
    priority: int = 0
    window: Window = DEFAULT_WINDOW
    avoid_holidays: bool = True
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Fixed:
    """A time already taken on an account (a published or scheduled variant of another
    post). It counts for the gap and the daily cap, and takes its platform minute."""

    account: str
    at: dt.datetime
    platform: str | None = None
    label: str = "a fixed post"


@dataclass(frozen=True, slots=True)
class Rules:
    """Per-account rules and the stagger grid."""

    min_gap: dt.timedelta = dt.timedelta(minutes=45)
    max_per_day: int | None = 6
    step: dt.timedelta = dt.timedelta(minutes=1)

    def __post_init__(self) -> None:
        if self.step < dt.timedelta(minutes=1) or self.step.total_seconds() % 60:
            raise ValueError("the step is a whole number of minutes, at least 1m")
        if self.min_gap < dt.timedelta(0):
            raise ValueError("the minimum gap cannot be negative")
        if self.max_per_day is not None and self.max_per_day < 1:
            raise ValueError("max_per_day is at least 1 (or None for no cap)")


@dataclass(slots=True)
class Timing:
    """The outcome for one request: ``publish_at`` (aware UTC) when ``scheduled``;
    ``reasons`` when ``unscheduled``; ``steps`` explain either (built on demand)."""

    key: str
    status: Status
    publish_at: dt.datetime | None
    reasons: tuple[str, ...] = ()
    trace: Any = field(default=None, repr=False, compare=False)

    @property
    def steps(self) -> tuple[Step, ...]:
        return () if self.trace is None else _steps(self.trace)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status,
            "publish_at": self.publish_at.isoformat() if self.publish_at else None,
            "reasons": list(self.reasons),
            "steps": [str(s) for s in self.steps],
        }


# --- groups: window ∩ posting hours − blackouts, once per post and unit shape -----------


class _Group:
    """The allowed slots of one window: pieces ``[start, end)`` in slots, each within one
    local day (``days``: date ordinals), with prefix sums for the stagger."""

    __slots__ = (
        "cum",
        "days",
        "empty",
        "ends",
        "full",
        "n",
        "next_day",
        "reasons",
        "rules",
        "starts",
        "steps",
        "zone",
    )

    def __init__(self, zone: str, rules: Rules) -> None:
        self.zone = zone
        self.rules = rules
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.days: list[int] = []
        self.cum: list[int] = [0]
        self.next_day: list[int] = []
        self.n = 0
        self.steps: tuple[Step, ...] = ()
        self.empty: str | None = None
        self.reasons: tuple[str, ...] = ()
        self.full: set[str] = set()  # platforms with every slot of the window taken


def _span_text(start: int, end: int, zone: str) -> str:
    """``2027-03-08 06:00 WITA – 2027-03-09 06:00 WITA (2027-03-07 22:00 – 2027-03-08 …)``."""
    same_day = local_date(start, zone) == local_date(max(start, end - 1), zone)
    same_utc_day = from_seconds(start).date() == from_seconds(max(start, end - 1)).date()
    utc_end = from_seconds(end).strftime("%H:%M UTC" if same_utc_day else "%Y-%m-%d %H:%M UTC")
    return (
        f"{local_text(start, zone)} – {local_text(end, zone, date=not same_day)} "
        f"({utc_text(start)} – {utc_end})"
    )


def _pieces_text(pieces: list[list[int]], zone: str) -> str:
    shown = [_span_text(s, e, zone).split(" (")[0] for s, e, _ in pieces[:_MAX_LISTED]]
    more = f" and {len(pieces) - _MAX_LISTED} more" if len(pieces) > _MAX_LISTED else ""
    return "; ".join(shown) + more


def _build_group(
    central: int,
    window: Window,
    unit: UnitInfo,
    blackouts: list[Blackout],
    rules: Rules,
    not_before: int | None,
) -> _Group:
    step = int(rules.step.total_seconds())
    zone, hours = unit.zone, unit.hours
    g = _Group(zone, rules)
    start, end = window.bounds(central, zone)
    start = max(start, central, not_before if not_before is not None else start)
    steps = [
        Step(
            "window",
            f"{window}: {_span_text(start, end, zone)}"
            if end > start
            else f"{window}: over before it could start",
            at=from_seconds(start),
        )
    ]
    pieces: list[list[int]] = []
    day = local_date(start, zone) - dt.timedelta(days=1)
    while end > start:
        lo, hi = local_to_utc(day, hours.start, zone), local_to_utc(day, hours.end, zone)
        if lo >= end:
            break
        if max(lo, start) < min(hi, end):
            pieces.append([max(lo, start), min(hi, end), day.toordinal()])
        day += dt.timedelta(days=1)
    steps.append(
        Step(
            "hours",
            f"posting hours {hours} ({zone}) leave "
            + (_pieces_text(pieces, zone) if pieces else "nothing"),
        )
    )
    if not pieces:
        g.empty = f"its window lies outside the unit's posting hours {hours} ({zone})"
    cut_by: list[str] = []
    for b in blackouts:
        if not pieces:
            break
        rough_start, rough_end = b.rough_span()
        if rough_end <= pieces[0][0] or rough_start >= pieces[-1][1]:
            continue
        b_start, b_end = b.span(zone)
        kept: list[list[int]] = []
        removed = 0
        for s, e, d in pieces:
            if b_end <= s or b_start >= e:
                kept.append([s, e, d])
                continue
            removed += min(e, b_end) - max(s, b_start)
            if s < b_start:
                kept.append([s, b_start, d])
            if b_end < e:
                kept.append([b_end, e, d])
        if removed:
            pieces = kept
            cut_by.append(b.name)
            kind = "embargo" if b.kind is BlackoutKind.EMBARGO else "blackout"
            steps.append(
                Step(
                    kind,
                    f"{b.kind.value} '{b.name}' blocks {_span_text(b_start, b_end, zone)}; "
                    f"{format_duration(dt.timedelta(seconds=removed))} of the window removed",
                    name=b.name,
                    at=from_seconds(b_start),
                )
            )
    if not pieces and g.empty is None:
        g.empty = "its window is blacked out by " + ", ".join(f"'{n}'" for n in cut_by)
    for s, e, d in pieces:
        first, stop = -(-s // step), -(-e // step)
        if first < stop:
            g.starts.append(first)
            g.ends.append(stop)
            g.days.append(d)
            g.cum.append(g.cum[-1] + stop - first)
    g.n = g.cum[-1]
    if g.n == 0 and g.empty is None:
        g.empty = "its window is shorter than one step of the grid"
    if g.empty is not None:
        g.reasons = (f"no allowed time: {g.empty}",)
    count = len(g.days)
    g.next_day = [count] * count
    for k in range(count - 2, -1, -1):
        g.next_day[k] = k + 1 if g.days[k + 1] != g.days[k] else g.next_day[k + 1]
    g.steps = tuple(steps)
    return g


# --- per-account state and the search --------------------------------------------------


class _Account:
    __slots__ = ("counts", "owners", "seed", "times", "zone")

    def __init__(self, zone: str, seed: int) -> None:
        self.zone = zone
        self.seed = seed  # blake2b of the account key, mixed with each post's
        self.times: list[int] = []  # epoch seconds, sorted
        self.owners: dict[int, tuple[str, int]] = {}  # time -> (label, local day ordinal)
        self.counts: dict[int, int] = {}  # local day ordinal -> posts

    def add(self, at: int, label: str, day: int) -> None:
        insort(self.times, at)
        self.owners[at] = (label, day)
        self.counts[day] = self.counts.get(day, 0) + 1

    def owner(self, at: int) -> str:
        return self.owners[at][0]

    def of_day(self, day: int) -> list[str]:
        return [label for _, (label, d) in sorted(self.owners.items()) if d == day]


def _find(parent: dict[int, int], slot: int) -> int:
    """The first free slot at or after ``slot`` (occupied slots point onwards)."""
    root = slot
    while root in parent:
        root = parent[root]
    while slot != root:
        parent[slot], slot = root, parent[slot]
    return root


# A move of the search: (kind, from slot, to slot, what it lost to, that one's time)
_Event = tuple[str, int, int, str, int]


def _scan(
    g: _Group,
    k: int,
    t: int,
    stop: int,
    taken: dict[int, int] | None,
    acct: _Account,
    gap: int,
    cap: int,
    step: int,
    events: list[_Event],
) -> tuple[int, int] | None:
    """The first slot from ``t`` (in piece ``k``) before ``stop`` that is free (when
    ``taken`` is given) and meets the account rules; moves are logged in ``events``."""
    starts, ends, days = g.starts, g.ends, g.days
    count = len(starts)
    times, counts = acct.times, acct.counts
    while k < count:
        if t < starts[k]:
            t = starts[k]
        if t >= stop:
            return None
        if t >= ends[k]:
            k += 1
            continue
        if taken is not None and t in taken:
            free = _find(taken, t)
            events.append(("platform", t, free, "", 0))
            t = free
            continue
        if cap and counts.get(days[k], 0) >= cap:
            others = ", ".join(acct.of_day(days[k]))
            k = g.next_day[k]
            events.append(("cap", t, starts[k] if k < count else t, others, 0))
            continue
        if gap and times:
            at = t * step
            i = bisect_left(times, at)
            if i < len(times) and times[i] - at < gap:
                other = times[i]
            elif i and at - times[i - 1] < gap:
                other = times[i - 1]
            else:
                return t, k
            moved = -(-(other + gap) // step)
            events.append(("gap", t, moved, acct.owner(other), other))
            t = moved
            continue
        return t, k
    return None


def _search(
    g: _Group,
    k0: int,
    t0: int,
    taken: dict[int, int] | None,
    acct: _Account,
    gap: int,
    cap: int,
    step: int,
    events: list[_Event],
) -> tuple[int, int] | None:
    """Forward from the stagger position to the window's end, then from its start."""
    found = _scan(g, k0, t0, _FAR, taken, acct, gap, cap, step, events)
    if found is None and t0 > g.starts[0]:
        found = _scan(g, 0, g.starts[0], t0, taken, acct, gap, cap, step, events)
    return found


# --- explanations ----------------------------------------------------------------------

# What Timing.steps needs, kept raw until someone asks:
# (group, stagger position, its slot, final slot or None, events, shared, platform)
_Trace = tuple[_Group, int, int, int | None, list[_Event] | None, bool, str]


def _steps(trace: _Trace) -> tuple[Step, ...]:
    g, position, start, final, events, shared, platform = trace
    zone, rules = g.zone, g.rules
    step = int(rules.step.total_seconds())
    out = list(g.steps)
    if g.n == 0:
        out.append(Step("unscheduled", g.empty or "no allowed time in its window"))
        return tuple(out)
    out.append(
        Step(
            "stagger",
            f"spread position {position + 1} of {g.n} in the window: "
            f"{local_text(start * step, zone)}",
            at=from_seconds(start * step),
        )
    )
    skipped = 0
    for kind, frm, to, other, at in events or ():
        if kind == "platform":
            skipped += max(0, to - frm)
        elif kind == "gap":
            out.append(
                Step(
                    "gap",
                    f"{local_text(frm * step, zone)} is within "
                    f"{format_duration(rules.min_gap)} of {other} at "
                    f"{local_text(at, zone)}, which goes first; "
                    f"moved to {local_text(to * step, zone)} or later",
                    other=other,
                    at=from_seconds(frm * step),
                )
            )
        elif kind == "cap":
            out.append(
                Step(
                    "cap",
                    f"{local_date(frm * step, zone)} is full for this account (at most "
                    f"{rules.max_per_day} a day: {other}), which go first; "
                    "moved to the next local day",
                    other=other,
                    at=from_seconds(frm * step),
                )
            )
    if skipped:
        out.append(
            Step(
                "platform",
                f"skipped {skipped} slot(s) already taken by other accounts on {platform}",
            )
        )
    if shared:
        out.append(
            Step(
                "shared",
                f"every slot the account rules allow in the window is taken on "
                f"{platform}: shares a minute with another account",
            )
        )
    if final is None:
        out.append(Step("unscheduled", "no slot in the window meets the account rules"))
    else:
        shift = (final - start) * step
        moved = (
            f", {format_duration(dt.timedelta(seconds=abs(shift)))} "
            f"{'after' if shift > 0 else 'before'} its spread position"
            if shift
            else ""
        )
        out.append(
            Step(
                "placed",
                f"{local_text(final * step, zone)} ({utc_text(final * step)}){moved}",
                at=from_seconds(final * step),
            )
        )
    return tuple(out)


def _lost_to(events: list[_Event]) -> str:
    others: list[str] = []
    for kind, _, _, other, _ in events:
        if kind == "gap":
            if other not in others:
                others.append(other)
        elif kind == "cap":
            for label in other.split(", "):
                if label not in others:
                    others.append(label)
    shown = ", ".join(others[:_MAX_LISTED])
    more = f" and {len(others) - _MAX_LISTED} more" if len(others) > _MAX_LISTED else ""
    return shown + more


# --- assign ------------------------------------------------------------------------------


def _seed(text: str) -> int:
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big")


def _blocks_post(b: Blackout, r: Request) -> bool:
    """Whether a blackout applies to the post's campaign (scope aside)."""
    if b.campaigns is not None and r.campaign not in b.campaigns:
        return False
    return r.avoid_holidays or not b.kind.is_holiday


class _Post:
    """The requests of one central post, and what they share."""

    __slots__ = ("blackouts", "first", "groups", "requests", "seed")

    def __init__(self, first: Request, blackouts: list[Blackout]) -> None:
        self.first = first
        self.requests: list[Request] = []
        self.groups: dict[int, _Group] = {}
        self.seed = _seed(first.post)
        self.blackouts = [b for b in blackouts if _blocks_post(b, first)]

    def check(self, r: Request) -> None:
        f = self.first
        if (
            (r.central_at is not f.central_at and r.central_at != f.central_at)
            or (r.window is not f.window and r.window != f.window)
            or r.campaign != f.campaign
            or r.priority != f.priority
            or r.avoid_holidays != f.avoid_holidays
        ):
            raise ValueError(
                f"requests of post '{r.post}' disagree on its central time, window, "
                "campaign, priority or avoid_holidays"
            )

    def order(self) -> tuple[int, dt.datetime, str]:
        return (-self.first.priority, self.first.central_at, self.first.post)


def assign(
    requests: Iterable[Request],
    blackouts: Iterable[Blackout] = (),
    rules: Rules | None = None,
    fixed: Iterable[Fixed] = (),
    *,
    not_before: dt.datetime | None = None,
) -> dict[str, Timing]:
    """Time every request; returns ``{request.key: Timing}`` in input order.

    ``blackouts`` include holidays, Nyepi, quiet periods, custom blackouts and embargoes
    (see ``amplifier.timing.calendar.build_blackouts``). ``fixed`` times count for the
    account rules. With ``not_before`` (e.g. now) no time earlier than it is given.
    The result depends only on the input, never on its order.
    """
    rules = rules or Rules()
    reqs = list(requests)
    step = int(rules.step.total_seconds())
    gap = int(rules.min_gap.total_seconds())
    cap = rules.max_per_day or 0
    floor = None if not_before is None else to_seconds(not_before)

    general: list[Blackout] = []
    scoped: list[Blackout] = []
    for b in sorted(blackouts, key=lambda b: (b.rough_span(), b.key)):
        (general if b.scope.everywhere else scoped).append(b)
    by_platform = any(b.scope.platforms for b in scoped)

    out: dict[str, Timing | None] = dict.fromkeys(r.key for r in reqs)
    if len(out) != len(reqs):
        raise ValueError("request keys must be unique")
    posts: dict[str, _Post] = {}
    for r in reqs:
        p = posts.get(r.post)
        if p is None:
            p = posts[r.post] = _Post(r, general)
        elif not (  # the same objects: nothing to compare (the usual case)
            r.central_at is (lead := p.first).central_at
            and r.window is lead.window
            and r.campaign is lead.campaign
            and r.priority == lead.priority
            and r.avoid_holidays is lead.avoid_holidays
        ):
            p.check(r)
        p.requests.append(r)

    taken: dict[str, dict[int, int]] = {}
    fixed_of: dict[str, list[Fixed]] = {}
    for f in sorted(fixed, key=lambda f: (f.account, f.at, f.label)):
        if f.platform is not None:
            slot = to_seconds(f.at) // step
            taken.setdefault(f.platform, {}).setdefault(slot, slot + 1)
        fixed_of.setdefault(f.account, []).append(f)

    shapes: dict[tuple[Any, ...], int] = {}
    unit_shape: dict[Any, tuple[UnitInfo, int, tuple[int, ...]]] = {}
    accounts: dict[str, _Account] = {}
    moments: dict[int, dt.datetime] = {}
    by_key = attrgetter("key")
    # the loop below runs once per request: names it uses are bound locally
    mix, mask, utc, fromtimestamp = _MIX, _MASK, dt.UTC, dt.datetime.fromtimestamp
    left, right, insert, timing = bisect_left, bisect_right, insort, Timing

    for p in sorted(posts.values(), key=_Post.order):
        first = p.first
        central = to_seconds(first.central_at)
        hp, groups = p.seed, p.groups
        by_unit: dict[Any, tuple[UnitInfo, _Group]] = {}
        p.requests.sort(key=by_key)
        for r in p.requests:
            unit, platform = r.unit, r.platform
            skey: Any = (unit.code, platform) if by_platform else unit.code
            cached = by_unit.get(skey)
            if cached is not None and cached[0] is unit:
                g = cached[1]
            else:
                known = unit_shape.get(skey)
                if known is None or known[0] is not unit:
                    if known is not None and known[0] != unit:
                        raise ValueError(f"two different UnitInfo for unit code '{unit.code}'")
                    sig = tuple(
                        i
                        for i, b in enumerate(scoped)
                        if b.scope.matches(unit, platform if by_platform else None)
                    )
                    shape = shapes.setdefault((unit.zone, unit.hours, sig), len(shapes))
                    known = unit_shape[skey] = (unit, shape, sig)
                found_group = groups.get(known[1])
                if found_group is None:
                    applicable = p.blackouts + [
                        scoped[i] for i in known[2] if _blocks_post(scoped[i], first)
                    ]
                    applicable.sort(key=lambda b: (b.rough_span(), b.key))
                    found_group = groups[known[1]] = _build_group(
                        central, first.window, unit, applicable, rules, floor
                    )
                g = found_group
                by_unit[skey] = (unit, g)
            n = g.n
            if not n:
                out[r.key] = timing(
                    r.key, UNSCHEDULED, None, g.reasons, (g, 0, 0, None, None, False, platform)
                )
                continue

            acct = accounts.get(r.account)
            if acct is None:
                acct = accounts[r.account] = _Account(unit.zone, _seed(r.account))
                for taken_before in fixed_of.get(r.account, ()):
                    at = to_seconds(taken_before.at)
                    acct.add(at, taken_before.label, local_date(at, unit.zone).toordinal())
            position = ((((acct.seed ^ hp) * mix) & mask) >> 24) % n
            k = right(g.cum, position) - 1
            start = g.starts[k] + position - g.cum[k]

            slots = taken.get(platform)
            if slots is None:
                slots = taken[platform] = {}
            times = acct.times
            full = platform in g.full
            at = start * step
            events: list[_Event] | None = None
            shared = False
            if (
                (full or start not in slots)
                and (not cap or acct.counts.get(g.days[k], 0) < cap)
                and (
                    not gap
                    or not times
                    or (
                        ((i := left(times, at)) == len(times) or times[i] - at >= gap)
                        and (i == 0 or at - times[i - 1] >= gap)
                    )
                )
            ):
                final: int | None = start  # its spread position is free and allowed
                if full:
                    shared = start in slots
            else:
                events = []
                found = None
                if not full:
                    found = _search(g, k, start, slots, acct, gap, cap, step, events)
                    if found is None and all(e[0] == "platform" for e in events):
                        g.full.add(platform)
                if found is None:
                    events = []
                    found = _search(g, k, start, None, acct, gap, cap, step, events)
                    shared = found is not None
                final, k = found if found is not None else (None, k)
            if final is None:
                reason = (
                    "no slot in its window meets the account rules (minimum gap "
                    f"{format_duration(rules.min_gap)}, at most {rules.max_per_day} a day); "
                    f"lost to {_lost_to(events or [])}"
                )
                out[r.key] = timing(
                    r.key,
                    UNSCHEDULED,
                    None,
                    (reason,),
                    (g, position, start, None, events, False, platform),
                )
                continue
            at = final * step
            if final not in slots:
                slots[final] = final + 1
            day = g.days[k]
            insert(times, at)
            acct.owners[at] = (r.label or r.key, day)
            acct.counts[day] = acct.counts.get(day, 0) + 1
            moment = moments.get(at)
            if moment is None:
                moment = moments[at] = fromtimestamp(at, utc)
            out[r.key] = timing(
                r.key, SCHEDULED, moment, (), (g, position, start, final, events, shared, platform)
            )

    return out  # type: ignore[return-value]  # every key now has its Timing
