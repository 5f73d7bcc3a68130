"""The shape of every workspace file, as pydantic models.

Each model forbids unknown keys, so a typo is reported with the nearest known key.
Cross-file rules (unique codes, known parents, no cycles, unique handles) live in
``amplifier.load.checks``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    field_validator,
)

from amplifier.load.base import (
    AwareDatetime,
    Code,
    Slug,
    Strict,
    StrList,
    Targets,
    Timezone,
    as_list,
)
from amplifier.load.source import suggest
from amplifier.policy.config import PolicySettings, RequireSpec, TrainingList
from amplifier.timing.config import (
    HolidayEntry,
    PostTimingSpec,
    QuietPeriodSpec,
    TimingSettings,
    TimingSpec,
)
from amplifier.vocab import AccountMode, Platform, UnitKind

# --- amplifier.toml ---------------------------------------------------------------------


class DatabaseSettings(Strict):
    url: str = Field(
        default="sqlite:///.amplifier/amplifier.db",
        description="SQLAlchemy URL; a relative sqlite path is relative to the workspace",
    )


class WorkspaceSettings(Strict):
    language: str = Field(default="id", description="default language tag for rendering")


class PlatformLimits(Strict):
    """``[platforms.<platform>]``: change a platform's limits when the platform changes them."""

    max_length: int | None = Field(default=None, ge=1, description="in the platform's measure")
    max_hashtags: int | None = Field(default=None, ge=0)
    title_max: int | None = Field(default=None, ge=1, description="YouTube title, characters")

    def overrides(self) -> dict[str, int]:
        return self.model_dump(exclude_none=True)


def _duration(value: Any) -> Any:
    from amplifier.timing.clock import parse_duration

    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[dt.timedelta, BeforeValidator(_duration)]


class PublishingSettings(Strict):
    """``[publishing]``: which publisher serves which accounts, and the daemon's limits."""

    manual: str = Field(default="outbox", description="publisher for accounts posted by hand")
    api: str = Field(default="log", description="publisher for accounts published by the daemon")
    max_lateness: Duration = Field(
        default=dt.timedelta(hours=2), description="past this, a late variant becomes missed"
    )
    max_attempts: int = Field(default=5, ge=1, le=50)
    lease: Duration = Field(default=dt.timedelta(minutes=5), description="how long a claim holds")
    retry_base: dt.timedelta = Field(default=dt.timedelta(seconds=30), gt=dt.timedelta(0))
    retry_cap: Duration = Field(default=dt.timedelta(hours=1))
    sweep_seconds: int = Field(default=10, ge=1, le=600, description="how often the sweeper runs")
    horizon: Duration = Field(
        default=dt.timedelta(hours=2), description="publish minutes scheduled ahead as jobs"
    )
    digest_at: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    publishers: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"outbox": {"dir": ".amplifier/outbox"}},
        description="options per publisher, e.g. [publishing.publishers.webhook] url = …",
    )


class Settings(Strict):
    """``amplifier.toml``."""

    workspace: WorkspaceSettings = WorkspaceSettings()
    database: DatabaseSettings = DatabaseSettings()
    publishing: PublishingSettings = PublishingSettings()
    policy: PolicySettings = PolicySettings()
    timing: TimingSettings = TimingSettings()
    platforms: dict[Platform, PlatformLimits] = Field(
        default_factory=dict,
        description="per-platform limits, e.g. [platforms.instagram] max_hashtags = 10",
    )


# --- org.yaml ---------------------------------------------------------------------------


class Institution(Strict):
    code: Code
    name: str
    short_name: str | None = None
    timezone: Timezone = "Asia/Jakarta"
    website: str | None = None


class AccountSpec(Strict):
    platform: Platform
    handle: Annotated[str, Field(min_length=1, max_length=100)]
    url: str | None = None
    profile_photo: str | None = None
    mode: AccountMode = AccountMode.MANUAL

    @field_validator("handle")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        value = value.strip()
        if not value.lstrip("@"):
            raise ValueError("a handle cannot be empty")
        return value.lstrip("@")

    @property
    def key(self) -> str:
        """``platform:handle``, the account's identity across syncs (case-insensitive)."""
        return f"{self.platform.value}:{self.handle.lower()}"


class UnitSpec(Strict):
    code: Code
    name: str
    kind: UnitKind
    parent: Code | None = None
    region: str | None = Field(default=None, description="province (provinsi)")
    city: str | None = None
    timezone: Timezone
    languages: StrList = Field(default_factory=lambda: ["id"])
    tags: StrList = Field(default_factory=list)
    accounts: list[AccountSpec] = Field(default_factory=list)


