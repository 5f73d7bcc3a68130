"""Naming policy: platform syntax, the institution's pattern, and consistency between handles."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from amplifier.findings import Finding
from amplifier.load import LoadedWorkspace, load_workspace
from amplifier.load.schema import OrgFile, Settings, UnitSpec
from amplifier.policy.config import NamingSettings, PolicySettings
from amplifier.policy.naming import (
    MissingValue,
    check_naming,
    check_syntax,
    expected_handle,
    normalize,
)
from amplifier.vocab import Platform

REPO = Path(__file__).resolve().parents[1]

# The example workspace's [policy] table, as it goes into amplifier.toml.
EXAMPLE_POLICY_TOML = """
[policy.naming]
prefix = "kptd"

[policy.naming.patterns]
x = "{prefix}_{token}"
tiktok = "{prefix}_{token}"
instagram = "{prefix}.{kind}.{token}"
facebook = "{prefix}.{kind}.{token}"
threads = "{prefix}.{kind}.{token}"
youtube = "{prefix}.{kind}.{token}"

[policy.naming.kinds]
central = ""
echelon1 = ""
regional = "kanwil"
service = "kl"
overseas = "perwakilan"

[policy.naming.tokens]
central = "{code}"
echelon1 = "{code}"
regional = "{region}"
service = "{city}"
overseas = "{city}"

[policy.naming.abbreviations]
"DKI Jakarta" = "dki"
"DI Yogyakarta" = "diy"
"Jawa Barat" = "jabar"
"Jawa Tengah" = "jateng"
"Jawa Timur" = "jatim"
"Sumatera Utara" = "sumut"
"Sumatera Barat" = "sumbar"
"Sumatera Selatan" = "sumsel"
"Kalimantan Barat" = "kalbar"
"Kalimantan Tengah" = "kalteng"
"Kalimantan Selatan" = "kalsel"
"Kalimantan Timur" = "kaltim"
"Kalimantan Utara" = "kaltara"
"Nusa Tenggara Barat" = "ntb"
"Nusa Tenggara Timur" = "ntt"
"Sulawesi Selatan" = "sulsel"
"Sulawesi Utara" = "sulut"
"Maluku Utara" = "malut"
"Papua Barat" = "papbar"
"Pematangsiantar" = "siantar"
"Surakarta" = "solo"
"Sumbawa Besar" = "sumbawa"

