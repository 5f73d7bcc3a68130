"""Timetable: the timing stage of a plan, embargoes, and why a variant got its time.

Only approved variants are timed. Timing is decided across all variants together (the
gap and daily cap of an account span posts and campaigns), so a plan re-times every
approved, not-yet-final variant of the posts in scope, with every other scheduled or
published time as fixed, and writes only the rows whose time or status changed.

    counts = retime(ws)                             # after plan/review
    embargo = add_embargo(ws, starts, ends, reason="Hari berkabung nasional")
    lift_embargo(ws, embargo.key)                   # re-times the held variants
    print("\\n".join(why(ws, variant_id)))
"""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from amplifier.check import ELECTORAL
from amplifier.database import json_list, json_text, update_rows, utc_text
from amplifier.errors import InvalidOperation, NotFound
from amplifier.models import (
    ACCOUNTS,
    BLACKOUTS,
    CAMPAIGNS,
    POSTS,
    TIMING_STATES,
    UNITS,
    VARIANTS,
    Blackout,
    Campaign,
    CentralPost,
    Variant,
    utcnow,
)
from amplifier.targeting import Directory, read_directory
from amplifier.timing import (
    Fixed,
    PostTimingSpec,
    Request,
    Timing,
    TimingSpec,
    UnitInfo,
    assign,
    build_blackouts,
    embargoes_at,
    quiet_periods_at,
    years_between,
)
from amplifier.timing.calendar import Blackout as TimingBlackout
from amplifier.timing.calendar import BlackoutKind
from amplifier.vocab import ReviewState, VariantStatus

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

V = VARIANTS
EMBARGO = "embargo"
TIMEABLE = (VariantStatus.PENDING, VariantStatus.SCHEDULED, VariantStatus.UNSCHEDULED)
TAKEN = (VariantStatus.SCHEDULED, VariantStatus.PUBLISHING, VariantStatus.PUBLISHED)


def timing_columns() -> list[sa.ColumnElement[Any]]:
    """The variant columns timing reads, in ``_Row`` order."""
    return [
        V.c.id,
        V.c.post_id,
        V.c.account_id,
        V.c.unit_id,
        V.c.review,
        V.c.status,
        V.c.publish_at,
        json_text(V.c.reasons),
        V.c.idempotency_key,
        V.c.due_at,
        V.c.attempts,
        V.c.held_by,
    ]


class _Row(NamedTuple):
    """A variant as the timing stage sees it (a stored row with a plan's values applied)."""

    id: int | None
    post_id: int
    account_id: int
    unit_id: int
    review: str
    status: str
    publish_at: dt.datetime | None
    reasons: list[str]
    idempotency_key: str
    due_at: dt.datetime | None
    attempts: int
    held_by: str | None


@dataclass
class Planned:
    """What a plan is about to write, handed to the timing stage before it writes.

    ``inserts`` are new variant rows (no id yet); ``changes`` the values an update or a
    cancellation sets, by variant id. ``time_variants`` times these rows in place, so a
    plan writes each variant once, already timed.
    """

    inserts: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Shard:
    """The part of a timing run that times the variants of ``platforms`` (and, with
    ``orphans``, those whose account is gone). Timing one platform never reads another's
    variants (gaps and caps are per account, the spread per platform), so the shards of a
    run can be timed apart, in different processes, with the same result."""

    platforms: frozenset[str]
    orphans: bool = False

    def holds(self, platform: str | None) -> bool:
        return self.orphans if platform is None else platform in self.platforms


@dataclass
class _Scope:
    requests: list[Request]
    current: dict[str, Any]  # request key -> stored row (as the plan will leave it)
    fixed: list[Fixed]
    blackouts: list[TimingBlackout]
    units: dict[int, UnitInfo]
    slugs: dict[str, str]  # request key -> campaign slug
    planned: dict[str, dict[str, Any]]  # request key -> the row a plan will write
    rows: list[Any]  # every stored variant, as the plan will leave it before timing
    new: dict[str, dict[str, Any]]  # request key -> a new row of the plan (timeable)
    fresh: list[dict[str, Any]]  # every new row of the plan