class AssignmentLetter(Strict):
    """Surat tugas: the letter that assigns an admin to manage accounts."""

    number: str
    issued: dt.date
    valid_until: dt.date

    @field_validator("valid_until")
    @classmethod
    def _after_issue(cls, value: dt.date, info: Any) -> dt.date:
        issued = info.data.get("issued")
        if issued is not None and value < issued:
            raise ValueError(f"valid_until {value} is before issued {issued}")
        return value


class AdminSpec(Strict):
    id: Code
    name: str
    email: str | None = None
    phone: str | None = None
    units: StrList = Field(default_factory=list, description="codes of units managed")
    accounts: StrList = Field(
        default_factory=list, description="accounts managed, as platform:handle"
    )
    letter: AssignmentLetter
    training: TrainingList = Field(default_factory=list, description="trainings completed")

    @field_validator("accounts")
    @classmethod
    def _account_refs(cls, value: list[str]) -> list[str]:
        platforms = [p.value for p in Platform]
        for ref in value:
            platform, sep, handle = ref.partition(":")
            if not sep or not handle.lstrip("@"):
                raise ValueError(f"'{ref}' should be platform:handle, for example x:humas_jakarta")
            if platform not in platforms:
                raise ValueError(
                    f"'{ref}': unknown platform '{platform}'{suggest(platform, platforms)}"
                )
        return [f"{r.partition(':')[0]}:{r.partition(':')[2].lstrip('@').lower()}" for r in value]


class OrgFile(Strict):
    """``org.yaml``."""

    institution: Institution
    units: list[UnitSpec]
    admins: list[AdminSpec] = Field(default_factory=list)


# --- calendars/*.yaml -------------------------------------------------------------------


class Period(Strict):
    start: dt.date
    end: dt.date

    @field_validator("end")
    @classmethod
    def _ordered(cls, value: dt.date, info: Any) -> dt.date:
        start = info.data.get("start")
        if start is not None and value < start:
            raise ValueError(f"end {value} is before start {start}")
        return value


_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def _template_name(value: str) -> str:
    if not _TEMPLATE_NAME.match(value):
        raise ValueError(
            f"template name '{value}' may use only lower-case letters, digits, '-' and '_'"
        )
    return value


TemplateName = Annotated[str, AfterValidator(_template_name)]


class PostSpec(Strict):
    key: Slug
    at: AwareDatetime = Field(description="the central post's own time, with its UTC offset")
    body: str
    title: str | None = None
    link: str | None = None
    media: StrList = Field(default_factory=list)
    templates: Annotated[list[TemplateName], BeforeValidator(as_list)] = Field(default_factory=list)
    targets: Targets | None = None
    timing: PostTimingSpec | None = None


class CampaignSpec(Strict):
    slug: Slug
    title: str
    goal: str | None = None
    period: Period
    priority: int = Field(
        default=0, ge=0, le=100, description="higher wins when variants compete for a slot"
    )
    key_messages: StrList = Field(default_factory=list)
    hashtags: StrList = Field(default_factory=list)
    links: StrList = Field(default_factory=list)
    targets: Targets = Targets()
    review: Literal["auto", "manual"] = Field(
        default="auto",
        description="auto: variants with no findings are approved automatically; "
        "manual: a person reviews every variant",
    )
    require: RequireSpec = RequireSpec()
    timing: TimingSpec = TimingSpec()
    max_lateness: Duration | None = Field(
        default=None,
        description="past this, a late variant of this campaign becomes missed "
        "(default: [publishing] max_lateness)",
    )
    posts: list[PostSpec] = Field(default_factory=list)

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: list[str]) -> list[str]:
        out = []
        for tag in value:
            bare = tag.lstrip("#")
            if not re.fullmatch(r"\w+", bare):
                raise ValueError(f"hashtag '{tag}' may contain only letters, digits and '_'")
            out.append(bare)
        return out


class BlackoutSpec(Strict):
    key: Slug
    name: str
    starts: AwareDatetime
    ends: AwareDatetime
    reason: str | None = None
    scope: Targets = Targets()
    campaigns: StrList = Field(
        default_factory=list, description="only these campaign slugs are blocked (empty: all)"
    )

    @field_validator("ends")
    @classmethod
    def _ordered(cls, value: dt.datetime, info: Any) -> dt.datetime:
        starts = info.data.get("starts")
        if starts is not None and value <= starts:
            raise ValueError(f"ends {value.isoformat()} is not after starts {starts.isoformat()}")
        return value


class CalendarFile(Strict):
    """One file in ``calendars/``: campaigns and blackouts."""

    campaigns: list[CampaignSpec] = Field(default_factory=list)
    blackouts: list[BlackoutSpec] = Field(default_factory=list)
    holidays: list[HolidayEntry] = Field(
        default_factory=list, description="add (or remove) holidays on top of the holidays package"
    )
    quiet_periods: list[QuietPeriodSpec] = Field(
        default_factory=list, description="election quiet periods (masa tenang)"
    )