[policy.naming.units]
PUSAT = { token = "ri" }
UPT-DEPOK = { kind = "upt" }
UPT-YOGYA = { kind = "upt", token = "yogya" }
KL-BULELENG = { token = "buleleng" }
KL-BADUNG = { token = "badung" }
"""


def example_policy() -> PolicySettings:
    return PolicySettings.model_validate(tomllib.loads(EXAMPLE_POLICY_TOML)["policy"])


@pytest.fixture(scope="module")
def example() -> LoadedWorkspace:
    return load_workspace(REPO)


def org_line(source: str | None) -> str:
    assert source and source.startswith("org.yaml:")
    line = int(source.rpartition(":")[2])
    return (REPO / "org.yaml").read_text(encoding="utf-8").splitlines()[line - 1]


def by_rule(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.rule, []).append(f)
    return out


def unit(code: str, kind: str, accounts: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": code,
        "kind": kind,
        "timezone": "Asia/Jakarta",
        "accounts": [{"platform": p, "handle": h} for p, h in accounts],
        **extra,
    }


def workspace(units: list[dict[str, Any]]) -> LoadedWorkspace:
    org = OrgFile.model_validate(
        {"institution": {"code": "KPTD", "name": "Kementerian Contoh"}, "units": units}
    )
    return LoadedWorkspace(root=Path("."), settings=Settings(), org=org)


# --- the example workspace ------------------------------------------------------------------


def test_example_deliberate_off_pattern_handles_are_found(example: LoadedWorkspace) -> None:
    findings = check_naming(example, example_policy().naming)
    rules = by_rule(findings)
    assert sorted(rules) == [
        "policy.naming.mixed_case",
        "policy.naming.pattern",
        "policy.naming.syntax",
    ]
    [syntax] = rules["policy.naming.syntax"]
    assert syntax.severity == "block"
    assert "'kptd_lhokseumawe'" in syntax.message and "16 characters" in syntax.message
    assert "handle: kptd_lhokseumawe" in org_line(syntax.source)

    expected = {
        "kptd.bogor": "kptd_bogor",
        "kptd_jtg": "kptd_jateng",
        "kptd_kanwil_sulsel": "kptd.kanwil.sulsel",
    }
    pattern = rules["policy.naming.pattern"]
    assert len(pattern) == 3
    for finding in pattern:
        assert finding.severity == "review" and finding.category == "naming"
        handle = org_line(finding.source).split("handle:")[1].split("#")[0].strip()
        assert f"expected '{expected[handle]}'" in finding.message

    [case] = rules["policy.naming.mixed_case"]
    assert "handle: KPTD_Papua" in org_line(case.source)
    assert "write 'kptd_papua'" in case.message


def test_example_regular_handles_pass(example: LoadedWorkspace) -> None:
    flagged = {
        org_line(f.source).split("handle:")[1].split("#")[0].strip()
        for f in check_naming(example, example_policy().naming)
    }
    assert flagged == {
        "kptd_lhokseumawe",
        "kptd.bogor",
        "kptd_jtg",
        "kptd_kanwil_sulsel",
        "KPTD_Papua",
    }
    # Every flagged line is one the example marks as deliberately off-pattern.
    marked = [
        line
        for line in (REPO / "org.yaml").read_text(encoding="utf-8").splitlines()
        if "handle:" in line and "deliberately off-pattern" in line
    ]
    assert len(marked) == len(flagged)


def test_example_without_patterns_consistency_finds_them(example: LoadedWorkspace) -> None:
    naming = example_policy().naming.model_copy(update={"patterns": {}})
    rules = by_rule(check_naming(example, naming))
    separators = {
        org_line(f.source).split("handle:")[1].split("#")[0].strip(): f.message
        for f in rules["policy.naming.mixed_separators"]
    }
    assert set(separators) == {"kptd_kanwil_sulsel", "kptd.bogor"}
    assert "where 59 of 60 Instagram handles use '.'" in separators["kptd_kanwil_sulsel"]
    assert "TikTok handles use '_'" in separators["kptd.bogor"]
    abbreviations = rules["policy.naming.mixed_abbreviations"]
    assert [
        org_line(f.source).split("handle:")[1].split("#")[0].strip() for f in abbreviations
    ] == ["kptd_jtg"]
    assert "where 4 of its 5 handles use 'jateng'" in abbreviations[0].message
    assert len(rules["policy.naming.syntax"]) == 1
    assert len(rules["policy.naming.mixed_case"]) == 1


# --- platform syntax -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "handle"),
    [
        ("x", "kptd_ri"),
        ("x", "a" * 15),
        ("instagram", "kptd.kanwil.sumut"),
        ("instagram", "kptd_ri"),
        ("threads", "kptd.ri"),
        ("tiktok", "kptd.bali_1"),
        ("tiktok", "ab"),
        ("youtube", "kptd.kanwil-bali"),
        ("facebook", "kptd.kanwil.bali"),
    ],
)
def test_valid_handles(platform: str, handle: str) -> None:
    assert check_syntax(handle, platform) == []


@pytest.mark.parametrize(
    ("platform", "handle", "problem"),
    [
        ("x", "kptd_lhokseumawe", "16 characters; X allows at most 15"),
        ("x", "kptd.ri", "has '.'; X allows only letters, digits and '_'"),
        ("instagram", "a" * 31, "31 characters"),
        ("instagram", ".kptd", "starts with '.'"),
        ("instagram", "kptd.", "ends with '.'"),
        ("instagram", "kptd..ri", "has '..'"),
        ("instagram", "kptd-ri", "has '-'"),
        ("threads", "kptd..ri", "has '..'"),
        ("tiktok", "k", "1 characters; TikTok allows 2 to 24"),
        ("tiktok", "kptd.", "ends with '.'"),
        ("tiktok", "a" * 25, "25 characters"),
        ("youtube", "kp", "2 characters; YouTube allows 3 to 30"),
        ("youtube", "kptd ri", "has ' '"),
        ("facebook", "kptd", "4 characters; Facebook allows 5 to 50"),
        ("facebook", "kptd_kanwil", "has '_'"),
    ],
)
def test_invalid_handles(platform: str, handle: str, problem: str) -> None:
    assert any(problem in p for p in check_syntax(handle, platform)), check_syntax(handle, platform)


# --- building the expected handle -------------------------------------------------------------


def test_normalize_abbreviates_strips_and_lowercases() -> None:
    table = {"Jawa Tengah": "jateng", "Papua Barat": "papbar", "Papua Barat Daya": "pbd"}
    assert normalize("Jawa  Tengah", table) == "jateng"
    assert normalize("jawa tengah", table) == "jateng"
    assert normalize("Papua Barat Daya", table) == "pbd"  # the longest words win
    assert normalize("Papua", table) == "papua"
    assert normalize("Jawa Tengahan", table) == "jawatengahan"  # whole words only
    assert normalize("Labuan Bajo") == "labuanbajo"
    assert normalize("Bélanda") == "belanda"
    assert normalize("DITJEN-LP") == "ditjenlp"


def test_expected_handle_drops_the_separator_of_an_empty_kind() -> None:
    naming = example_policy().naming
    setjen = UnitSpec(code="SETJEN", name="S", kind="echelon1", timezone="Asia/Jakarta")
    assert expected_handle(setjen, "instagram", naming) == "kptd.setjen"
    assert expected_handle(setjen, "x", naming) == "kptd_setjen"
    tengah = UnitSpec(
        code="KANWIL-JATENG",
        name="K",
        kind="regional",
        region="Jawa Tengah",
        city="Semarang",
        timezone="Asia/Jakarta",
    )
    assert expected_handle(tengah, "instagram", naming) == "kptd.kanwil.jateng"
    assert expected_handle(tengah, Platform.X, naming) == "kptd_jateng"


def test_expected_handle_unit_overrides_and_prefix_default() -> None:
    naming = NamingSettings(
        patterns={"instagram": "{prefix}.{kind}.{token}", "x": "{prefix}{code}"},
        units={"UPT-YOGYA": {"kind": "upt", "token": "yogya"}},
    )
    upt = UnitSpec(
        code="UPT-YOGYA", name="U", kind="service", city="Sleman", timezone="Asia/Jakarta"
    )
    assert expected_handle(upt, "instagram", naming, prefix="KPTD") == "kptd.upt.yogya"
    assert expected_handle(upt, "x", naming, prefix="kptd") == "kptduptyogya"
    assert expected_handle(upt, "facebook", naming) is None  # no pattern, no check


def test_expected_handle_needs_the_value() -> None:
    naming = NamingSettings(patterns={"x": "{prefix}_{city}"})
    bare = UnitSpec(code="KL-X", name="K", kind="service", timezone="Asia/Jakarta")
    with pytest.raises(MissingValue, match="KL-X has no city"):
        expected_handle(bare, "x", naming, prefix="kptd")
    # A token that the platform's pattern does not use is not needed.
    assert (
        expected_handle(bare, "x", NamingSettings(patterns={"x": "{prefix}_{code}"}), prefix="kptd")
        == "kptd_klx"
    )
    ws = workspace([unit("KL-X", "service", [("x", "kptd_x")])])
    [finding] = check_naming(ws, naming)
    assert (finding.rule, finding.severity) == ("policy.naming.pattern", "info")


def test_pattern_compares_without_case_and_reports_refused_expectation() -> None:
    naming = NamingSettings(prefix="kptd", patterns={"x": "{prefix}_{token}"})
    ws = workspace(
        [
            unit("KL-A", "service", [("x", "KPTD_Balige")], city="Balige"),
            unit("KL-B", "service", [("x", "kptd_b")], city="Pematangsiantar Raya"),
        ]
    )
    findings = check_naming(ws, naming)
    pattern = [f for f in findings if f.rule == "policy.naming.pattern"]
    assert len(pattern) == 1
    assert "expected 'kptd_pematangsiantarraya' (which X would refuse" in pattern[0].message


# --- consistency ------------------------------------------------------------------------------


def test_mixed_kind_abbreviation_names_the_majority() -> None:
    units = [
        unit(f"KANWIL-{c}", "regional", [("instagram", f"kptd.kanwil.{c.lower()}")], region=c)
        for c in ("ACEH", "RIAU", "BALI", "PAPUA")
    ]
    units.append(unit("KANWIL-NTB", "regional", [("instagram", "kptd.kw.ntb")], region="NTB"))
    findings = check_naming(workspace(units), NamingSettings())
    [finding] = findings
    assert finding.rule == "policy.naming.mixed_abbreviations"
    assert "uses 'kw' where 4 of 5 regional units' handles use 'kanwil'" in finding.message


def test_mixed_prefix_and_separator() -> None:
    units = [
        unit(f"KL-{c}", "service", [("instagram", f"kptd.kl.{c.lower()}")], city=c)
        for c in ("A", "B", "C")
    ]
    units.append(unit("KL-D", "service", [("instagram", "humas.kl.d")], city="D"))
    units.append(unit("KL-E", "service", [("instagram", "kptd_kl_e")], city="E"))
    rules = by_rule(check_naming(workspace(units), NamingSettings()))
    assert "starts with 'humas' where 4 of 5 handles start with 'kptd'" in (
        rules["policy.naming.mixed_abbreviations"][0].message
    )
    assert "'kptd_kl_e' uses '_' where 4 of 5 Instagram handles use '.'" in (
        rules["policy.naming.mixed_separators"][0].message
    )


def test_consistent_handles_have_no_findings() -> None:
    units = [
        unit("KL-A", "service", [("instagram", "kptd.kl.a"), ("x", "kptd_a")], city="A"),
        unit("KL-B", "service", [("instagram", "kptd.kl.b"), ("x", "kptd_b")], city="B"),
        unit("KL-C", "service", [("instagram", "kptd.kl.c"), ("x", "kptd_c")], city="C"),
    ]
    assert check_naming(workspace(units), NamingSettings()) == []


def test_no_case_convention_no_case_finding() -> None:
    units = [unit("A", "service", [("x", "KptdA"), ("instagram", "KptdA"), ("tiktok", "kptda")])]
    assert [
        f
        for f in check_naming(workspace(units), NamingSettings())
        if f.rule == "policy.naming.mixed_case"
    ] == []


def test_unknown_unit_in_settings_is_reported() -> None:
    naming = NamingSettings(units={"KL-NOWHERE": {"token": "x"}})
    ws = workspace([unit("KL-A", "service", [("x", "kptd_a")], city="A")])
    [finding] = check_naming(ws, naming)
    assert finding.rule == "policy.naming.unknown_unit" and "KL-NOWHERE" in finding.message


# --- settings ---------------------------------------------------------------------------------


def test_unknown_placeholder_is_rejected_with_suggestion() -> None:
    with pytest.raises(ValidationError, match=r"unknown placeholder \{cty\} \(did you mean 'city'"):
        NamingSettings(patterns={"x": "{prefix}_{cty}"})
    with pytest.raises(ValidationError, match="unknown placeholder"):
        NamingSettings(tokens={"regional": "{token}"})


def test_kinds_and_tokens_merge_with_defaults() -> None:
    naming = NamingSettings(kinds={"service": "upt"}, tokens={"overseas": "{code}"})
    assert naming.kinds["service"] == "upt" and naming.kinds["regional"] == "kanwil"
    assert naming.tokens["overseas"] == "{code}" and naming.tokens["regional"] == "{region}"


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(ValidationError):
        PolicySettings.model_validate({"naming": {"patern": {}}})