def _scope(
    ws: Workspace,
    session: Session,
    post_ids: list[int] | None,
    now: dt.datetime,
    *,
    planned: Planned | None = None,
    directory: Directory | None = None,
    posts: dict[int | None, tuple[Campaign, CentralPost]] | None = None,
    shard: Shard | None = None,
) -> _Scope:
    settings = ws.settings.timing
    if directory is None:
        directory = read_directory(session.connection())
    if posts is None:
        posts = {
            p.id: (c, p)
            for c, p in session.execute(
                select(Campaign, CentralPost).join(
                    CentralPost,
                    CentralPost.campaign_id == Campaign.id,  # type: ignore[arg-type]
                )
            ).all()
        }
    # plain tuples per account and post: the loops below run once per variant
    accounts = {
        a.id: (f"{a.platform}:{a.handle_key}", str(a.platform), a.handle)
        for accts in directory.accounts.values()
        for a in accts
    }
    post_info = {
        pid: (c.active and p.active, c.slug, p.key, c.priority, p.central_at)
        for pid, (c, p) in posts.items()
    }
    units: dict[int, UnitInfo] = {}
    windows: dict[int, tuple[str, Any, bool]] = {}
    rows = session.execute(sa.select(*timing_columns())).all()
    to_write: dict[str, dict[str, Any]] = {}
    fresh: list[dict[str, Any]] = []
    if planned is not None:
        rows = _overlay(rows, planned, to_write)
        fresh = planned.inserts  # a shard's plan holds only rows of the shard
    if shard is not None:
        holds = shard.holds
        rows = [r for r in rows if holds((accounts.get(r.account_id) or (None, None))[1])]
    in_scope = set(post_ids) if post_ids is not None else None
    requests: list[Request] = []
    fixed: list[Fixed] = []
    current: dict[str, Any] = {}
    slugs: dict[str, str] = {}
    new: dict[str, dict[str, Any]] = {}
    lo = hi = now
    approved = ReviewState.APPROVED
    timeable_status = frozenset(map(str, TIMEABLE))

    def to_time() -> Iterator[tuple[int, int, int, str]]:
        """(post, account, unit, key) of every approved variant to time."""
        for r in rows:
            about = post_info.get(r.post_id)
            if about is None or r.account_id not in accounts:
                continue
            timeable = (
                about[0]
                and (in_scope is None or r.post_id in in_scope)
                and r.status in TIMEABLE
                and not r.attempts  # a variant being retried is the dispatcher's to time
            )
            if not timeable:
                if r.status in TAKEN and r.publish_at is not None:
                    account_key, platform = accounts[r.account_id][:2]
                    fixed.append(Fixed(account_key, r.publish_at, platform, f"variant {r.id}"))
                continue
            current[r.idempotency_key] = r
            if r.review == approved:
                yield r.post_id, r.account_id, r.unit_id, r.idempotency_key
        for w in fresh:  # a new row: pending, never attempted, its post in the plan
            key = w["idempotency_key"]
            to_write[key] = w
            post_id, account_id = w["post_id"], w["account_id"]
            about = post_info.get(post_id)
            if (
                about is None
                or not about[0]
                or account_id not in accounts
                or (in_scope is not None and post_id not in in_scope)
                or str(w["status"]) not in timeable_status
            ):
                continue
            new[key] = w
            if w["review"] == approved:
                yield post_id, account_id, w["unit_id"], key

    for post_id, account_id, unit_id, key in to_time():
        unit = directory.units.get(unit_id)
        if unit is None:
            continue
        info = units.get(unit_id)
        if info is None:
            info = units[unit_id] = UnitInfo(
                unit.code,
                unit.timezone,
                str(unit.kind),
                unit.region,
                tuple(a.code for a in directory.ancestors(unit)),
                tuple(unit.tags),
                settings.hours_for(unit.code, unit.kind),
            )
        known = windows.get(post_id)
        if known is None:
            camp, post = posts[post_id]
            post_spec = PostTimingSpec.model_validate(post.timing) if post.timing else None
            window, avoid = settings.resolve(
                TimingSpec.model_validate(camp.timing or {}), post_spec
            )
            _, slug, post_key, _, central_at = post_info[post_id]
            known = windows[post_id] = (f"{slug}/{post_key}", window, avoid)
            lo, hi = min(lo, central_at), max(hi, central_at)
        post_label, window, avoid = known
        account_key, platform, handle = accounts[account_id]
        _, slug, _, priority, central_at = post_info[post_id]
        requests.append(
            Request(
                key,
                post_label,
                account_key,
                platform,
                info,
                central_at,
                slug,
                priority,
                window,
                avoid,
                f"{post_label} on {platform}:@{handle}",
            )
        )
        slugs[key] = slug
    files = ws.files
    blackouts = workspace_blackouts(
        ws,
        session,
        years_between(lo, hi + dt.timedelta(days=2)),
        holidays=files.holidays,
        quiet_periods=files.quiet_periods,
    )
    return _Scope(
        requests, current, fixed, blackouts, units, slugs, to_write, list(rows), new, fresh
    )


