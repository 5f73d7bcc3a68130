"""Plan: target → render → check, then upsert the variants in bulk.

    summary = ws.plan(campaign="laporan-kinerja-2026")
    print(summary.counts, summary.by_status)

A variant's identity is (central post, account). Each stores the digest of everything its
rendering read (``input_hash``), so a re-plan of unchanged input renders nothing and writes
nothing; an edit re-renders only the variants it touches. Published (or in-flight) variants
are never changed. A target that disappeared leaves its variant ``cancelled``, with the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import heapq
import itertools
import json
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from amplifier.check import Context as CheckContext
from amplifier.check import VariantChecker
from amplifier.database import (
    Scratch,
    grow_cache,
    insert_rows,
    json_list,
    json_text,
    prepare_insert,
    reserve_ids,
    update_rows,
)
from amplifier.errors import NotFound
from amplifier.findings import Finding
from amplifier.load.source import suggest
from amplifier.models import POSTS, VARIANTS, Campaign, CentralPost, utcnow
from amplifier.plan_state import MAX_STORED_FINDINGS, PlanStamp, plan_stamp, store_plan_state
from amplifier.platforms import preload
from amplifier.policy.config import RequireSpec
from amplifier.render import (
    Renderer,
    account_variables,
    campaign_variables,
    post_variables,
    unit_variables,
    zone_of,
)
from amplifier.review import initial_state
from amplifier.targeting import (
    AccountRow,
    Directory,
    Target,
    UnitRow,
    read_directory,
    select_targets,
)
from amplifier.timetable import (
    Planned,
    Shard,
    StateSum,
    Timed,
    TimingBase,
    hold,
    state_columns,
    store_timing,
    stored_state,
    stored_timing,
    time_variants,
    timing_input,
    timing_scope,
)
from amplifier.vocab import Platform, ReviewState, VariantStatus

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

RENDER_VERSION = "2"  # bump when rendering changes in a way that must re-render everything

#: statuses whose variant is never rewritten by a plan
FROZEN = frozenset(
    {
        VariantStatus.PUBLISHED,
        VariantStatus.PUBLISHING,
        VariantStatus.UNCERTAIN,
        VariantStatus.FAILED,
        VariantStatus.MISSED,
    }
)

Progress = Callable[[int, int], None]
_T = TypeVar("_T", bound=tuple[Any, ...])
_R = TypeVar("_R")
HAND_CANCELLED = "cancelled by hand"


@dataclass
class PlanSummary:
    posts: int = 0
    targets: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # created, updated, unchanged, …
    by_status: Counter[str] = field(default_factory=Counter)
    findings: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    #: False when the plan state showed that nothing changed since the last plan of the
    #: same scope, so no variant was read or compared (``amplifier.plan_state``)
    compared: bool = True
    #: wall seconds of each stage, in the order they ran (``STAGES``)
    stages: dict[str, float] = field(default_factory=dict)
    #: per part of the plan (one, or two side by side): its platforms (None: all) and the
    #: wall seconds of its render (with checks), time and prepare steps
    parts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "targets": self.targets,
            "counts": dict(self.counts),
            "by_status": {str(k): v for k, v in self.by_status.items() if v},
            "findings": self.findings,
            "compared": self.compared,
            "seconds": round(self.seconds, 3),
            "stages": {k: round(v, 3) for k, v in self.stages.items()},
            "parts": [
                {k: round(v, 3) if isinstance(v, float) else v for k, v in part.items()}
                for part in self.parts
            ],
        }


#: the stages of a plan, as ``PlanSummary.stages`` names them: ``read`` (the plan state,
#: the directory, the posts and their stored variants), ``target`` (who receives each post,
#: which chain renders it, what is unchanged), ``parts`` (render, check and time, in one
#: part or two side by side; with two, the parent also inserts its own rows meanwhile and
#: then copies the helper's), ``write`` (the other writes and the commit) and ``finish``
#: (held variants and the counts by status). A plan of unchanged input has ``read`` and
#: ``finish`` only.
STAGES = ("read", "target", "parts", "write", "finish")


_is_bytes = bytes.__instancecheck__  # isinstance(part, bytes), mapped in C


def digest(*parts: Any) -> str:
    """blake2b-128 of the parts, each followed by a unit separator."""
    if any(map(_is_bytes, parts)):
        h = hashlib.blake2b(digest_size=16)
        for part in parts:
            h.update(part if isinstance(part, bytes) else str(part).encode())
            h.update(b"\x1f")
        return h.hexdigest()
    # the same bytes in one update (the plan digests every variant)
    text = "\x1f".join(map(str, parts)) + "\x1f" if parts else ""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def content_hash(text: str, title: str | None) -> str:
    """A variant's ``content_hash``: ``digest(text, title or "")``, without its checks
    (the plan hashes every variant it renders)."""
    return hashlib.blake2b(f"{text}\x1f{title or ''}\x1f".encode(), digest_size=16).hexdigest()


def idempotency_key(campaign_slug: str, post_key: str, platform: str, handle_key: str) -> str:
    """Stable across databases and re-plans: the same variant always has the same key.
    ``digest("variant", campaign_slug, post_key, platform, handle_key)``, in one format
    (the plan keys every new variant)."""
    return _keyed(_key_prefix(campaign_slug, post_key), platform, handle_key)


def _key_prefix(campaign_slug: str, post_key: str) -> str:
    """What the idempotency keys of one post's variants start with (``_keyed``)."""
    return f"variant\x1f{campaign_slug}\x1f{post_key}\x1f"


def _keyed(prefix: str, platform: str, handle_key: str) -> str:
    text = f"{prefix}{platform}\x1f{handle_key}\x1f"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class _Existing:
    id: int
    input_hash: str
    content_hash: str
    status: str
    review: str
    findings_json: str | None  # parsed only when needed (most re-plans need few)
    by_hand: bool = False  # cancelled by a person: a plan never revives it

    @property
    def findings(self) -> list[dict[str, Any]]:
        return json_list(self.findings_json)


