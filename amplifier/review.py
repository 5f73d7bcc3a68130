"""Review: who may let a variant go out.

States: ``draft`` → ``needs_review`` → ``approved`` | ``rejected``.

- A variant with a blocking finding stays ``draft``: fix its template or post and plan again.
- A variant with no findings (``info`` notices aside) is approved automatically when its
  campaign's review is ``auto`` (the default); otherwise it needs review.
- A variant the timing stage puts into an election quiet period (masa tenang) while its
  text has electoral terms goes back to review, unless a person approved it
  (``amplifier.timetable``).
- A person approves or rejects in bulk, by campaign, unit, post or variant id; who, when and
  a note are recorded. Approving a variant with a blocking finding is refused.
- Only approved variants are ever scheduled. A variant whose text changes after approval
  returns to review (``plan`` applies ``initial_state`` again).

    changed = review_variants(ws, "approve", by="humas.pusat", campaign="hari-pelayanan-2027")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from amplifier.errors import InvalidOperation
from amplifier.findings import blocking
from amplifier.models import VARIANTS, Account, Campaign, CentralPost, Variant, WorkUnit, utcnow
from amplifier.vocab import ReviewState, VariantStatus

if TYPE_CHECKING:
    from amplifier.workspace import Workspace

AUTO = "auto"
Action = Literal["approve", "reject"]


def initial_state(findings: Sequence[dict[str, Any]], campaign_review: str) -> ReviewState:
    """The review state of a freshly rendered (or re-rendered) variant.

    ``info`` findings are notices: they alone do not send a variant to review.
    """
    if blocking(list(findings)):
        return ReviewState.DRAFT
    if any(f.get("severity") != "info" for f in findings) or campaign_review != AUTO:
        return ReviewState.NEEDS_REVIEW
    return ReviewState.APPROVED


@dataclass
class ReviewResult:
    changed: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # variant id -> why

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "refused": {str(k): v for k, v in self.refused.items()}}


def review_variants(
    ws: Workspace,
    action: Action,
    *,
    by: str,
    note: str | None = None,
    campaign: str | None = None,
    unit: str | None = None,
    post: str | None = None,
    ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> ReviewResult:
    """Approve or reject every variant that matches all the given selectors."""
    if not by.strip():
        raise InvalidOperation("say who is reviewing (--by)")
    if not (campaign or unit or post or ids):
        raise InvalidOperation("choose the variants: a campaign, unit, post or variant ids")
    now = now or utcnow()
    result = ReviewResult()
    target = ReviewState.APPROVED if action == "approve" else ReviewState.REJECTED
    with Session(ws.engine) as session:
        query = (
            select(Variant)
            .join(CentralPost, col(CentralPost.id) == col(Variant.post_id))
            .join(Campaign, col(Campaign.id) == col(CentralPost.campaign_id))
            .join(WorkUnit, col(WorkUnit.id) == col(Variant.unit_id))
            .join(Account, col(Account.id) == col(Variant.account_id))
        )
        if campaign:
            query = query.where(Campaign.slug == campaign)
        if unit:
            query = query.where(WorkUnit.code == unit)
        if post:
            slug, _, key = post.rpartition("/")
            query = query.where(CentralPost.key == key)
            if slug:
                query = query.where(Campaign.slug == slug)
        if ids:
            query = query.where(col(Variant.id).in_(list(ids)))
        for variant in session.exec(query.order_by(col(Variant.id))).all():
            assert variant.id is not None
            why = _refusal(variant, target)
            if why:
                result.refused[variant.id] = why
                continue
            if variant.review == target:
                continue
            variant.review = target
            variant.reviewed_by = by
            variant.reviewed_at = now
            variant.review_note = note
            variant.updated_at = now
            session.add(variant)
            result.changed.append(variant.id)
        session.commit()
    return result


def _refusal(variant: Variant, target: ReviewState) -> str | None:
    if variant.status in (VariantStatus.PUBLISHED, VariantStatus.PUBLISHING):
        return f"already {variant.status}"
    if variant.status == VariantStatus.CANCELLED:
        return "cancelled"
    if target == ReviewState.APPROVED and blocking(variant.findings):
        return "has a blocking finding: fix the template or post and plan again"
    return None


def review_queue(ws: Workspace, state: ReviewState = ReviewState.NEEDS_REVIEW) -> list[Variant]:
    with Session(ws.engine) as session:
        query = (
            select(Variant)
            .where(Variant.review == state)
            .where(col(Variant.status) != VariantStatus.CANCELLED)
            .order_by(col(Variant.id))
        )
        return list(session.exec(query).all())


def counts(ws: Workspace) -> dict[str, int]:
    with ws.engine.connect() as conn:
        t = VARIANTS
        rows = conn.execute(sa.select(t.c.review, sa.func.count()).group_by(t.c.review)).all()
    return {str(state): n for state, n in rows}