def workspace_blackouts(
    ws: Workspace,
    conn: sa.Connection | Session,
    years: Iterable[int],
    *,
    holidays: Iterable[Any],
    quiet_periods: Iterable[Any],
) -> list[TimingBlackout]:
    """Every blackout that times variants: the holidays and quiet periods given (from the
    calendar files), Nyepi, and the database's active blackouts and embargoes."""
    stored = conn.execute(sa.select(BLACKOUTS).where(BLACKOUTS.c.active == sa.true())).all()
    settings = ws.settings.timing
    return build_blackouts(
        years,
        holidays=holidays,
        quiet_periods=quiet_periods,
        blackouts=[b for b in stored if b.kind != EMBARGO],
        embargoes=[b for b in stored if b.kind == EMBARGO],
        language=settings.holiday_language,
        nyepi_regions=settings.nyepi_regions,
    )


def _overlay(
    rows: Iterable[Any], planned: Planned, to_write: dict[str, dict[str, Any]]
) -> list[Any]:
    """The stored rows as they will be once the plan has written its ``changes`` (its
    new rows are not stored yet: ``_scope`` reads them from ``planned.inserts``)."""
    changes = planned.changes
    if not changes:
        return list(rows)
    out: list[Any] = []
    for r in rows:
        change = changes.get(r.id)
        if change is not None:
            r = _Row(
                *(change.get(name, value) for name, value in zip(_Row._fields, r, strict=True))
            )
            to_write[r.idempotency_key] = change
        out.append(r)
    return out


def retime(
    ws: Workspace, *, post_ids: list[int] | None = None, now: dt.datetime | None = None
) -> Counter[str]:
    """Time the approved variants of ``post_ids`` (all posts when None); write the changes."""
    result = time_variants(ws, post_ids=post_ids, now=now)
    _write(ws, result.changes)
    return result.counts


def time_variants(
    ws: Workspace,
    *,
    post_ids: list[int] | None = None,
    now: dt.datetime | None = None,
    planned: Planned | None = None,
    directory: Directory | None = None,
    posts: dict[int | None, tuple[Campaign, CentralPost]] | None = None,
    shard: Shard | None = None,
) -> Timed:
    """Time the approved variants of ``post_ids`` (all posts when None), the stored ones
    seen as ``planned`` will leave them. Planned rows get their timing in place; the
    other changes come back as update rows (``{"_id": …, …}``) for the caller to write.
    ``counts["changed"]`` counts both; ``states`` is every variant's timing state once
    all is written (for ``timing_input``). ``directory`` and ``posts`` (all posts, by id)
    may be handed over when the caller has them loaded. With ``shard``, only the variants
    of its platforms are timed (and counted in ``states``); ``planned`` then holds only
    rows of the shard."""
    now = now or utcnow()
    with Session(ws.engine) as session:
        scope = _scope(
            ws,
            session,
            post_ids,
            now,
            planned=planned,
            directory=directory,
            posts=posts,
            shard=shard,
        )
    rules = ws.settings.timing.rules()
    counts: Counter[str] = Counter()
    # Electoral terms in a masa tenang: those variants go back to review, and the others
    # are timed again without them, so that their slots are free.
    to_review: dict[str, dict[str, Any]] = {}
    requests = scope.requests
    while True:
        timings = assign(requests, scope.blackouts, rules, scope.fixed, not_before=now)
        found = _electoral_in_quiet_periods(ws, scope, requests, timings)
        if not found:
            break
        to_review.update(found)
        requests = [r for r in requests if r.key not in to_review]
    changes: list[dict[str, Any]] = []
    changed = 0

    def change(row: Any, values: dict[str, Any]) -> None:
        nonlocal changed
        changed += 1
        target = scope.planned.get(row.idempotency_key)
        if target is not None:
            target.update(values, updated_at=now)
        else:
            changes.append({"_id": row.id, **values, "updated_at": now})

    new = scope.new
    scheduled, unscheduled = VariantStatus.SCHEDULED, VariantStatus.UNSCHEDULED
    for key, timing in timings.items():
        w = new.get(key)
        if w is not None:  # a new row (pending, untimed): its timing always changes it
            if timing.status == "scheduled":
                counts[scheduled] += 1
                w["status"] = scheduled
                w["publish_at"] = w["due_at"] = timing.publish_at
                w["reasons"] = []
            else:
                counts[unscheduled] += 1
                w["status"] = unscheduled
                w["publish_at"] = w["due_at"] = None
                w["reasons"] = list(timing.reasons)
            w["updated_at"] = now
            changed += 1
            continue
        row = scope.current[key]
        values = _values(timing)
        counts[values["status"]] += 1
        if _differs(row, values):
            change(row, values)
    for key, values in to_review.items():
        counts["quiet_review"] += 1
        w = new.get(key)
        if w is not None:
            w.update(values, updated_at=now)
            changed += 1
            continue
        row = scope.current[key]
        if str(row.review) != str(values["review"]) or _differs(row, values):
            change(row, values)
    for key, row in scope.current.items():
        if (
            key not in timings
            and key not in to_review
            and (row.status != VariantStatus.PENDING or row.publish_at is not None)
        ):
            # not approved (any more): it waits, untimed
            change(
                row,
                {
                    "status": VariantStatus.PENDING,
                    "publish_at": None,
                    "due_at": None,
                    "reasons": [],
                },
            )
            counts["pending"] += 1
    counts["changed"] = changed
    by_id = {c["_id"]: c for c in changes}
    to_write = scope.planned
    states = [
        variant_timing(row, to_write.get(row.idempotency_key) or by_id.get(row.id))
        for row in scope.rows
    ]
    states += _new_states(scope.fresh)
    return Timed(counts, changes, states)


