"""Dispatch: claim due variants, publish them, record every attempt.

Exactly once across any number of daemons: a claim is one ``UPDATE … WHERE id IN (SELECT …
FOR UPDATE SKIP LOCKED) RETURNING`` (PostgreSQL; on SQLite the single writer makes the same
statement atomic) that moves approved, due variants to ``publishing`` with this worker's
name and a lease. Outcomes are written in batches; a claim whose lease runs out with no
outcome is retried with the same idempotency key when its publisher is idempotent, and is
marked ``uncertain`` otherwise — never a silent repost.

Claimed variants are published in chunks sized to the publisher: each chunk should take
about a second (``lease / 8`` at most), starting from one item and growing at most
fourfold per chunk. Outcomes are recorded after each chunk, and before each chunk the
leases of the claims still held are renewed when half of the lease has gone, so a slow
publisher never outlasts its lease and no other daemon takes over work in progress.

A burst can be claimed ahead (``prefetch``): the daemon claims the variants due at a
coming minute a few seconds early and publishes them at that minute, never before their
``due_at``; only the publisher calls are then on the critical path. Once a publisher's
pace is known, claims beyond ``KEEP_SECONDS`` of its work are given back unstarted, so
that a slow publisher's burst is shared by every daemon with time for it.

    dispatcher = Dispatcher(ws, worker="host-1:4242")
    report = dispatcher.run_due()
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from amplifier.database import update_rows
from amplifier.models import (
    ACCOUNTS,
    CAMPAIGNS,
    DELIVERIES,
    POSTS,
    UNITS,
    VARIANTS,
    utcnow,
)
from amplifier.publishers import load_publisher
from amplifier.publishers.base import (
    PermanentPublishError,
    Publisher,
    PublishItem,
    PublishResult,
    TransientPublishError,
)
from amplifier.publishers.retry import retry_delay
from amplifier.vocab import AccountMode, ReviewState, VariantStatus

if TYPE_CHECKING:
    from amplifier.load.schema import PublishingSettings
    from amplifier.workspace import Workspace

log = logging.getLogger("amplifier.dispatch")

V = VARIANTS
D = DELIVERIES


@dataclass
class DispatchReport:
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    lateness: list[float] = field(default_factory=list)  # seconds after publish_at

    def merge(self, other: DispatchReport) -> None:
        self.claimed += other.claimed
        self.outcomes.update(other.outcomes)
        self.lateness.extend(other.lateness)


CHUNK_SECONDS = 1.0  # aim for a chunk of publisher calls to take about this long
CHUNK_GROWTH = 4  # a chunk is at most this many times the previous one of its publisher
MAX_CHUNK = 5_000  # items per chunk (and per outcome transaction), whatever the pace
PREFETCH_MAX = 10_000  # variants claimed ahead of their minute, at most
PREFETCH_SECONDS = 30.0  # once a publisher's pace is known: claim ahead this much work
KEEP_SECONDS = 10.0  # claims beyond this much of a publisher's work go back for others


@dataclass(slots=True)
class _Claim:
    id: int
    attempts: int
    publisher: str
    item: PublishItem
    due_at: dt.datetime
    lease_until: dt.datetime


class Dispatcher:
    """Publishes due variants for one worker. Thread-safe to ``stop()`` from a signal."""

    def __init__(
        self,
        ws: Workspace,
        worker: str,
        *,
        batch: int = 200,
        max_lateness: Mapping[str, dt.timedelta] | None = None,
    ) -> None:
        """``max_lateness`` overrides ``[publishing] max_lateness`` per campaign slug."""
        self.ws = ws
        self.worker = worker
        self.batch = batch
        self.keep_seconds = KEEP_SECONDS
        self.settings: PublishingSettings = ws.settings.publishing
        self.max_lateness = dict(max_lateness or {})
        self._publishers: dict[str, Publisher] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one dispatch pass at a time per process
        self._held: list[_Claim] = []  # claimed ahead of their due time (prefetch)
        self._pace: dict[str, float] = {}  # publisher -> seconds per item, last measured
        self._chunk: dict[str, int] = {}  # publisher -> size of its last chunk

    # --- publishers -------------------------------------------------------------------

    def publisher_name(self, mode: str) -> str:
        return self.settings.manual if mode == AccountMode.MANUAL else self.settings.api

    def publisher(self, name: str) -> Publisher:
        found = self._publishers.get(name)
        if found is None:
            options = self.settings.publishers.get(name, {})
            found = load_publisher(name, options, workspace_root=self.ws.root)
            self._publishers[name] = found
        return found

    def close(self) -> None:
        """Give back the claims held ahead of time, then close the publishers."""
        with self._lock:
            held, self._held = self._held, []
            self._release([c.id for c in held])
        for publisher in self._publishers.values():
            publisher.close()
        self._publishers.clear()

    def stop(self) -> None:
        """Finish the attempt in flight, claim nothing more."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def lateness_limit(self, campaign: str) -> dt.timedelta:
        """How late a variant of ``campaign`` may still go out."""
        return self.max_lateness.get(campaign, self.settings.max_lateness)

    # --- the pass -----------------------------------------------------------------------

    def run_due(self, now: dt.datetime | None = None) -> DispatchReport:
        """Sweep, then publish what is held and due, then claim and publish batches until
        nothing is due (or stop is asked)."""
        report = DispatchReport()
        with self._lock:
            self.sweep(now)
            while not self.stopping:
                moment = now or utcnow()
                claims = self._due_held(moment) or self.claim(moment, self._claim_limit())
                if not claims:
                    break
                report.merge(self.publish(claims))
        return report

    def prefetch(self, due_by: dt.datetime, now: dt.datetime | None = None) -> int:
        """Claim, ahead of time, variants due by ``due_by``; ``run_due`` publishes them once
        they are due. Stops at ``due_by``, at ``PREFETCH_MAX``, or once the claims held
        would keep the publisher busy for ``PREFETCH_SECONDS``. Returns how many it claimed.

        Daemons that prefetch the same minute at the same moment share the burst: their
        claims interleave batch by batch (``SKIP LOCKED``).
        """
        claimed = 0
        with self._lock:
            limit = self._prefetch_limit() - len(self._held)
            while claimed < limit and not self.stopping:
                moment = now or utcnow()
                if moment >= due_by:
                    break
                claims = self.claim(moment, min(self.batch, limit - claimed), due_by=due_by)
                if not claims:
                    break
                self._held += claims
                claimed += len(claims)
        if claimed:
            log.info("claimed %d variants due by %s ahead", claimed, due_by.isoformat())
        return claimed

    @property
    def held(self) -> int:
        """How many claims are held ahead of their due time."""
        return len(self._held)

    def _due_held(self, now: dt.datetime) -> list[_Claim]:
        due = [c for c in self._held if c.due_at <= now]
        if due:
            self._held = [c for c in self._held if c.due_at > now]
        return due

    def _paces(self) -> list[float]:
        return [self._pace[n] for n in {self.settings.api, self.settings.manual} if n in self._pace]

    def _claim_limit(self) -> int:
        """A batch; for publishers known to be slow, about a chunk (a second) of work, so
        that daemons sharing a burst finish it within a second of each other."""
        paces = self._paces()
        if not paces or max(paces) <= 0:
            return self.batch
        return max(1, min(self.batch, int(self._chunk_seconds() / max(paces))))

    def _prefetch_limit(self) -> int:
        paces = self._paces()
        if not paces or max(paces) <= 0:
            return PREFETCH_MAX
        return max(self.batch, min(PREFETCH_MAX, int(PREFETCH_SECONDS / max(paces))))

    def _chunk_seconds(self) -> float:
        return min(CHUNK_SECONDS, self.settings.lease.total_seconds() / 8)

    def _chunk_size(self, publisher: str) -> int:
        """The next chunk: about ``_chunk_seconds`` of calls, growing at most fourfold."""
        last = self._chunk.get(publisher)
        if last is None:
            return 1
        pace = self._pace.get(publisher, 0.0)
        fits = MAX_CHUNK if pace <= 0 else int(self._chunk_seconds() / pace)
        return max(1, min(MAX_CHUNK, last * CHUNK_GROWTH, fits))

    def claim(
        self, now: dt.datetime, limit: int | None = None, *, due_by: dt.datetime | None = None
    ) -> list[_Claim]:
        """Claim up to ``limit`` approved variants due by ``due_by`` (default ``now``)."""
        limit = limit or self.batch
        lease_until = now + self.settings.lease
        due = (
            sa.select(V.c.id)
            .where(
                V.c.status == VariantStatus.SCHEDULED,
                V.c.review == ReviewState.APPROVED,
                V.c.due_at <= (due_by or now),
            )
            .order_by(V.c.due_at, V.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        update = (
            sa.update(V)
            .where(V.c.id.in_(due.scalar_subquery()))
            .values(
                status=VariantStatus.PUBLISHING,
                claimed_by=self.worker,
                lease_until=lease_until,
                attempts=V.c.attempts + 1,
            )
            .returning(V.c.id, V.c.attempts, V.c.due_at)
        )
        with self.ws.engine.begin() as conn:
            claimed = {row.id: (row.attempts, row.due_at) for row in conn.execute(update)}
            if not claimed:
                return []
            items = self._items(conn, claimed, lease_until)
        return items

    def _items(
        self,
        conn: sa.Connection,
        claimed: dict[int, tuple[int, dt.datetime]],
        lease_until: dt.datetime,
    ) -> list[_Claim]:
        A, U = ACCOUNTS, UNITS
        P, C = POSTS, CAMPAIGNS
        query = (
            sa.select(
                V.c.id,
                V.c.idempotency_key,
                V.c.text,
                V.c.title,
                V.c.publish_at,
                A.c.platform,
                A.c.handle,
                A.c.url,
                A.c.mode,
                U.c.code,
                U.c.name,
                U.c.timezone,
                C.c.slug,
                P.c.key,
                P.c.media,
            )
            .join(A, A.c.id == V.c.account_id)
            .join(U, U.c.id == V.c.unit_id)
            .join(P, P.c.id == V.c.post_id)
            .join(C, C.c.id == P.c.campaign_id)
            .where(V.c.id.in_(list(claimed)))
            .order_by(V.c.publish_at, V.c.id)
        )
        out = []
        for r in conn.execute(query):
            attempt, due_at = claimed[r.id]
            item = PublishItem(
                variant_id=r.id,
                idempotency_key=r.idempotency_key,
                attempt=attempt,
                platform=str(r.platform),
                handle=r.handle,
                account_url=r.url,
                unit_code=r.code,
                unit_name=r.name,
                unit_timezone=r.timezone,
                campaign_slug=r.slug,
                post_key=r.key,
                text=r.text,
                title=r.title,
                media=tuple(r.media or ()),
                publish_at=r.publish_at,
                mode=str(r.mode),
            )
            publisher = self.publisher_name(str(r.mode))
            out.append(_Claim(r.id, attempt, publisher, item, due_at, lease_until))
        return out

    def publish(self, claims: Iterable[_Claim]) -> DispatchReport:
        """Publish claimed variants, publisher by publisher, in chunks sized to each
        publisher; record each chunk's outcomes and renew the leases still needed."""
        report = DispatchReport()
        groups: dict[str, list[_Claim]] = {}
        for claim in claims:
            groups.setdefault(claim.publisher, []).append(claim)
            report.claimed += 1
        pending = [c for group in groups.values() for c in group]
        for name, group in groups.items():
            while group:
                if self.stopping:
                    self._release([c.id for g in groups.values() for c in g])
                    return report
                pending = self._keep_leases(pending)
                owned = {c.id for c in pending}
                group[:] = [c for c in group if c.id in owned]
                size = self._chunk_size(name)
                chunk, group[:] = group[:size], group[size:]
                if chunk:
                    self._publish_chunk(name, chunk, report)
                    done = {c.id for c in chunk} | self._give_back_excess(name, group, report)
                    pending = [c for c in pending if c.id not in done]
        return report

    def _give_back_excess(self, name: str, group: list[_Claim], report: DispatchReport) -> set[int]:
        """Release the claims of ``group`` beyond ``keep_seconds`` of the publisher's
        measured pace, so that other daemons (or this one's next batch) take them: a burst
        claimed ahead by one daemon is then shared by every daemon that has time."""
        pace = self._pace.get(name, 0.0)
        if pace <= 0 or len(group) * pace <= self.keep_seconds:
            return set()
        keep = max(1, int(self.keep_seconds / pace))
        excess, group[:] = group[keep:], group[:keep]
        self._release([c.id for c in excess])
        report.claimed -= len(excess)
        log.info(
            "gave back %d claims beyond %.0f s of %s's work", len(excess), self.keep_seconds, name
        )
        return {c.id for c in excess}

    def _publish_chunk(self, name: str, chunk: list[_Claim], report: DispatchReport) -> None:
        started = utcnow()
        try:
            publisher = self.publisher(name)  # loaded before the clock starts
            clock = time.perf_counter()
            outcomes = publisher.publish_many([c.item for c in chunk])
            self._pace[name] = (time.perf_counter() - clock) / len(chunk)
        except Exception as exc:  # a publisher that cannot even start (bad config)
            log.exception("publisher %s failed", name)
            outcomes = [exc] * len(chunk)
        self._chunk[name] = len(chunk)
        finished = utcnow()
        variant_rows: list[dict[str, Any]] = []
        delivery_rows: list[dict[str, Any]] = []
        for claim, outcome in zip(chunk, outcomes, strict=True):
            name_, values, error, result = self._outcome(claim, outcome, finished)
            report.outcomes[name_] += 1
            if name_ == "published" and claim.item.publish_at is not None:
                report.lateness.append((finished - claim.item.publish_at).total_seconds())
            variant_rows.append({"_id": claim.id, **values})
            delivery_rows.append(
                {
                    "variant_id": claim.id,
                    "attempt": claim.attempts,
                    "publisher": claim.publisher,
                    "worker": self.worker,
                    "started_at": started,
                    "finished_at": finished,
                    "outcome": name_,
                    "external_id": result.external_id if result else None,
                    "external_url": result.external_url if result else None,
                    "error": error,
                }
            )
        with self.ws.engine.begin() as conn:
            update_rows(conn, V, variant_rows)
            conn.execute(sa.insert(D), delivery_rows)

    def _keep_leases(self, claims: list[_Claim]) -> list[_Claim]:
        """Renew the leases of ``claims`` (and of those held ahead) once half of a lease
        has gone; the claims this worker still holds. A claim whose lease ran out and
        that another daemon resolved is dropped, never published."""
        now = utcnow()
        lease = self.settings.lease
        if all(c.lease_until - now >= lease / 2 for c in claims):
            return claims
        renew = claims + self._held
        lease_until = now + lease
        with self.ws.engine.begin() as conn:
            kept = set(
                conn.execute(
                    sa.update(V)
                    .where(
                        V.c.id.in_([c.id for c in renew]),
                        V.c.claimed_by == self.worker,
                        V.c.status == VariantStatus.PUBLISHING,
                    )
                    .values(lease_until=lease_until)
                    .returning(V.c.id)
                ).scalars()
            )
        lost = [c.id for c in renew if c.id not in kept]
        if lost:
            log.warning("lost %d claims whose lease ran out: %s", len(lost), lost[:20])
        for c in renew:
            c.lease_until = lease_until
        self._held = [c for c in self._held if c.id in kept]
        return [c for c in claims if c.id in kept]

    def _outcome(
        self, claim: _Claim, outcome: PublishResult | Exception, when: dt.datetime
    ) -> tuple[str, dict[str, Any], str | None, PublishResult | None]:
        base: dict[str, Any] = {"claimed_by": None, "lease_until": None, "updated_at": when}
        if isinstance(outcome, TransientPublishError):
            if claim.attempts >= self.settings.max_attempts:
                reason = f"gave up after {claim.attempts} attempts: {outcome}"
                values = {**base, "status": VariantStatus.FAILED, "reasons": [reason]}
                return "failed", values, str(outcome), None
            delay = retry_delay(
                claim.attempts,
                base=self.settings.retry_base.total_seconds(),
                cap=self.settings.retry_cap.total_seconds(),
                retry_after=outcome.retry_after,
            )
            limit = self.lateness_limit(claim.item.campaign_slug)
            deadline = claim.item.publish_at + limit
            due = when + dt.timedelta(seconds=delay)
            if deadline < due and deadline >= claim.due_at:  # (a hand retry is past it already)
                reason = (
                    f"{outcome}; the next try ({due:%H:%M:%S} UTC) would be past the maximum "
                    f"lateness ({_human(limit)}) of its time"
                )
                values = {**base, "status": VariantStatus.MISSED, "reasons": [reason]}
                return "missed", values, str(outcome), None
            log.info("variant %s: transient error, retry in %.0f s: %s", claim.id, delay, outcome)
            return (
                "retry",
                {**base, "status": VariantStatus.SCHEDULED, "due_at": due},
                str(outcome),
                None,
            )
        if isinstance(outcome, PermanentPublishError):
            log.warning("variant %s: failed: %s", claim.id, outcome)
            reasons = [f"publisher refused: {outcome}"]
            return (
                "failed",
                {**base, "status": VariantStatus.FAILED, "reasons": reasons},
                str(outcome),
                None,
            )
        if isinstance(outcome, Exception):  # a broken publisher must not take the daemon down
            log.error("variant %s: publisher %s crashed: %r", claim.id, claim.publisher, outcome)
            reasons = [f"publisher crashed, outcome unknown: {outcome!r}"]
            values = {**base, "status": VariantStatus.UNCERTAIN, "reasons": reasons}
            return "uncertain", values, repr(outcome), None
        values = {
            **base,
            "status": VariantStatus.PUBLISHED,
            "published_at": when,
            "external_url": outcome.external_url,
            "confirmed_at": when if outcome.external_url else None,
        }
        return "published", values, None, outcome

    def _release(self, ids: list[int]) -> None:
        """Give back claims that were never attempted (shutdown)."""
        if not ids:
            return
        with self.ws.engine.begin() as conn:
            conn.execute(
                sa.update(V)
                .where(
                    V.c.id.in_(ids),
                    V.c.claimed_by == self.worker,
                    V.c.status == VariantStatus.PUBLISHING,
                )
                .values(
                    status=VariantStatus.SCHEDULED,
                    claimed_by=None,
                    lease_until=None,
                    attempts=V.c.attempts - 1,
                )
            )

    def _miss_late(self, conn: sa.Connection, now: dt.datetime) -> int:
        """Scheduled variants past their maximum lateness (the campaign's, else the
        setting) → ``missed``, with the reason."""
        by_limit: dict[dt.timedelta, list[str]] = {}
        for slug, limit in self.max_lateness.items():
            by_limit.setdefault(limit, []).append(slug)
        limits: list[tuple[dt.timedelta, Any]] = [
            (limit, V.c.post_id.in_(_campaign_posts(slugs))) for limit, slugs in by_limit.items()
        ]
        default: Any = sa.true()
        if self.max_lateness:
            default = V.c.post_id.not_in(_campaign_posts(self.max_lateness))
        limits.append((self.settings.max_lateness, default))
        missed = 0
        for limit, which in limits:
            late = now - limit
            done = conn.execute(
                sa.update(V)
                .where(
                    V.c.status == VariantStatus.SCHEDULED,
                    V.c.publish_at < late,
                    V.c.due_at < late,
                    which,
                )
                .values(
                    status=VariantStatus.MISSED,
                    reasons=[
                        f"not published within the maximum lateness ({_human(limit)}) of its time"
                    ],
                    updated_at=now,
                )
            )
            missed += done.rowcount or 0
        return missed

    # --- sweeping -----------------------------------------------------------------------

    def sweep(self, now: dt.datetime | None = None) -> Counter[str]:
        """Expired leases → retried or uncertain; too-late variants → missed (with reasons)."""
        now = now or utcnow()
        counts: Counter[str] = Counter()
        A = ACCOUNTS
        with self.ws.engine.begin() as conn:
            # Two queries, not a join: joined, SQLite may read every variant of every
            # account (once ANALYZE has run) instead of the few with an expired lease.
            expired = conn.execute(
                sa.select(V.c.id, V.c.account_id).where(
                    V.c.status == VariantStatus.PUBLISHING, V.c.lease_until < now
                )
            ).all()
            modes: dict[int, str] = {}
            if expired:
                accounts = {r.account_id for r in expired}
                query = sa.select(A.c.id, A.c.mode).where(A.c.id.in_(accounts))
                modes = {r.id: str(r.mode) for r in conn.execute(query)}
            retry = [
                r.id
                for r in expired
                if self.publisher(self.publisher_name(modes[r.account_id])).idempotent
            ]
            retrying = set(retry)
            unsure = [r.id for r in expired if r.id not in retrying]
            if retry:
                conn.execute(
                    sa.update(V)
                    .where(V.c.id.in_(retry), V.c.status == VariantStatus.PUBLISHING)
                    .values(
                        status=VariantStatus.SCHEDULED,
                        due_at=now,
                        claimed_by=None,
                        lease_until=None,
                    )
                )
                counts["retried"] = len(retry)
            if unsure:
                conn.execute(
                    sa.update(V)
                    .where(V.c.id.in_(unsure), V.c.status == VariantStatus.PUBLISHING)
                    .values(
                        status=VariantStatus.UNCERTAIN,
                        claimed_by=None,
                        lease_until=None,
                        reasons=[
                            "a daemon stopped mid-publish and its publisher cannot retry "
                            "safely: check the account, then `amplifier retry` or `confirm`"
                        ],
                    )
                )
                counts["uncertain"] = len(unsure)
            counts["missed"] = self._miss_late(conn, now)
        for name, n in counts.items():
            if n:
                log.warning("%d variants %s", n, name)
        return counts


def _campaign_posts(slugs: Iterable[str]) -> sa.Select[tuple[int]]:
    return sa.select(POSTS.c.id).join(CAMPAIGNS).where(CAMPAIGNS.c.slug.in_(list(slugs)))


def _human(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
