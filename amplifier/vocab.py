"""The fixed words of the domain: platforms, unit kinds, account modes and variant states."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    X = "x"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    THREADS = "threads"


#: how each platform's name is written for people
PLATFORM_NAMES: dict[str, str] = {
    "x": "X",
    "instagram": "Instagram",
    "facebook": "Facebook",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "threads": "Threads",
}


class UnitKind(StrEnum):
    """Where a work unit (unit kerja) sits in the institution."""

    CENTRAL = "central"  # kantor pusat
    ECHELON1 = "echelon1"  # unit eselon I
    REGIONAL = "regional"  # kantor wilayah / kantor regional
    SERVICE = "service"  # kantor layanan / UPT
    OVERSEAS = "overseas"  # kantor perwakilan luar negeri


class AccountMode(StrEnum):
    API = "api"  # published by the daemon through a publisher
    MANUAL = "manual"  # posted by hand by the unit admin from the outbox


class ReviewState(StrEnum):
    DRAFT = "draft"
    NEEDS_REVIEW = "needs_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class VariantStatus(StrEnum):
    """Where a variant is on its way to the platform."""

    PENDING = "pending"  # rendered, not yet timed
    SCHEDULED = "scheduled"  # has a publish time
    UNSCHEDULED = "unscheduled"  # no allowed slot in its window (see reasons)
    HELD = "held"  # paused by an embargo
    PUBLISHING = "publishing"  # claimed by a daemon
    PUBLISHED = "published"
    FAILED = "failed"
    MISSED = "missed"  # could not go out in time (see reasons)
    UNCERTAIN = "uncertain"  # a claim ended with no known outcome: a human must check
    CANCELLED = "cancelled"  # its target or post was removed

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {VariantStatus.PUBLISHED, VariantStatus.CANCELLED, VariantStatus.MISSED, VariantStatus.FAILED}
)