def _new_states(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The timing states (``variant_timing``) of a plan's new rows, timed: every value is
    in the row it writes. Many share a time: each time is written out once."""
    texts: dict[dt.datetime, str] = {}
    out = []
    for w in rows:
        at, due, reasons = w["publish_at"], w["due_at"], w["reasons"]
        if at is None:
            at_text = None
        else:
            at_text = texts.get(at)
            if at_text is None:
                at_text = texts[at] = utc_text(at)  # type: ignore[assignment]
        due_text = at_text if due is at else _instant(due)
        out.append(
            (
                w["idempotency_key"],
                w["post_id"],
                w["account_id"],
                w["unit_id"],
                str(w["review"]),
                str(w["status"]),
                at_text,
                due_text,
                0,
                None,
                tuple(reasons) if reasons else (),
            )
        )
    return out


class Timed(NamedTuple):
    counts: Counter[str]
    changes: list[dict[str, Any]]  # update rows for the caller to write
    states: list[tuple[Any, ...]]  # every variant's timing state after the writes


def variant_timing(row: Any, written: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
    """A variant's timing columns (``_Row`` order) as a canonical tuple, the one
    ``stored_state`` makes of the stored row; ``written``: the values a plan sets over them."""
    if written:
        row = _Row(
            *(written.get(name, value) for name, value in zip(_Row._fields, row, strict=True))
        )
    (
        _id,
        post_id,
        account_id,
        unit_id,
        review,
        status,
        publish_at,
        reasons,
        key,
        due_at,
        attempts,
        held_by,
    ) = row
    state = (key, post_id, account_id, unit_id, str(review), str(status))
    return stored_state((*state, publish_at, due_at, attempts, held_by, reasons))


def state_columns() -> list[sa.ColumnElement[Any]]:
    """The variant columns of a timing state, in its order, read as the driver hands them
    over (no type processing: most of a re-plan's time went into it): ``stored_state``
    makes the state of such a row."""
    raw = sa.String()
    return [
        V.c.idempotency_key,
        V.c.post_id,
        V.c.account_id,
        V.c.unit_id,
        sa.type_coerce(V.c.review, raw),
        sa.type_coerce(V.c.status, raw),
        sa.type_coerce(V.c.publish_at, raw),
        sa.type_coerce(V.c.due_at, raw),
        V.c.attempts,
        V.c.held_by,
        json_text(V.c.reasons),
    ]


def stored_state(values: Sequence[Any]) -> tuple[Any, ...]:
    """The timing state (``variant_timing``) of a row read with ``state_columns`` (or of
    values in that order: times as stored text or aware datetimes, reasons as JSON text
    or a list)."""
    publish_at, due_at, attempts, held_by, reasons = values[6:]
    return (
        *values[:6],  # key, post, account, unit, review, status
        _instant(publish_at),
        _instant(due_at),
        attempts or 0,
        held_by,
        tuple(json_list(reasons) if reasons is None or isinstance(reasons, str) else reasons),
    )


def _instant(value: dt.datetime | str | None) -> str | None:
    """A time of a timing state: its stored UTC text. SQLite hands back that text itself
    (as SQLAlchemy writes it, to the microsecond); other drivers an aware datetime, and a
    plan's rows hold aware datetimes: those are written out in the same form."""
    return value if value is None or isinstance(value, str) else utc_text(value)


def _electoral_in_quiet_periods(
    ws: Workspace, scope: _Scope, requests: list[Request], timings: Mapping[str, Timing]
) -> dict[str, dict[str, Any]]:
    """Variants timed into an election quiet period (one that does not block their campaign)
    whose text has electoral terms, approved by no person: request key -> the values that
    send them back to review."""
    quiet = [b for b in scope.blackouts if b.kind is BlackoutKind.QUIET]
    if not quiet:
        return {}
    lo = min(b.rough_span()[0] for b in quiet)
    hi = max(b.rough_span()[1] for b in quiet)
    by_key = {r.key: r for r in requests}
    candidates: dict[str, tuple[Request, dt.datetime]] = {}
    for key, timing in timings.items():
        at = timing.publish_at
        if at is not None and lo <= at.timestamp() < hi:
            candidates[key] = (by_key[key], at)
    if not candidates:
        return {}
    # what to judge: the row a plan is about to write, else the stored one
    judged: dict[str, Any] = {}
    stored: dict[int, str] = {}
    for key in candidates:
        row = scope.planned.get(key)
        if row is not None and "findings" in row:
            judged[key] = _Judged(row["findings"], row["text"], row.get("title"), None)
        else:
            stored[scope.current[key].id] = key
    if stored:
        with ws.engine.connect() as conn:
            for r in conn.execute(
                sa.select(V.c.id, V.c.findings, V.c.text, V.c.title, V.c.reviewed_by).where(
                    V.c.id.in_(list(stored))
                )
            ):
                judged[stored[r.id]] = _Judged(r.findings or [], r.text, r.title, r.reviewed_by)
    out: dict[str, dict[str, Any]] = {}
    for key, (request, at) in candidates.items():
        variant = judged.get(key)
        if variant is None or variant.reviewed_by is not None:
            continue  # a person approved it: it may go out in a masa tenang
        terms = [f for f in variant.findings if f.get("category") == ELECTORAL]
        if not terms:
            continue
        periods = quiet_periods_at(quiet, request.unit, at, platform=request.platform)
        if not periods:
            continue
        words = ", ".join(sorted({_matched(variant, f) for f in terms}))
        local = at.astimezone(ZoneInfo(request.unit.zone)).strftime("%Y-%m-%d %H:%M")
        out[key] = {
            "review": ReviewState.NEEDS_REVIEW,
            "status": VariantStatus.PENDING,
            "publish_at": None,
            "due_at": None,
            "reasons": [
                f"{periods[0]} covers its time {local} ({request.unit.zone}) and its text "
                f"has electoral terms ({words}): a person must approve it to go out then"
            ],
        }
    return out


class _Judged(NamedTuple):
    findings: list[dict[str, Any]]
    text: str
    title: str | None
    reviewed_by: str | None


def _matched(row: _Judged, finding: dict[str, Any]) -> str:
    span = finding.get("span")
    text = (row.title if finding.get("field") == "title" else row.text) or ""
    return f"'{text[span[0] : span[1]]}'" if span else str(finding["rule"])


def _values(timing: Timing) -> dict[str, Any]:
    if timing.status == "scheduled":
        return {
            "status": VariantStatus.SCHEDULED,
            "publish_at": timing.publish_at,
            "due_at": timing.publish_at,
            "reasons": [],
        }
    return {
        "status": VariantStatus.UNSCHEDULED,
        "publish_at": None,
        "due_at": None,
        "reasons": list(timing.reasons),
    }


def _differs(row: Any, values: Mapping[str, Any]) -> bool:
    return (
        str(row.status) != str(values["status"])
        or row.publish_at != values["publish_at"]
        or row.due_at != values["due_at"]
        or _reasons(row) != values["reasons"]
    )


# --- the timing state: is a re-time needed at all? ------------------------------------------

TIMING_VERSION = "2"  # bump when timing changes in a way that must re-time everything


def timing_scope(post_ids: Iterable[int] | None) -> str:
    """The key of a set of posts in ``timing_state``."""
    ids = "all" if post_ids is None else ",".join(map(str, sorted(post_ids)))
    return hashlib.blake2b(ids.encode(), digest_size=16).hexdigest()


def timing_input(
    ws: Workspace,
    conn: sa.Connection,
    post_ids: list[int] | None,
    now: dt.datetime,
    states: list[tuple[Any, ...]] | None = None,
    scope_states: list[tuple[Any, ...]] | None = None,
    summed: StateSum | None = None,
    base: TimingBase | None = None,
) -> str | None:
    """Digest of everything timing the variants of ``post_ids`` reads from the database and
    the workspace: settings, holidays, quiet periods, blackouts, units, accounts, posts,
    campaigns (``timing_base``) and every variant's timing columns. None when the result
    could depend on ``now`` itself (``now`` is past the central time of a live post in
    scope, so it would cut a window).

    Timing is a function of that input (``amplifier.timing.assign``), so when the digest
    equals the one stored after the last timing (``stored_timing``), timing again would
    write nothing. ``summed``: the sum of every variant's timing state (``StateSum``) when
    the caller has it. ``states``: the variants' timing states when the caller knows them
    (``Timed.states``), instead of reading them; ``scope_states``: those of the variants
    of ``post_ids`` only (read by the caller already), so only the others are read.
    ``base``: ``timing_base`` of the same arguments, when the caller has it.
    """
    if base is None:
        base = timing_base(ws, conn, post_ids, now)
    if base is None:
        return None
    in_scope = set(post_ids) if post_ids is not None else None
    if summed is not None:
        pass  # every state, summed by the caller
    elif states is None and scope_states is not None and in_scope is not None:
        if in_scope.issuperset(base.post_ids):
            states = scope_states  # every post is in scope: there are no others to read
        else:
            query = sa.select(*state_columns()).where(V.c.post_id.not_in(sorted(in_scope)))
            states = [stored_state(r) for r in conn.execute(query).all()] + scope_states
    elif states is None:
        every = conn.execute(sa.select(*state_columns())).all()
        states = [stored_state(r) for r in every] + (scope_states or [])
    if summed is None:
        summed = StateSum.of(states or [])
    h = base.hasher.copy()
    h.update(b"m" + marshal.dumps(("states", summed.count, summed.total), 2) + b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True)
class TimingBase:
    """The part of ``timing_input`` that does not read the variants: a hasher fed with
    it (copy it to add more), its digest, and the ids of every post."""

    hasher: Any  # hashlib.blake2b
    digest: str
    post_ids: tuple[int, ...]


def timing_base(
    ws: Workspace, conn: sa.Connection, post_ids: list[int] | None, now: dt.datetime
) -> TimingBase | None:
    """Everything ``timing_input`` reads except the variants' timing states; None when
    the result could depend on ``now`` itself (see ``timing_input``)."""
    P, C = POSTS, CAMPAIGNS
    in_scope = set(post_ids) if post_ids is not None else None
    posts = conn.execute(
        sa.select(
            P.c.id,
            P.c.key,
            P.c.central_at,
            P.c.active,
            json_text(P.c.timing),
            C.c.slug,
            C.c.priority,
            C.c.active.label("campaign_active"),
            json_text(C.c.timing),
        )
        .join(C, C.c.id == P.c.campaign_id)
        .order_by(P.c.id)
    ).all()
    for row in posts:
        live = row.active and row.campaign_active
        if live and (in_scope is None or row.id in in_scope) and row.central_at < now:
            return None
    h = hashlib.blake2b(digest_size=16)
    settings, files = ws.settings.timing, ws.files

    def add(part: Any) -> None:
        try:  # marshal's format 2: equal values, equal bytes (see StateSum); else repr
            h.update(b"m" + marshal.dumps(part, 2))
        except ValueError:
            h.update(b"r" + repr(part).encode())
        h.update(b"\x1f")

    add((TIMING_VERSION, now.year, _holidays_version()))
    add(settings.model_dump_json())
    add([e.model_dump_json() for e in files.holidays])
    add([q.model_dump_json() for q in files.quiet_periods])
    add(sorted(post_ids) if post_ids is not None else None)
    add([tuple(r) for r in posts])
    for table in (UNITS, ACCOUNTS, BLACKOUTS):
        # the stored values as the driver hands them over: no type processing
        raw = [sa.type_coerce(c, sa.String()) for c in table.c]
        add([tuple(r) for r in conn.execute(sa.select(*raw).order_by(table.c.id)).all()])
    return TimingBase(h, h.copy().hexdigest(), tuple(r.id for r in posts))


@dataclass(frozen=True)
class StateSum:
    """The digest of a set of timing states: how many, and the sum of their blake2b-128
    digests modulo 2**128. A sum does not depend on the order of the states, nor on how
    they are split: each part of a plan sums its own, in its own process, and the parent
    adds the sums (``+``). Each state is written with marshal's format 2, which writes
    equal values as equal bytes whatever their identity; a value marshal refuses (a
    ``str`` subclass, say) is written with ``repr``."""

    count: int = 0
    total: int = 0

    @classmethod
    def of(cls, states: Iterable[tuple[Any, ...]]) -> StateSum:
        count = total = 0
        dumps, blake2b, number = marshal.dumps, hashlib.blake2b, int.from_bytes
        for state in states:
            try:
                data = dumps(state, 2)
            except ValueError:
                data = repr(state).encode()
            total += number(blake2b(data, digest_size=16).digest(), "big")
            count += 1
        return cls(count, total % _SUM_MODULUS)

    def __add__(self, other: StateSum) -> StateSum:
        return StateSum(self.count + other.count, (self.total + other.total) % _SUM_MODULUS)


_SUM_MODULUS = 1 << 128


def stored_timing(conn: sa.Connection, scope: str) -> str | None:
    T = TIMING_STATES
    return conn.execute(sa.select(T.c.digest).where(T.c.scope == scope)).scalar_one_or_none()


def store_timing(conn: sa.Connection, scope: str, digest: str | None) -> None:
    """Record (or, with None, forget) the digest of the input the last timing read."""
    T = TIMING_STATES
    if digest is not None and stored_timing(conn, scope) == digest:
        return  # the same: nothing to write
    conn.execute(sa.delete(T).where(T.c.scope == scope))
    if digest is not None:
        conn.execute(sa.insert(T).values(scope=scope, digest=digest, updated_at=utcnow()))


def _holidays_version() -> str:
    try:
        return metadata.version("holidays")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        return "?"


def _reasons(row: Any) -> list[str]:
    """A row's reasons: a list (a plan's row) or the stored JSON text (``json_text``)."""
    reasons = row.reasons
    return json_list(reasons) if reasons is None or isinstance(reasons, str) else list(reasons)


def _write(ws: Workspace, changes: list[dict[str, Any]]) -> None:
    if not changes:
        return
    with ws.engine.begin() as conn:
        update_rows(conn, V, changes)


def why(ws: Workspace, variant_id: int, *, now: dt.datetime | None = None) -> list[str]:
    """How the variant's time was chosen: window, hours, blackouts, conflicts, shifts.

    Timing is re-derived from the database as a plan of all posts would do it.
    """
    now = now or utcnow()
    with Session(ws.engine) as session:
        variant = session.get(Variant, variant_id)
        if variant is None:
            raise NotFound(f"no variant {variant_id}")
        head = [f"variant {variant_id}: {variant.status}, review {variant.review}"]
        if variant.publish_at:
            head.append(f"publish_at {variant.publish_at.isoformat()}")
        if variant.held_by:
            head.append(f"held by embargo '{variant.held_by}'")
        if variant.review != ReviewState.APPROVED:
            return [*head, *variant.reasons, "not timed: only approved variants are scheduled"]
        if variant.status not in TIMEABLE:
            return [*head, *variant.reasons, "its time is final (not re-timed)"]
        scope = _scope(ws, session, None, now)
    timings = assign(
        scope.requests, scope.blackouts, ws.settings.timing.rules(), scope.fixed, not_before=now
    )
    timing = timings.get(variant.idempotency_key)
    if timing is None:
        return [*head, "not in the current plan"]
    return [*head, *(str(s) for s in timing.steps)]


# --- embargoes --------------------------------------------------------------------------


def add_embargo(
    ws: Workspace,
    starts: dt.datetime,
    ends: dt.datetime,
    *,
    reason: str,
    scope: Mapping[str, Any] | None = None,
    campaigns: list[str] | None = None,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Blackout, int]:
    """Record an embargo and hold, at once, every pending or scheduled variant it covers."""
    if starts.tzinfo is None or ends.tzinfo is None:
        raise InvalidOperation("embargo times need a UTC offset, e.g. 2027-06-01T00:00+07:00")
    if ends <= starts:
        raise InvalidOperation("the embargo ends before it starts")
    now = now or utcnow()
    key = (
        key
        or "embargo-"
        + hashlib.blake2b(
            f"{starts.isoformat()}|{ends.isoformat()}|{reason}".encode(), digest_size=4
        ).hexdigest()
    )
    embargo = Blackout(
        key=key,
        name=reason,
        kind=EMBARGO,
        starts_at=starts,
        ends_at=ends,
        scope=dict(scope or {}),
        campaigns=list(campaigns or []),
        reason=reason,
        source="amplifier embargo add",
    )
    with Session(ws.engine) as session:
        if session.exec(select(Blackout).where(Blackout.key == key)).first() is not None:
            raise InvalidOperation(f"an embargo '{key}' exists already")
        session.add(embargo)
        session.commit()
        session.refresh(embargo)
    return embargo, hold(ws, now=now)


def hold(ws: Workspace, *, now: dt.datetime | None = None) -> int:
    """Hold every pending or scheduled variant whose time (or central time) an active
    embargo covers; return how many were newly held."""
    now = now or utcnow()
    B = BLACKOUTS
    with ws.engine.connect() as conn:
        active = conn.execute(
            sa.select(sa.func.count()).where(B.c.kind == EMBARGO, B.c.active == sa.true())
        ).scalar_one()
    if not active:
        return 0
    with Session(ws.engine) as session:
        scope = _scope(ws, session, None, now)
        embargoes = [b for b in scope.blackouts if str(b.kind) == EMBARGO]
        rows = session.execute(
            sa.select(V.c.id, V.c.publish_at, V.c.idempotency_key, V.c.unit_id, V.c.status).where(
                V.c.status.in_([VariantStatus.PENDING, VariantStatus.SCHEDULED])
            )
        ).all()
    by_key = {r.key: r for r in scope.requests}
    changes = []
    for r in rows:
        request = by_key.get(r.idempotency_key)
        unit = scope.units.get(r.unit_id)
        if request is None or unit is None:
            continue
        moment = r.publish_at or request.central_at
        hits = embargoes_at(embargoes, unit, request.campaign, moment, platform=request.platform)
        if hits:
            changes.append(
                {
                    "_id": r.id,
                    "status": VariantStatus.HELD,
                    "held_by": hits[0].key,
                    "due_at": None,
                    "reasons": [f"held by embargo: {hits[0].name}"],
                    "updated_at": now,
                }
            )
    _write(ws, changes)
    return len(changes)


def lift_embargo(ws: Workspace, key: str, *, now: dt.datetime | None = None) -> Counter[str]:
    """End an embargo (it stays on record, inactive) and re-time what it held: each held
    variant is scheduled again, or marked missed with the reason when its window passed."""
    now = now or utcnow()
    with Session(ws.engine) as session:
        embargo = session.exec(
            select(Blackout).where(Blackout.key == key, Blackout.kind == EMBARGO)
        ).first()
        if embargo is None:
            raise NotFound(f"no embargo '{key}'")
        embargo.active = False
        session.add(embargo)
        session.commit()
    with ws.engine.begin() as conn:
        held = [
            r.id
            for r in conn.execute(
                sa.select(V.c.id).where(V.c.status == VariantStatus.HELD, V.c.held_by == key)
            )
        ]
        if held:
            conn.execute(
                sa.update(V)
                .where(V.c.id.in_(held))
                .values(status=VariantStatus.PENDING, held_by=None, publish_at=None, due_at=None)
            )
    counts = retime(ws, now=now)
    missed = []
    with ws.engine.connect() as conn:
        for r in conn.execute(
            sa.select(V.c.id, V.c.reasons).where(
                V.c.id.in_(held), V.c.status == VariantStatus.UNSCHEDULED
            )
        ):
            why_not = "; ".join(r.reasons or []) or "its window has passed"
            missed.append(
                {
                    "_id": r.id,
                    "status": VariantStatus.MISSED,
                    "reasons": [f"embargo '{key}' was lifted too late: {why_not}"],
                    "updated_at": now,
                }
            )
    _write(ws, missed)
    result: Counter[str] = Counter(released=len(held), missed=len(missed))
    result["rescheduled"] = len(held) - result["missed"]
    result.update({f"retime_{k}": v for k, v in counts.items()})
    return result


def list_embargoes(ws: Workspace, *, include_lifted: bool = True) -> list[Blackout]:
    with Session(ws.engine) as session:
        query = select(Blackout).where(Blackout.kind == EMBARGO)
        if not include_lifted:
            query = query.where(Blackout.active == sa.true())
        return list(session.exec(query.order_by(col(Blackout.starts_at))).all())
