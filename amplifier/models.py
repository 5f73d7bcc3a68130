"""Database tables (SQLModel). Every timestamp is timezone-aware UTC.

Rows are never deleted by amplifier: removed units, accounts and admins are deactivated,
removed targets leave their variants ``cancelled``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from amplifier.vocab import AccountMode, Platform, ReviewState, UnitKind, VariantStatus


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC; always hands back an aware UTC datetime; refuses naive input."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: amplifier stores only aware UTC times")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _enum(enum: type) -> sa.Enum:
    return sa.Enum(
        enum, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
    )


class WorkUnit(SQLModel, table=True):
    __tablename__ = "work_unit"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str
    kind: UnitKind = Field(sa_type=_enum(UnitKind))
    parent_id: int | None = Field(default=None, foreign_key="work_unit.id", index=True)
    region: str | None = None
    city: str | None = None
    timezone: str = Field(max_length=64)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    active: bool = True


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (sa.UniqueConstraint("platform", "handle_key"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="work_unit.id", index=True)
    platform: Platform = Field(sa_type=_enum(Platform))
    handle: str = Field(max_length=100)
    handle_key: str = Field(max_length=100, description="lower-cased handle, the identity")
    url: str | None = None
    profile_photo: str | None = None
    mode: AccountMode = Field(default=AccountMode.MANUAL, sa_type=_enum(AccountMode))
    active: bool = True


class Admin(SQLModel, table=True):
    __tablename__ = "admin"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, description="the id given in org.yaml")
    name: str
    email: str | None = None
    phone: str | None = None
    letter_number: str
    letter_issued: dt.date
    letter_valid_until: dt.date
    active: bool = True


class AdminLink(SQLModel, table=True):
    """An admin manages a whole unit (account_id is null) or one account."""

    __tablename__ = "admin_link"
    __table_args__ = (sa.UniqueConstraint("admin_id", "unit_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    admin_id: int = Field(foreign_key="admin.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="work_unit.id")
    account_id: int | None = Field(default=None, foreign_key="account.id")
    active: bool = True


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, unique=True, index=True)
    title: str
    goal: str | None = None
    period_start: dt.date
    period_end: dt.date
    priority: int = 0
    key_messages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    hashtags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    links: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    targets: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    review: str = Field(default="auto", max_length=10, description="auto or manual")
    require: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    timing: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    source: str | None = Field(default=None, description="file:line it was loaded from")
    active: bool = True


class CentralPost(SQLModel, table=True):
    __tablename__ = "central_post"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str = Field(max_length=100)
    central_at: dt.datetime = Field(sa_type=UTCDateTime)
    title: str | None = None
    body: str
    link: str | None = None
    media: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    templates: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    targets: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    timing: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    source: str | None = None
    active: bool = True


class Variant(SQLModel, table=True):
    """A central post rendered for one account. Identity: (post_id, account_id)."""

    __tablename__ = "variant"
    __table_args__ = (
        sa.UniqueConstraint("post_id", "account_id"),
        sa.Index("ix_variant_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # no index of its own: it leads the unique constraint's (migration 0008)
    post_id: int = Field(foreign_key="central_post.id")
    account_id: int = Field(foreign_key="account.id", index=True)
    unit_id: int = Field(foreign_key="work_unit.id", index=True)
    text: str = ""
    title: str | None = Field(default=None, description="YouTube title")
    content_hash: str = Field(default="", max_length=64, description="digest of text and title")
    input_hash: str = Field(
        default="", max_length=64, description="digest of everything rendering read"
    )
    template: str | None = Field(default=None, description="the template chain, '|'-joined")
    publish_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: dt.datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="next attempt: publish_at, or a retry"
    )
    timing: list[str] = Field(default_factory=list, sa_type=sa.JSON, description="why this time")
    held_by: str | None = Field(default=None, description="key of the embargo holding it")
    attempts: int = 0
    status: VariantStatus = Field(default=VariantStatus.PENDING, sa_type=_enum(VariantStatus))
    review: ReviewState = Field(default=ReviewState.DRAFT, sa_type=_enum(ReviewState))
    reasons: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    idempotency_key: str = Field(max_length=64, unique=True)
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_note: str | None = None
    claimed_by: str | None = None
    lease_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    published_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    external_url: str | None = None
    confirmed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One attempt to publish a variant."""

    __tablename__ = "delivery"
    # also the index of variant_id alone (its leading column)
    __table_args__ = (sa.UniqueConstraint("variant_id", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id")
    attempt: int
    publisher: str = Field(max_length=64)
    worker: str | None = None
    started_at: dt.datetime = Field(sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=20)
    external_id: str | None = None
    external_url: str | None = None
    error: str | None = None


class Blackout(SQLModel, table=True):
    """A time when nothing, or only some campaigns, may go out to the units in scope."""

    __tablename__ = "blackout"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    name: str
    kind: str = Field(
        default="custom", max_length=20, description="custom, holiday, quiet, embargo"
    )
    starts_at: dt.datetime = Field(sa_type=UTCDateTime)
    ends_at: dt.datetime = Field(sa_type=UTCDateTime)
    scope: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    campaigns: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    reason: str | None = None
    source: str | None = None
    active: bool = True


class DigestRun(SQLModel, table=True):
    """A daily digest that went out: inserting the row is the claim, so it goes out once."""

    __tablename__ = "digest_run"
    __table_args__ = (sa.UniqueConstraint("zone", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    zone: str = Field(max_length=64)
    day: dt.date
    worker: str | None = None
    sent_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    items: int = 0


class TimingState(SQLModel, table=True):
    """The digest of everything the last timing of a set of posts read (its key), so that
    a re-plan that changed nothing, over unchanged timing input, need not re-time."""

    __tablename__ = "timing_state"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64, unique=True, description="digest of the post ids")
    digest: str = Field(max_length=64)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PlanState(SQLModel, table=True):
    """The digest of everything the last plan of a scope (its campaign and post filters)
    read, and the summary a re-plan of unchanged input would report: when the digest is
    still the same, a re-plan has nothing to compare (``amplifier.plan``)."""

    __tablename__ = "plan_state"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64, unique=True, description="digest of the filters")
    digest: str = Field(max_length=64)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeCounter(SQLModel, table=True):
    """How many statements changed a table (``name``): every engine amplifier opens counts
    the statements that write the variant table (``database.count_variant_writes``)."""

    __tablename__ = "change_counter"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    count: int = 0


def _table(model: type[SQLModel]) -> sa.Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table


# Core table handles for bulk statements (decision 5 of the design: Core, not the ORM).
UNITS = _table(WorkUnit)
ACCOUNTS = _table(Account)
ADMINS = _table(Admin)
ADMIN_LINKS = _table(AdminLink)
CAMPAIGNS = _table(Campaign)
POSTS = _table(CentralPost)
VARIANTS = _table(Variant)
DELIVERIES = _table(Delivery)
BLACKOUTS = _table(Blackout)
DIGEST_RUNS = _table(DigestRun)
TIMING_STATES = _table(TimingState)
PLAN_STATES = _table(PlanState)
CHANGE_COUNTERS = _table(ChangeCounter)
