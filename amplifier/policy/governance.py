"""Admin governance (tata kelola pengelola): every account is run by an assigned admin.

An admin covers an account when the admin lists it (``accounts: [x:kptd_ri]``) or lists its
whole unit (``units: [PUSAT]``); units below a listed unit are not covered. On the reference
date ``today``:

- every account needs at least one covering admin whose assignment letter (surat tugas) is in
  force, ``issued <= today <= valid_until`` (``policy.governance.no_admin``, at the account);
- a letter that has ended is reported at its admin (``policy.governance.letter_expired``), as
  is one that ends within ``expiry_warning_days`` (``policy.governance.letter_expiring``) or
  has not begun (``policy.governance.letter_not_yet_valid``, info);
- when the workspace lists ``required_training``, an admin without all of it is reported
  (``policy.governance.training``).

Everything here is ``review``: a person renews the letter or assigns an admin; publishing goes
on. Findings name accounts and admins by key and id and point at their line in ``org.yaml``.

This module also holds ``check_workspace``, which runs the workspace-wide policy checks
(naming, photos, governance) in one call::

    from datetime import date
    from amplifier.policy.governance import check_workspace
    findings = check_workspace(workspace, policy_settings, today=date(2026, 11, 28))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from amplifier.findings import Finding
from amplifier.load import LoadedWorkspace
from amplifier.load.schema import AdminSpec, AssignmentLetter
from amplifier.policy.config import GovernanceSettings, PolicySettings
from amplifier.policy.naming import check_naming
from amplifier.policy.photos import check_photos

__all__ = ["admin_training", "check_governance", "check_workspace", "letter_in_force"]

CATEGORY = "governance"


def letter_in_force(letter: AssignmentLetter, today: dt.date) -> bool:
    return letter.issued <= today <= letter.valid_until


def admin_training(admin: AdminSpec) -> list[str]:
    """The trainings ``admin`` has completed (``training:`` in org.yaml; empty if absent)."""
    value = getattr(admin, "training", None) or []
    return [str(item) for item in value]


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _covers(admin: AdminSpec) -> str:
    parts = []
    if admin.units:
        parts.append(("unit " if len(admin.units) == 1 else "units ") + ", ".join(admin.units))
    if admin.accounts:
        shown = ", ".join(admin.accounts[:3])
        more = f" and {len(admin.accounts) - 3} more" if len(admin.accounts) > 3 else ""
        parts.append(("account " if len(admin.accounts) == 1 else "accounts ") + shown + more)
    return " and ".join(parts) if parts else "nothing"


def check_governance(
    ws: LoadedWorkspace, settings: GovernanceSettings, *, today: dt.date | None = None
) -> list[Finding]:
    """Admin coverage, assignment letters and training, on ``today`` (default: today)."""
    today = today or dt.date.today()
    findings: list[Finding] = []

    def admin_source(admin: AdminSpec) -> str | None:
        where = ws.source_of("admin", admin.id)
        return str(where) if where else None

    for admin in ws.org.admins:
        letter = admin.letter
        label = f"admin {admin.id}'s assignment letter {letter.number}"
        covers = _covers(admin)
        if letter.valid_until < today:
            ago = (today - letter.valid_until).days
            findings.append(
                Finding(
                    rule="policy.governance.letter_expired",
                    severity="review",
                    message=f"{label} ended on {letter.valid_until} ({_days(ago)} ago); "
                    f"renew it or assign another admin to {covers}",
                    category=CATEGORY,
                    source=admin_source(admin),
                )
            )
        elif letter.issued > today:
            findings.append(
                Finding(
                    rule="policy.governance.letter_not_yet_valid",
                    severity="info",
                    message=f"{label} is in force only from {letter.issued}",
                    category=CATEGORY,
                    source=admin_source(admin),
                )
            )
        else:
            left = (letter.valid_until - today).days
            if left <= settings.expiry_warning_days:
                findings.append(
                    Finding(
                        rule="policy.governance.letter_expiring",
                        severity="review",
                        message=f"{label} ends on {letter.valid_until}, in {_days(left)}; "
                        f"renew it before then to keep {covers} covered",
                        category=CATEGORY,
                        source=admin_source(admin),
                    )
                )
        if settings.required_training:
            done = {t.casefold() for t in admin_training(admin)}
            missing = [t for t in settings.required_training if t.casefold() not in done]
            if missing:
                findings.append(
                    Finding(
                        rule="policy.governance.training",
                        severity="review",
                        message=f"admin {admin.id} has not completed the required training: "
                        f"{', '.join(missing)}",
                        category=CATEGORY,
                        source=admin_source(admin),
                    )
                )

    by_unit: dict[str, list[AdminSpec]] = {}
    by_account: dict[str, list[AdminSpec]] = {}
    for admin in ws.org.admins:
        for code in admin.units:
            by_unit.setdefault(code, []).append(admin)
        for key in admin.accounts:
            by_account.setdefault(key, []).append(admin)

    for unit in ws.org.units:
        for account in unit.accounts:
            admins: Sequence[AdminSpec] = list(
                {
                    a.id: a for a in [*by_unit.get(unit.code, []), *by_account.get(account.key, [])]
                }.values()
            )
            if any(letter_in_force(a.letter, today) for a in admins):
                continue
            if admins:
                why = "; ".join(
                    f"{a.id}'s letter "
                    + (
                        f"ended on {a.letter.valid_until}"
                        if a.letter.valid_until < today
                        else f"starts on {a.letter.issued}"
                    )
                    for a in admins
                )
                message = (
                    f"account {account.platform.value}:{account.handle} of unit {unit.code} has "
                    f"no admin with an assignment letter in force on {today}: {why}"
                )
            else:
                message = (
                    f"account {account.platform.value}:{account.handle} of unit {unit.code} has "
                    "no admin; assign one under admins: in org.yaml, by unit or by account"
                )
            where = ws.source_of("account", account.key)
            findings.append(
                Finding(
                    rule="policy.governance.no_admin",
                    severity="review",
                    message=message,
                    category=CATEGORY,
                    source=str(where) if where else None,
                )
            )
    return findings


def check_workspace(
    ws: LoadedWorkspace, settings: PolicySettings, *, today: dt.date | None = None
) -> list[Finding]:
    """The workspace-wide policy findings: naming, profile photos and admin governance."""
    return [
        *check_naming(ws, settings.naming),
        *check_photos(ws, settings.photos),
        *check_governance(ws, settings.governance, today=today),
    ]
