"""Admin governance: every account has an admin with an assignment letter in force."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from amplifier.findings import Finding
from amplifier.load import LoadedWorkspace, load_workspace
from amplifier.load.schema import AdminSpec, OrgFile, Settings
from amplifier.policy.config import (
    GovernanceSettings,
    PhotoSettings,
    PolicySettings,
    TrainingList,
)
from amplifier.policy.governance import admin_training, check_governance, check_workspace
from tests.test_policy_naming import example_policy

REPO = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 11, 28)
EXAMPLE = GovernanceSettings(expiry_warning_days=120)


@pytest.fixture(scope="module")
def example() -> LoadedWorkspace:
    return load_workspace(REPO)


def org_line(source: str | None) -> str:
    assert source and source.startswith("org.yaml:")
    line = int(source.rpartition(":")[2])
    return (REPO / "org.yaml").read_text(encoding="utf-8").splitlines()[line - 1]


def rules(findings: list[Finding]) -> Counter[str]:
    return Counter(f.rule for f in findings)


def letter(issued: str = "2026-01-01", until: str = "2027-12-31") -> dict[str, str]:
    return {"number": "ST-1/2026", "issued": issued, "valid_until": until}


def workspace(admins: list[dict[str, Any]]) -> LoadedWorkspace:
    units = [
        {
            "code": code,
            "name": code,
            "kind": "service",
            "timezone": "Asia/Jakarta",
            "accounts": [
                {"platform": "instagram", "handle": f"kptd.kl.{code.lower()}"},
                {"platform": "x", "handle": f"kptd_{code.lower()}"},
            ],
        }
        for code in ("A", "B")
    ]
    org = OrgFile.model_validate(
        {"institution": {"code": "KPTD", "name": "K"}, "units": units, "admins": admins}
    )
    return LoadedWorkspace(root=Path("."), settings=Settings(), org=org)


# --- the example workspace ------------------------------------------------------------------


def test_example_expired_letter_leaves_itjen_without_admin(example: LoadedWorkspace) -> None:
    findings = check_governance(example, EXAMPLE, today=TODAY)
    [expired] = [f for f in findings if f.rule == "policy.governance.letter_expired"]
    assert "id: ADM-005" in org_line(expired.source)
    assert "ended on 2026-09-30 (59 days ago)" in expired.message
    assert "unit ITJEN" in expired.message
    no_admin = [f for f in findings if f.rule == "policy.governance.no_admin"]
    assert sorted(org_line(f.source).split("handle:")[1].strip() for f in no_admin) == [
        "kptd.itjen",
        "kptd.itjen",
        "kptd_itjen",
    ]
    assert all("ADM-005's letter ended on 2026-09-30" in f.message for f in no_admin)
    assert all(f.severity == "review" and f.category == "governance" for f in findings)


def test_example_expiring_letters_are_warned(example: LoadedWorkspace) -> None:
    findings = check_governance(example, EXAMPLE, today=TODAY)
    expiring = {
        org_line(f.source).strip(): f.message
        for f in findings
        if f.rule == "policy.governance.letter_expiring"
    }
    assert set(expiring) == {"- id: ADM-026", "- id: ADM-038"}
    assert "ends on 2027-01-31, in 64 days" in expiring["- id: ADM-026"]
    assert "units KANWIL-MALUT, KL-TOBELO" in expiring["- id: ADM-038"]
    assert rules(findings) == {
        "policy.governance.letter_expired": 1,
        "policy.governance.letter_expiring": 2,
        "policy.governance.no_admin": 3,
    }


def test_example_warning_window(example: LoadedWorkspace) -> None:
    def expiring(days: int) -> int:
        settings = GovernanceSettings(expiry_warning_days=days)
        return rules(check_governance(example, settings, today=TODAY))[
            "policy.governance.letter_expiring"
        ]

    assert expiring(60) == 0  # the default: both letters end later than that
    assert expiring(64) == 1
    assert expiring(92) == 2


def test_example_before_the_expiry_everything_is_covered(example: LoadedWorkspace) -> None:
    findings = check_governance(example, GovernanceSettings(), today=dt.date(2026, 6, 1))
    assert findings == []


def test_check_workspace_on_the_example(example: LoadedWorkspace) -> None:
    settings = example_policy().model_copy(
        update={
            "photos": PhotoSettings(template="assets/profile/template.png"),
            "governance": EXAMPLE,
        }
    )
    found = rules(check_workspace(example, settings, today=TODAY))
    assert found["policy.naming.pattern"] == 3
    assert found["policy.naming.syntax"] == 1
    assert found["policy.naming.mixed_case"] == 1
    assert found["policy.photo.not_square"] == 1
    assert found["policy.photo.too_small"] == 1
    assert found["policy.photo.template_mismatch"] == 1
    assert found["policy.governance.no_admin"] == 3
    assert found["policy.governance.letter_expiring"] == 2


# --- coverage rules -------------------------------------------------------------------------


def test_account_without_any_admin() -> None:
    ws = workspace([{"id": "ADM-1", "name": "P", "units": ["A"], "letter": letter()}])
    findings = check_governance(ws, GovernanceSettings(), today=TODAY)
    assert sorted(f.message for f in findings) == [
        "account instagram:kptd.kl.b of unit B has no admin; assign one under admins: in "
        "org.yaml, by unit or by account",
        "account x:kptd_b of unit B has no admin; assign one under admins: in org.yaml, "
        "by unit or by account",
    ]


def test_account_link_covers_only_that_account() -> None:
    ws = workspace(
        [
            {"id": "ADM-1", "name": "P", "units": ["A"], "letter": letter()},
            {"id": "ADM-2", "name": "Q", "accounts": ["x:KPTD_B"], "letter": letter()},
        ]
    )
    [finding] = check_governance(ws, GovernanceSettings(), today=TODAY)
    assert "instagram:kptd.kl.b" in finding.message


def test_one_valid_admin_is_enough() -> None:
    ws = workspace(
        [
            {"id": "ADM-1", "name": "P", "units": ["A", "B"], "letter": letter(until="2026-01-31")},
            {"id": "ADM-2", "name": "Q", "units": ["A", "B"], "letter": letter()},
        ]
    )
    assert rules(check_governance(ws, GovernanceSettings(), today=TODAY)) == {
        "policy.governance.letter_expired": 1
    }


def test_letter_not_yet_in_force() -> None:
    ws = workspace(
        [{"id": "ADM-1", "name": "P", "units": ["A", "B"], "letter": letter("2027-01-01")}]
    )
    findings = check_governance(ws, GovernanceSettings(), today=TODAY)
    assert rules(findings) == {
        "policy.governance.letter_not_yet_valid": 1,
        "policy.governance.no_admin": 4,
    }
    assert any("starts on 2027-01-01" in f.message for f in findings)


def test_letter_ending_today_is_still_in_force_and_warned() -> None:
    ws = workspace(
        [{"id": "ADM-1", "name": "P", "units": ["A", "B"], "letter": letter(until="2026-11-28")}]
    )
    [finding] = check_governance(ws, GovernanceSettings(), today=TODAY)
    assert finding.rule == "policy.governance.letter_expiring"
    assert "in 0 days" in finding.message


def test_required_training() -> None:
    admins = [
        {"id": "ADM-1", "name": "P", "units": ["A", "B"], "letter": letter()},
    ]
    ws = workspace(admins)
    required = GovernanceSettings(required_training=["humas-digital", "keamanan-akun"])
    [finding] = check_governance(ws, required, today=TODAY)
    assert finding.rule == "policy.governance.training"
    assert "ADM-1 has not completed the required training: humas-digital, keamanan-akun" in (
        finding.message
    )
    assert check_governance(ws, GovernanceSettings(), today=TODAY) == []


class TrainedAdmin(AdminSpec):
    """``AdminSpec`` with ``training:``, as the schema will have it."""

    training: TrainingList = Field(default_factory=list)


def test_completed_training_counts_without_case() -> None:
    ws = workspace([])
    ws.org.admins.extend(
        [
            TrainedAdmin(
                id="ADM-1",
                name="P",
                units=["A"],
                letter=letter(),
                training=["Humas-Digital", "keamanan-akun"],
            ),
            TrainedAdmin(
                id="ADM-2", name="Q", units=["B"], letter=letter(), training=["humas-digital"]
            ),
        ]
    )
    required = GovernanceSettings(required_training=["humas-digital", "keamanan-akun"])
    [finding] = check_governance(ws, required, today=TODAY)
    assert finding.message == ("admin ADM-2 has not completed the required training: keamanan-akun")
    assert admin_training(ws.org.admins[0]) == ["Humas-Digital", "keamanan-akun"]


def test_policy_settings_defaults() -> None:
    settings = PolicySettings()
    assert settings.governance.expiry_warning_days == 60
    assert settings.governance.required_training == []