@dataclass(frozen=True)
class Stages:
    """Which optional stages a plan runs. Internal: ``benchmarks/fanout.py`` switches one
    off to measure its share of the plan time; every real plan runs them all.

    ``check=False`` records no findings (so every variant is approved under auto review);
    ``timing=False`` leaves every variant ``pending``, untimed; ``processes`` forces the
    number of rendering processes (1 or 2; tests compare the two).
    """

    check: bool = True
    timing: bool = True
    processes: int | None = None  # None: two for large plans where fork() is safe


ALL_STAGES = Stages()


#: a plan with at least this many variants to render uses two processes (where it can)
PARALLEL_MIN = 4_000


@dataclass(frozen=True)
class _Unit:
    """What a plan reads of one unit, read once (the loop runs once per variant)."""

    id: int
    code: str
    kind: str
    timezone: str
    folders: tuple[str, ...]  # the unit's code, then its ancestors'
    variables: dict[str, Any]
    hash: str


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the variants of one post on one platform through one chain share (read once:
    the plan renders thousands of each)."""

    budget: int
    template: str
    source: str
    require: RequireSpec
    hashtags: list[str]
    links: list[str]
    post_link: str | None
    review: str
    clean: ReviewState  # the review state of a variant without findings


@dataclass(frozen=True)
class _Account:
    id: int
    platform: str
    handle: str
    handle_key: str
    url: str | None
    variables: dict[str, Any]


class Planner:
    """One planning run over a workspace's database."""

    def __init__(self, ws: Workspace, *, stages: Stages = ALL_STAGES, full: bool = False) -> None:
        self.ws = ws
        self.stages = stages
        self.full = full  # compare every variant, whatever the plan state says
        institution = ws.files.org.institution
        self.institution = {
            "code": institution.code,
            "name": institution.name,
            "short_name": institution.short_name,
            "website": institution.website,
        }
        self.renderer = Renderer(ws.root / "templates", self.institution)
        overrides = {p.value: o.overrides() for p, o in ws.settings.platforms.items()}
        self.checker = VariantChecker(overrides, ws.settings.policy, ws.root)
        self.central_handles: dict[str, str] = {}
        self.settings_hash = digest(
            json.dumps(self.institution, sort_keys=True),
            json.dumps(overrides, sort_keys=True),
            ws.settings.policy.model_dump_json(),
            self.checker.lexicon.fingerprint,
        )
        self._post_vars: dict[tuple[int | None, str], tuple[dict[str, Any], str]] = {}
        self._requires: dict[int | None, RequireSpec] = {}
        self._shapes: dict[tuple[int | None, str, tuple[str, ...]], _Shape] = {}
        # (unit id, zone) -> (the unit's variables, them with the zone): one dict per unit
        # and zone, so the renderer's frozen values of it are reused (``ChainReads.values``)
        self._unit_vars: dict[tuple[int, str], tuple[dict[str, Any], dict[str, Any]]] = {}

    def load(
        self, session: Session, campaign: str | None, post: str | None
    ) -> tuple[Directory, list[tuple[Campaign, CentralPost]]]:
        directory = read_directory(session.connection())
        self.central_handles = central_handles(directory)
        query = select(Campaign, CentralPost).join(
            CentralPost, col(CentralPost.campaign_id) == col(Campaign.id)
        )
        if campaign:
            query = query.where(Campaign.slug == campaign)
        if post:
            query = query.where(CentralPost.key == post)
        posts = [(c, p) for c, p in session.exec(query.order_by(col(CentralPost.id))).all()]
        return directory, posts

    def run(
        self,
        *,
        campaign: str | None = None,
        post: str | None = None,
        progress: Progress | None = None,
    ) -> PlanSummary:
        with _gc_paused():
            return self._run(campaign, post, progress)

    def _run(
        self, campaign: str | None, post: str | None, progress: Progress | None
    ) -> PlanSummary:
        started = time.perf_counter()
        now = utcnow()
        stamp = None if self.full else self._stamp(campaign, post, now)
        if stamp is not None and stamp.unchanged is not None:
            return self._unchanged(stamp, progress, started)
        summary = PlanSummary()
        with Session(self.ws.engine) as session:
            directory, posts = self.load(session, campaign, post)
        post_ids = [p.id for _, p in posts if p.id is not None]
        if stamp is not None and stamp.post_ids != tuple(sorted(post_ids)):
            stamp = None  # the posts changed meanwhile: no state for this plan
        # ``after`` ends once the transaction has: a scratch database is detached there
        with self.ws.engine.connect() as conn, contextlib.ExitStack() as after, conn.begin():
            existing, stored_states = _existing(conn, post_ids)
            mark = _Stages(summary.stages, started)
            mark("read")
            live = [(c, p) for c, p in posts if c.active and p.active]
            plans = [(c, p, select_targets(directory, c.targets, p.targets)) for c, p in live]
            total = sum(len(t) for _, _, t in plans)
            summary.posts, summary.targets = len(live), total
            counts, by_status = summary.counts, summary.by_status
            work = _Work(
                plans,
                existing,
                post_ids,
                {p.id: (c, p) for c, p in posts} if not (campaign or post) else None,
                directory,
                now,
                None if stamp is None else stamp.base,
            )
            # what only the parts need, emptied while the parent copies the helper's rows
            spent: list[Any] = [plans, existing]
            shards = self._early_shards(work)
            if not shards:  # the parent targets alone; the parts split its jobs (if any)
                work.targeted = self._target(
                    work, None, summary.counts, summary.by_status, progress
                )
                spent += work.targeted.spent()
            mark("target")
            grow_cache(conn, work.fresh, after)  # new rows' pages stay in memory until the commit
            parts = self._run_parts(work, conn, stored_states, after, shards, spent, progress)
            mark("parts")
            summary.parts = [p.seconds for p in parts]
            for _, listed in _in_order(p.findings for p in parts):
                summary.findings.extend(listed)
            updates = [row for p in parts for row in p.updates]
            touches = [row for p in parts for row in p.touches]
            cancels = [row for p in parts for row in p.cancels]
            summed = StateSum()
            timed_any = False
            timed = 0
            changes: list[dict[str, Any]] = []
            for part in parts:
                counts.update(part.counts)
                by_status.update(part.by_status)
                if part.timed is not None:
                    timed_any = True
                    timed += part.timed.counts["changed"]
                    changes += part.timed.changes
                    summed += part.summed
            if cancels:
                counts["cancelled"] = len(cancels)
                by_status[str(VariantStatus.CANCELLED)] += len(cancels)
            counts["timed"] = timed
            _insert(conn, _in_order(p.inserts for p in parts))
            _write(conn, updates, touches, cancels, changes)
            if timed_any:
                done_input = timing_input(
                    self.ws, conn, post_ids, now, summed=summed, base=work.timing_base
                )
                store_timing(conn, timing_scope(post_ids), done_input)
            if stamp is not None:
                store_plan_state(conn, stamp, _replan_summary(summary))
        mark("write")  # the commit included
        if progress is not None:
            progress(total, total)
        counts["held"] = hold(self.ws)
        summary.by_status = _status_counts(self.ws, post_ids)
        mark("finish")
        summary.seconds = time.perf_counter() - started
        return summary

    def _stamp(self, campaign: str | None, post: str | None, now: dt.datetime) -> PlanStamp | None:
        """This plan's stamp (``amplifier.plan_state``): what it reads, and whether that is
        what the last plan of the same scope read."""
        from amplifier import __version__

        stages = f"check={self.stages.check} timing={self.stages.timing}"
        extra = (self.settings_hash, RENDER_VERSION, __version__, self.renderer.tree_digest, stages)
        with self.ws.engine.connect() as conn:
            return plan_stamp(self.ws, conn, campaign, post, now, extra)

    def _unchanged(
        self, stamp: PlanStamp, progress: Progress | None, started: float
    ) -> PlanSummary:
        """The summary of a plan whose input is the last plan's: nothing to compare."""
        stored = stamp.unchanged
        assert stored is not None
        summary = PlanSummary(
            posts=stored["posts"],
            targets=stored["targets"],
            counts=Counter(dict(stored["counts"])),
            findings=stored["findings"],
            compared=False,
        )
        mark = _Stages(summary.stages, started)
        mark("read")
        if progress is not None:
            progress(summary.targets, summary.targets)
        summary.counts["held"] = hold(self.ws)
        summary.by_status = _status_counts(self.ws, stamp.post_ids)
        mark("finish")
        summary.seconds = time.perf_counter() - started
        return summary

    def _early_shards(self, work: _Work) -> list[Shard]:
        """The shards of a plan whose parts target their own platforms (each in its own
        process, forked before targeting), or none: a plan with at least ``PARALLEL_MIN``
        new variants where two processes are used (``_run_parts``). Counts the new
        variants for the ids to reserve (``_Work.fresh``): every target without a stored
        variant is one."""
        processes = self.stages.processes
        if processes == 1 or (processes is None and not _can_fork()):
            return []
        if processes is None and sum(len(t) for _, _, t in work.plans) < PARALLEL_MIN:
            return []  # too few targets to have that many new variants: nothing to count
        sizes, work.fresh = _fresh_by_platform(work.plans, work.existing)
        if work.fresh < (PARALLEL_MIN if processes is None else 1):
            return []
        return _shards(sizes, work.platforms, processes or 2)

    def _target(
        self,
        work: _Work,
        shard: Shard | None,
        counts: Counter[str],
        by_status: Counter[str],
        progress: Progress | None,
    ) -> _Targeted:
        """Sort the targets of ``shard``'s platforms (all with None), in target order, into
        those kept as they are (counted into ``counts`` and ``by_status``) and the jobs
        to render. Every target counts for its position and, when new, for the rank that
        picks its reserved id, so a shard's entries carry those of a serial plan."""
        out = _Targeted()
        entries, jobs, seen, units, accounts = (
            out.entries,
            out.jobs,
            out.seen,
            out.units,
            out.accounts,
        )
        existing, directory = work.existing, work.directory
        chains: dict[tuple[str, ...], dict[tuple[int, str], _Chain]] = {}
        middles: dict[int, str] = {}  # account id -> the middle of its input digests
        mine = None if shard is None else shard.platforms  # (a Platform is a str)
        total = sum(len(t) for _, _, t in work.plans)
        position = -1  # of the target, among all
        # targets so far with a stored variant: every other one is a new variant, and its
        # rank among them (position - stored) picks its reserved id
        stored = 0
        for camp, cpost, targets in work.plans:
            assert cpost.id is not None
            post_id = cpost.id
            post_hash = digest(
                cpost.key,
                cpost.central_at.isoformat(),
                cpost.title,
                cpost.body,
                cpost.link,
                cpost.media,
                camp.slug,
                camp.title,
                camp.goal,
                camp.hashtags,
                camp.key_messages,
                camp.links,
                camp.require,
                self.settings_hash,
                RENDER_VERSION,
            )
            camp_vars = campaign_variables(camp)
            templates = tuple(cpost.templates)
            post_chains = chains.setdefault(templates, {})
            for target in targets:
                position += 1
                if progress is not None and position % 2000 == 1999:
                    progress(position + 1, total)
                row = target.account
                if mine is not None and row.platform not in mine:
                    stored += bool(existing) and (post_id, row.id) in existing
                    continue
                unit = units.get(target.unit.id)  # type: ignore[arg-type]
                if unit is None:
                    unit = _unit_of(directory, target.unit)
                    units[unit.id] = unit
                account = accounts.get(row.id)  # type: ignore[arg-type]
                if account is None:
                    account = _account_of(row)
                    accounts[account.id] = account
                if existing:
                    key = (post_id, account.id)
                    seen.add(key)
                    old = existing.get(key)
                    stored += old is not None
                else:
                    old = None  # (and nothing to cancel: no target need be seen)
                if old is not None and (old.status in FROZEN or old.by_hand):
                    counts["kept"] += 1
                    by_status[old.status] += 1
                    continue
                found = post_chains.get((unit.id, account.platform))
                if found is None:
                    chain = self.renderer.chain(
                        unit.folders, unit.kind, account.platform, templates
                    )
                    found = post_chains[(unit.id, account.platform)] = (
                        chain,
                        self.renderer.chain_hash(chain),
                    )
                chain, chain_hash = found
                # a new variant's digest is taken where it is rendered
                input_hash = None
                if old is not None:
                    middle = middles.get(account.id)
                    if middle is None:
                        middle = middles[account.id] = _digest_middle(unit, account)
                    input_hash = _input_hash(post_hash, middle, chain_hash)
                if (
                    old is not None
                    and old.input_hash == input_hash
                    and old.status != VariantStatus.CANCELLED
                ):
                    counts["unchanged"] += 1
                    by_status[old.status] += 1
                    if old.findings_json not in _NO_FINDINGS:  # for the summary
                        entries.append((position, None, old, account, unit, camp, cpost))
                    continue
                job = (unit, account, camp, cpost, chain, camp_vars)
                rank = position - stored if old is None else None
                entry = (position, job, old, account, input_hash, post_hash, chain_hash, rank)
                entries.append(entry)
                jobs.append(job)
        if shard is None:
            work.fresh = position + 1 - stored
        return out

    def _run_parts(
        self,
        work: _Work,
        conn: Connection,
        stored_states: list[tuple[Any, ...]],
        after: contextlib.ExitStack,
        shards: list[Shard],
        spent: list[Any],
        progress: Progress | None,
    ) -> list[_Part]:
        """Render, check and time every job, in one part or, for large plans on Linux, in
        two: the parent does one, a forked helper process the other. Parts split the
        platforms (timing one platform never depends on another's variants), so each
        process times what it rendered; only its results come back. With ``shards``
        (``_early_shards``) each part also targets its own platforms; without, the parent
        has targeted alone and the parts split its jobs. New rows carry the ids reserved
        for them (``_Work.ids``), so the parent inserts its own while the helper still
        works; on SQLite the helper writes its own into a ``Scratch``, copied into the
        table in one statement. The result, ids included, equals a serial plan's either
        way (tested). ``spent``: containers the plan no longer reads once the parts are
        done, emptied by a thread during the copy (which runs in SQLite's C code, without
        the GIL), rather than freed after the plan."""
        if not shards:
            targeted = work.targeted
            assert targeted is not None
            processes = self.stages.processes
            if processes is None:
                processes = 2 if len(targeted.jobs) >= PARALLEL_MIN and _can_fork() else 1
            if processes >= 2:
                sizes = Counter(job[1].platform for job in targeted.jobs)
                shards = _shards(sizes, work.platforms, processes)
        if len(shards) < 2:

            def when(*writes: list[dict[str, Any]]) -> bool:
                return not self._timing_current(conn, work, stored_states, *writes)

            return [self._part(work, None, when)]
        preload(set().union(*(shard.platforms for shard in shards)))
        work.ids = reserve_ids(conn, VARIANTS, work.fresh)
        scratch = Scratch.attach(conn, VARIANTS, after) if work.ids is not None else None
        helper = functools.partial(self._part, work, shards[1], _always, scratch)
        with _in_helper(self.ws, helper) as second:
            first = self._part(work, shards[0], _always, spent=spent, progress=progress)
            if work.ids is not None:  # its rows have their ids: insert them meanwhile
                mark = _Stages(first.seconds, time.perf_counter())
                _insert(conn, first.inserts)
                first.inserts = []
                mark("insert")
            try:
                rest = second.result()
            except Exception:  # the helper process failed: do its part here
                rest = self._part(work, shards[1], _always)
        if rest.in_scratch is not None:
            assert scratch is not None
            mark = _Stages(rest.seconds, time.perf_counter())
            emptying = threading.Thread(target=_empty, args=(spent,), name="amplifier-plan-free")
            emptying.start()
            try:
                scratch.copy(conn, *rest.in_scratch)
            finally:
                emptying.join()
            mark("copy")  # in the parent, like "insert"
        return [first, rest]

    def _part(
        self,
        work: _Work,
        shard: Shard | None,
        when: Callable[..., bool],
        scratch: Scratch | None = None,
        *,
        spent: list[Any] | None = None,
        progress: Progress | None = None,
    ) -> _Part:
        """One part of a plan: render and check its jobs, sort its targets into inserts,
        updates and touches (in target order), then time them (if ``when`` says so). With
        a ``scratch`` database, the new rows are written there, not returned. Unless the
        parent has targeted already (``_Work.targeted``), the part targets its platforms
        first (reporting ``progress``, adding what only it reads to ``spent``)."""
        part = _Part()
        part.seconds["platforms"] = None if shard is None else sorted(shard.platforms)
        mark = _Stages(part.seconds, time.perf_counter())
        counts, by_status = part.counts, part.by_status
        targeted = work.targeted
        # entries the parent targeted for every part: this part's are those of its shard
        holds = shard.holds if shard is not None and targeted is not None else None
        if targeted is None:
            targeted = self._target(work, shard, counts, by_status, progress)
            if spent is not None:
                spent += targeted.spent()
            mark("target")
        inserts: list[dict[str, Any]] = []
        middles: dict[int, str] = {}  # account id -> its part of the input digest
        now, render_row = work.now, self._render_row
        posts: dict[int, tuple[int | None, str]] = {}  # id(post) -> its id, key prefix
        for entry in targeted.entries:
            if holds is not None and not holds(entry[3].platform):
                continue
            position, job = entry[0], entry[1]
            if job is None:  # kept as it is: only its stored findings are listed
                _, _, old, account, unit, camp, cpost = entry
                found = self._findings(old.findings, unit.code, account, camp, cpost)
                if found:
                    part.findings.append((position, found))
                continue
            _, _, old, account, input_hash, post_hash, chain_hash, rank = entry
            unit, _, camp, cpost, chain, camp_vars = job
            row = render_row(unit, account, camp, cpost, chain, camp_vars, now)
            if input_hash is None:
                middle = middles.get(account.id)
                if middle is None:
                    middle = middles[account.id] = _digest_middle(unit, account)
                input_hash = _input_hash(post_hash, middle, chain_hash)
            row["input_hash"] = input_hash
            if row["findings"]:
                found = self._findings(row["findings"], unit.code, account, camp, cpost)
                part.findings.append((position, found))
            if old is None:
                about = posts.get(id(cpost))  # (the post objects live through the plan)
                if about is None:
                    about = posts[id(cpost)] = (cpost.id, _key_prefix(camp.slug, cpost.key))
                row.update(
                    post_id=about[0],
                    account_id=account.id,
                    unit_id=unit.id,
                    idempotency_key=_keyed(about[1], account.platform, account.handle_key),
                    publish_at=None,
                    due_at=None,
                )
                if work.ids is not None:
                    row["id"] = work.ids[rank]
                part.inserts.append((position, None, row))
                inserts.append(row)
                counts["created"] += 1
                by_status[str(row["status"])] += 1
            elif (
                old.content_hash == row["content_hash"]
                and old.findings == row["findings"]
                and old.status != VariantStatus.CANCELLED
            ):
                part.touches.append({"_id": old.id, "input_hash": input_hash})
                counts["unchanged"] += 1
                by_status[old.status] += 1
            else:
                row["_id"] = old.id
                part.updates.append(row)
                counts["updated"] += 1
                by_status[str(row["status"])] += 1
        mark("render")
        part.cancels = _cancels(work, targeted.seen, shard)
        if self.stages.timing and when(inserts, part.updates, part.cancels):
            planned = Planned(inserts, {r["_id"]: r for r in (*part.updates, *part.cancels)})
            part.timed = time_variants(
                self.ws,
                post_ids=work.post_ids,
                planned=planned,
                directory=work.directory,
                posts=work.every_post,
                now=work.now,
                shard=shard,
            )
            # summed here, in the part's process; the states themselves stay here
            part.summed = StateSum.of(part.timed.states)
            part.timed = part.timed._replace(states=[])
        mark("time")
        _prepare(part, self.ws.engine.dialect, scratch)
        mark("prepare")
        return part

    def _timing_current(
        self,
        conn: Connection,
        work: _Work,
        states: list[tuple[Any, ...]],
        *writes: list[dict[str, Any]],
    ) -> bool:
        """True when this plan writes no variant and the timing input is the one the last
        timing of these posts read: timing again would change nothing. ``states``: the
        timing states of the posts' variants, as read."""
        if any(writes):
            return False
        stored = stored_timing(conn, timing_scope(work.post_ids))
        if stored is None:
            return False
        current = timing_input(
            self.ws, conn, work.post_ids, work.now, scope_states=states, base=work.timing_base
        )
        return stored == current

    def _render_row(
        self,
        unit: _Unit,
        account: _Account,
        camp: Campaign,
        cpost: CentralPost,
        chain: tuple[str, ...],
        camp_vars: dict[str, Any],
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """One variant's row. ``now``: its ``updated_at`` (one time for a whole plan; by
        default the time of this call)."""
        platform = account.platform
        post_vars, zone = self._post_variables(cpost, unit.timezone)
        shape = self._shapes.get((cpost.id, platform, chain))
        if shape is None:
            shape = self._shapes[(cpost.id, platform, chain)] = self._shape(
                camp, cpost, platform, chain
            )
        variables = {
            "institution": self.renderer.institution,
            "unit": self._unit_variables(unit, zone),
            "account": account.variables,
            "platform": platform,
            "campaign": camp_vars,
            "post": post_vars,
            "budget": shape.budget,
        }
        result = self.renderer.render(chain, variables)
        if result.error is not None:
            findings = [
                Finding(
                    rule="template.error",
                    severity="block",
                    message=result.error.message,
                    category="template",
                    source=result.error.source,
                )
            ]
        elif not self.stages.check:
            findings = []
        else:
            ctx = CheckContext(
                platform=platform,
                source=shape.source,
                require=shape.require,
                hashtags=shape.hashtags,
                links=shape.links,
                post_link=shape.post_link,
                central_handle=self.central_handles.get(platform),
                account_handle=account.handle,
            )
            findings = self.checker.check(result.text, result.title, ctx, result.paragraphs)
        findings_dicts = [f.as_dict() for f in findings] if findings else []
        return {
            "text": result.text,
            "title": result.title,
            "content_hash": content_hash(result.text, result.title),
            "template": shape.template,
            "findings": findings_dicts,
            "status": VariantStatus.PENDING,
            "review": initial_state(findings_dicts, shape.review) if findings else shape.clean,
            # a new text is nobody's approval yet
            "reviewed_by": None,
            "reviewed_at": None,
            "review_note": None,
            "reasons": ["template failed: see findings"] if result.error else [],
            "updated_at": utcnow() if now is None else now,
        }

    def _unit_variables(self, unit: _Unit, zone: str) -> dict[str, Any]:
        found = self._unit_vars.get((unit.id, zone))
        if found is None or found[0] is not unit.variables:
            found = self._unit_vars[(unit.id, zone)] = (
                unit.variables,
                {**unit.variables, "zone": zone},
            )
        return found[1]

    def _shape(
        self, camp: Campaign, cpost: CentralPost, platform: str, chain: tuple[str, ...]
    ) -> _Shape:
        return _Shape(
            budget=self.checker.rules[Platform(platform)].max_length,
            template="|".join(chain),
            source=_top_source(chain),
            require=self._require(camp),
            hashtags=camp.hashtags,
            links=camp.links,
            post_link=cpost.link,
            review=camp.review,
            clean=initial_state([], camp.review),
        )

    def _render(
        self,
        unit: UnitRow,
        account: AccountRow,
        camp: Campaign,
        cpost: CentralPost,
        chain: tuple[str, ...],
        directory: Directory,
    ) -> dict[str, Any]:
        """One variant's row, for callers holding ORM objects (``preview``)."""
        return self._render_row(
            _unit_of(directory, unit),
            _account_of(account),
            camp,
            cpost,
            chain,
            campaign_variables(camp),
        )

    def _post_variables(self, cpost: CentralPost, zone: str) -> tuple[dict[str, Any], str]:
        """A post's variables in one zone, and the zone's abbreviation at the post's time."""
        key = (cpost.id, zone)
        found = self._post_vars.get(key)
        if found is None:
            found = self._post_vars[key] = (
                post_variables(cpost, zone),
                zone_of(cpost.central_at, zone),
            )
        return found

    def _require(self, camp: Campaign) -> RequireSpec:
        found = self._requires.get(camp.id)
        if found is None:
            found = self._requires[camp.id] = RequireSpec.model_validate(camp.require or {})
        return found

    @staticmethod
    def _findings(
        findings: Iterable[dict[str, Any]],
        unit_code: str,
        account: _Account,
        camp: Campaign,
        cpost: CentralPost,
    ) -> list[dict[str, Any]]:
        """A variant's findings as the plan summary lists them."""
        return [
            {
                "unit": unit_code,
                "account": f"{account.platform}:{account.handle}",
                "post": f"{camp.slug}/{cpost.key}",
                **f,
            }
            for f in findings
        ]


_Job = tuple["_Unit", "_Account", Campaign, CentralPost, tuple[str, ...], dict[str, Any]]
_Chain = tuple[tuple[str, ...], str]  # a chain of templates and its digest
_FORKED: tuple[Workspace, Callable[[], Any]] | None = None  # what a forked helper does
_PLATFORM_OF = attrgetter("account.platform")  # of a target


@dataclass
class _Work:
    """Everything the parts of a plan share (a forked helper inherits it)."""

    plans: list[tuple[Campaign, CentralPost, list[Target]]]  # live posts, their targets
    existing: dict[tuple[int, int], _Existing]  # (post id, account id) -> stored variant
    post_ids: list[int]
    every_post: dict[int | None, tuple[Campaign, CentralPost]] | None
    directory: Directory
    now: dt.datetime
    #: what the plan's stamp read of the timing input (``timetable.timing_base``), if any
    timing_base: TimingBase | None
    #: every target's entry and the jobs, when the parent targets before the parts
    targeted: _Targeted | None = None
    fresh: int = 0  # how many new variants (each job of one has its rank among them)
    #: the ids of the new variants, by rank in target order (``reserve_ids``), reserved
    #: for a plan in two parts: one part can then insert its rows before the other's, and
    #: the ids stay those of a serial plan. None: the database gives them, in target order.
    ids: list[int] | None = None
    platforms: dict[int | None, str] = field(default_factory=dict)  # account id -> platform

    def __post_init__(self) -> None:
        self.platforms = {
            a.id: str(a.platform) for accts in self.directory.accounts.values() for a in accts
        }


@dataclass
class _Targeted:
    """The targets of a plan, or of one part's platforms, sorted by ``Planner._target``."""

    #: in target order, each led by its position among all targets: (position, job, stored
    #: variant or None, account, input digest or None (a new variant's is taken where it
    #: is rendered), post digest, chain digest, rank of a new variant); or (position, None,
    #: stored variant, account, unit, campaign, post) for an unchanged variant whose stored
    #: findings the summary lists
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    jobs: list[_Job] = field(default_factory=list)  # the variants to render
    seen: set[tuple[int, int]] = field(default_factory=set)  # (post id, account id)
    units: dict[int, _Unit] = field(default_factory=dict)
    accounts: dict[int, _Account] = field(default_factory=dict)

    def spent(self) -> list[Any]:
        return [self.entries, self.jobs, self.seen, self.units, self.accounts]


@dataclass
class _Part:
    """What one part of a plan produced."""

    #: (position, None, row), or once prepared (position, SQL, the driver's parameters)
    inserts: list[tuple[int, str | None, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    touches: list[dict[str, Any]] = field(default_factory=list)
    cancels: list[dict[str, Any]] = field(default_factory=list)
    findings: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    timed: Timed | None = None  # its ``states`` emptied once summed
    summed: StateSum = field(default_factory=StateSum)  # of the timing states
    #: its new rows are in the plan's scratch database, written with these columns
    in_scratch: tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None = None
    #: its platforms, and the wall seconds of its steps (``PlanSummary.parts``)
    seconds: dict[str, Any] = field(default_factory=dict)


class _Stages:
    """Records the wall seconds of each stage into ``stages``: ``mark(name)`` ends the
    stage ``name``, begun where the last one ended (the first at ``started``)."""

    def __init__(self, stages: dict[str, Any], started: float) -> None:
        self.stages, self.last = stages, started

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = now - self.last
        self.last = now


def _replan_summary(summary: PlanSummary) -> dict[str, Any] | None:
    """The summary a re-plan of unchanged input reports after ``summary``'s plan (JSON):
    what it kept stays kept, every other target is unchanged, with the findings it has
    now. None when it lists too many findings to store."""
    if len(summary.findings) > MAX_STORED_FINDINGS:
        return None
    kept = summary.counts["kept"]
    counts = {"unchanged": summary.targets - kept, "kept": kept, "timed": 0}
    return json.loads(
        json.dumps(
            {
                "posts": summary.posts,
                "targets": summary.targets,
                "counts": [[k, v] for k, v in counts.items() if v or k == "timed"],
                "findings": summary.findings,
            }
        )
    )


def _always(*_writes: list[dict[str, Any]]) -> bool:
    return True


@contextlib.contextmanager
def _in_helper(ws: Workspace, call: Callable[[], _R]) -> Iterator[Future[_R]]:
    """Run ``call`` in a forked helper process (``_can_fork``): it inherits everything
    ``call`` reads, so only its result is sent back. The helper is gone on exit."""
    global _FORKED
    _FORKED = (ws, call)
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            yield pool.submit(_call_forked)
    finally:
        _FORKED = None


def _call_forked() -> Any:
    """In the forked helper. Pooled database connections belong to the parent: the
    helper opens its own."""
    assert _FORKED is not None
    ws, call = _FORKED
    ws.engine.dispose(close=False)
    return call()


def _shards(sizes: Counter[str], platforms: dict[int | None, str], processes: int) -> list[Shard]:
    """Split the platforms into ``processes`` shards of about equal work (``sizes``: the
    variants of each platform to render; largest first, each to the lightest shard); the
    first shard also holds the other platforms (``platforms``: account id -> platform)
    and variants whose account is gone. One shard (or none) means a serial plan."""
    if processes < 2:
        return []
    if len(sizes) < 2:
        return []
    loads = [0] * processes
    members: list[set[str]] = [set() for _ in range(processes)]
    for platform, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        lightest = loads.index(min(loads))
        loads[lightest] += size
        members[lightest].add(platform)
    # platforms with no job go to the first shard: they may still have stored variants
    members[0] |= set(platforms.values()) - set(sizes)
    return [Shard(frozenset(m), orphans=i == 0) for i, m in enumerate(members) if m]


def _fresh_by_platform(
    plans: list[tuple[Campaign, CentralPost, list[Target]]],
    existing: dict[tuple[int, int], _Existing],
) -> tuple[Counter[str], int]:
    """How many targets of each platform have no stored variant, and in all."""
    sizes: Counter[Any] = Counter()
    for _, cpost, targets in plans:
        if not existing:
            sizes.update(map(_PLATFORM_OF, targets))
        else:
            post_id = cpost.id
            sizes.update(
                t.account.platform for t in targets if (post_id, t.account.id) not in existing
            )
    by_name = Counter({str(platform): n for platform, n in sizes.items()})
    return by_name, sum(by_name.values())


def _cancels(work: _Work, seen: set[tuple[int, int]], shard: Shard | None) -> list[dict[str, Any]]:
    """Update rows cancelling the stored variants (of ``shard``'s platforms) that no
    target has ``seen``, unless they are frozen or cancelled already."""
    platforms, cancelled = work.platforms, VariantStatus.CANCELLED
    return [
        {
            "_id": old.id,
            "status": cancelled,
            "reasons": ["no longer targeted: the post, its target or the account was removed"],
            "updated_at": work.now,
        }
        for key, old in work.existing.items()
        if key not in seen
        and old.status not in FROZEN
        and old.status != cancelled
        and (shard is None or shard.holds(platforms.get(key[1])))
    ]


def _in_order(parts: Iterable[list[_T]]) -> Iterator[_T]:
    """Items ``(position, …)`` of several parts, each in target order, merged back into
    target order."""
    return heapq.merge(*parts, key=itemgetter(0))


def _input_hash(post_hash: str, middle: str, chain_hash: str) -> str:
    """The digest of everything a variant's rendering reads: ``digest(post_hash,
    unit.hash, platform, handle, url, chain_hash)``, with the account's part made once
    (``_digest_middle``)."""
    text = f"{post_hash}{middle}{chain_hash}\x1f"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _digest_middle(unit: _Unit, account: _Account) -> str:
    """What ``digest`` puts between a variant's post digest and its chain digest."""
    parts = (unit.hash, account.platform, account.handle, account.url)
    return "\x1f" + "\x1f".join(map(str, parts)) + "\x1f"


#: stored findings that list none (JSON text)
_NO_FINDINGS = frozenset({None, "[]"})


def _can_fork() -> bool:
    """fork() is safe: Linux, two cores or more, and no other thread running."""
    return (
        sys.platform == "linux"
        and (os.cpu_count() or 1) >= 2
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a plan runs: it allocates ~10 containers per
    variant and keeps them all until the write, so every full collection would scan them
    all again (measured: a quarter of the plan time). The plan makes next to no cycles;
    collection resumes, as it was, when it ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _empty(containers: Sequence[Any]) -> None:
    for container in containers:
        container.clear()


def _unit_of(directory: Directory, unit: UnitRow) -> _Unit:
    assert unit.id is not None
    variables = unit_variables(unit)
    return _Unit(
        unit.id,
        unit.code,
        str(unit.kind),
        unit.timezone,
        (unit.code, *(a.code for a in directory.ancestors(unit))),
        variables,
        digest(*variables.values()),
    )


def _account_of(account: AccountRow) -> _Account:
    assert account.id is not None
    return _Account(
        account.id,
        str(account.platform),
        account.handle,
        account.handle_key,
        account.url,
        account_variables(account),
    )


def _status_counts(ws: Workspace, post_ids: Sequence[int | None]) -> Counter[str]:
    """The variants of the posts by status. When they are every post, one count over the
    whole table (an index holds every status: no row is read)."""
    t = VARIANTS
    ids = sorted({i for i in post_ids if i is not None})
    counts: Counter[str] = Counter()
    with ws.engine.connect() as conn:
        every = conn.execute(sa.select(sa.func.count()).select_from(POSTS)).scalar_one()
        chunks = [None] if ids and len(ids) == every else range(0, len(ids), 500)
        for start in chunks:
            query = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
            if start is not None:
                query = query.where(t.c.post_id.in_(ids[start : start + 500]))
            for status, n in conn.execute(query):
                counts[str(status)] += n
    return counts


def central_handles(directory: Directory) -> dict[str, str]:
    """Handle per platform of the central unit (the root of kind ``central``)."""
    for unit in sorted(directory.units.values(), key=lambda u: (u.parent_id is not None, u.code)):
        if unit.kind == "central" and unit.id is not None:
            return {str(a.platform): a.handle for a in directory.accounts.get(unit.id, [])}
    return {}


def _top_source(chain: tuple[str, ...]) -> str:
    top = chain[0]
    return f"amplifier:{top}" if top.startswith("builtin/") else f"templates/{top}"


def _existing(
    conn: Connection, post_ids: Sequence[int | None]
) -> tuple[dict[tuple[int, int], _Existing], list[tuple[Any, ...]]]:
    """The stored variants of the posts, and their timing states (``stored_state``): one
    read serves the plan and the check whether the timing is current.
    The columns come as the driver hands them over (``state_columns``): no type
    processing, which was most of the time of a re-plan of unchanged input."""
    t = VARIANTS
    out: dict[tuple[int, int], _Existing] = {}
    states: list[tuple[Any, ...]] = []
    ids = [i for i in post_ids if i is not None]
    columns = state_columns()
    n = len(columns)
    for start in range(0, len(ids), 500):
        query = sa.select(
            *columns,
            t.c.id,
            t.c.input_hash,
            t.c.content_hash,
            json_text(t.c.findings),
        ).where(t.c.post_id.in_(ids[start : start + 500]))
        for values in conn.execute(query).all():  # fetchall: one driver call, not one a row
            reasons = values[n - 1]
            at, due, attempts = values[6:9]
            if (
                reasons == "[]"
                and (at is None or at.__class__ is str)
                and (due is None or due.__class__ is str)
                and attempts is not None
            ):  # the usual stored row, already in the state's form (as stored_state makes)
                state = (*values[: n - 1], ())
            else:
                state = stored_state(values[:n])
            states.append(state)
            variant_id, input_hash, content_hash, findings_json = values[n:]
            out[(state[1], state[2])] = _Existing(
                variant_id,
                input_hash,
                content_hash,
                status=state[5],
                review=state[4],
                findings_json=findings_json,
                by_hand=bool(reasons)
                and HAND_CANCELLED in reasons
                and any(r.startswith(HAND_CANCELLED) for r in state[-1]),
            )
    return out, states


def _prepare(part: _Part, dialect: sa.Dialect, scratch: Scratch | None) -> None:
    """Turn a part's new rows into the driver's parameters where the database allows
    (``prepare_insert``): the work is done in the part's process, and tuples of plain
    values cost a fraction of row dicts to send back to the parent. With a ``scratch``
    database they are written there instead, and only their columns go back."""
    rows = [row for _, _, row in part.inserts]
    if not rows or any(row.keys() != rows[0].keys() for row in rows):
        return
    prepared = prepare_insert(dialect, VARIANTS, rows)
    if prepared is None:
        return
    if scratch is not None:
        scratch.write(prepared)
        part.inserts, part.in_scratch = [], (prepared.names, prepared.constants)
        return
    part.inserts = [
        (position, prepared.sql, values)
        for (position, _, _), values in zip(part.inserts, prepared.params, strict=True)
    ]


def _insert(conn: Connection, inserts: Iterable[tuple[int, str | None, Any]]) -> None:
    """Insert new rows in the order given (target order, unless they carry reserved ids):
    each run of prepared rows with one statement is one driver executemany, each run of
    row dicts one ``insert_rows``."""
    for sql, run in itertools.groupby(inserts, key=itemgetter(1)):
        values = [item[2] for item in run]
        if sql is None:
            insert_rows(conn, VARIANTS, values)
        else:
            conn.exec_driver_sql(sql, values)


def _write(conn: Connection, *batches: list[dict[str, Any]]) -> None:
    """Bulk updates through Core, one executemany per batch shape."""
    for batch in batches:
        update_rows(conn, VARIANTS, batch)


@dataclass
class Preview:
    unit: str
    account: str
    platform: str
    targeted: bool
    chain: tuple[str, ...]
    text: str
    title: str | None
    findings: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "account": self.account,
            "platform": self.platform,
            "targeted": self.targeted,
            "chain": list(self.chain),
            "text": self.text,
            "title": self.title,
            "findings": self.findings,
        }


def preview_variants(
    ws: Workspace, unit_code: str, post_ref: str, platform: str | None = None
) -> list[Preview]:
    """Render one post for one unit's accounts without writing anything."""
    planner = Planner(ws)
    with Session(ws.engine) as session:
        directory, _ = planner.load(session, None, None)
        camp, cpost = find_post(session, post_ref)
    unit = directory.by_code.get(unit_code)
    if unit is None or unit.id is None:
        known = sorted(directory.by_code)
        raise NotFound(f"no active unit '{unit_code}'{suggest(unit_code, known)}")
    targeted = {t.account.id for t in select_targets(directory, camp.targets, cpost.targets)}
    accounts = [
        a for a in directory.accounts.get(unit.id, []) if platform in (None, str(a.platform))
    ]
    if not accounts:
        what = f" on {platform}" if platform else ""
        raise NotFound(f"unit {unit_code} has no active account{what}")
    folders = [unit.code, *(a.code for a in directory.ancestors(unit))]
    out = []
    for account in accounts:
        chain = planner.renderer.chain(
            folders, str(unit.kind), str(account.platform), cpost.templates
        )
        row = planner._render(unit, account, camp, cpost, chain, directory)
        out.append(
            Preview(
                unit.code,
                f"{account.platform}:@{account.handle}",
                str(account.platform),
                account.id in targeted,
                chain,
                row["text"],
                row["title"],
                row["findings"],
            )
        )
    return out


def find_post(session: Session, ref: str) -> tuple[Campaign, CentralPost]:
    """A post by ``campaign-slug/post-key``, or by ``post-key`` alone when that is unique."""
    slug, _, key = ref.rpartition("/")
    query = select(Campaign, CentralPost).join(
        CentralPost, col(CentralPost.campaign_id) == col(Campaign.id)
    )
    query = query.where(CentralPost.key == key, CentralPost.active == sa.true())
    if slug:
        query = query.where(Campaign.slug == slug)
    found = session.exec(query).all()
    if len(found) == 1:
        return found[0][0], found[0][1]
    if len(found) > 1:
        names = ", ".join(f"{c.slug}/{p.key}" for c, p in found)
        raise NotFound(f"post '{ref}' is ambiguous: write one of {names}")
    every = [
        f"{c.slug}/{p.key}"
        for c, p in session.exec(
            select(Campaign, CentralPost).join(
                CentralPost, col(CentralPost.campaign_id) == col(Campaign.id)
            )
        ).all()
    ]
    keys = every + [e.rpartition("/")[2] for e in every]
    raise NotFound(f"no post '{ref}'{suggest(ref, keys)}; run `amplifier sync` after editing")
