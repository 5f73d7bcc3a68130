"""Targeting: selectors narrow, listed units add, exclude removes subtrees, reasons are given."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplifier.models import Account, WorkUnit
from amplifier.targeting import Directory, select_targets, select_units
from amplifier.vocab import AccountMode, Platform, UnitKind

UNITS = [
    # id, code, kind, parent, region, tz, tags
    (1, "PUSAT", UnitKind.CENTRAL, None, "DKI Jakarta", "Asia/Jakarta", []),
    (2, "KANWIL-BALI", UnitKind.REGIONAL, 1, "Bali", "Asia/Makassar", ["pariwisata"]),
    (3, "KL-BULELENG", UnitKind.SERVICE, 2, "Bali", "Asia/Makassar", []),
    (4, "KANWIL-PAPUA", UnitKind.REGIONAL, 1, "Papua", "Asia/Jayapura", ["perbatasan"]),
    (5, "KL-MERAUKE", UnitKind.SERVICE, 4, "Papua Selatan", "Asia/Jayapura", ["perbatasan", "3T"]),
    (6, "KL-OLD", UnitKind.SERVICE, 4, "Papua", "Asia/Jayapura", []),
]


def directory(inactive: tuple[str, ...] = ("KL-OLD",)) -> Directory:
    units = [
        WorkUnit(
            id=i,
            code=c,
            name=c,
            kind=k,
            parent_id=p,
            region=r,
            timezone=tz,
            tags=tags,
            active=c not in inactive,
        )
        for i, c, k, p, r, tz, tags in UNITS
    ]
    accounts = []
    for n, (uid, *_rest) in enumerate(UNITS):
        for m, platform in enumerate((Platform.X, Platform.INSTAGRAM)):
            accounts.append(
                Account(
                    id=n * 10 + m,
                    unit_id=uid,
                    platform=platform,
                    handle=f"h{uid}{platform.value}",
                    handle_key=f"h{uid}{platform.value}",
                    mode=AccountMode.MANUAL,
                )
            )
    return Directory.from_rows(units, accounts)


def codes(d: Directory, targets: dict[str, Any] | None) -> list[str]:
    return sorted(d.units[uid].code for uid in select_units(d, targets))


def test_empty_targets_select_every_active_unit() -> None:
    d = directory()
    assert codes(d, {}) == ["KANWIL-BALI", "KANWIL-PAPUA", "KL-BULELENG", "KL-MERAUKE", "PUSAT"]
    assert select_units(d, None)[1] == ["every active unit"]


def test_selectors_narrow_each_other_values_widen() -> None:
    d = directory()
    assert codes(d, {"kinds": ["regional", "service"], "regions": ["Bali"]}) == [
        "KANWIL-BALI",
        "KL-BULELENG",
    ]
    assert codes(d, {"timezones": ["Asia/Jayapura", "Asia/Makassar"], "kinds": ["service"]}) == [
        "KL-BULELENG",
        "KL-MERAUKE",
    ]
    assert codes(d, {"tags": ["perbatasan"]}) == ["KANWIL-PAPUA", "KL-MERAUKE"]


def test_subtree_listed_units_and_exclusions() -> None:
    d = directory()
    assert codes(d, {"subtrees": ["KANWIL-PAPUA"]}) == ["KANWIL-PAPUA", "KL-MERAUKE"]
    assert codes(d, {"units": ["PUSAT"]}) == ["PUSAT"]
    assert codes(d, {"kinds": ["regional"], "units": ["PUSAT"]}) == [
        "KANWIL-BALI",
        "KANWIL-PAPUA",
        "PUSAT",
    ]
    assert codes(d, {"exclude": ["KANWIL-PAPUA"]}) == ["KANWIL-BALI", "KL-BULELENG", "PUSAT"]


def test_post_targets_narrow_and_platforms_filter_with_reasons() -> None:
    d = directory()
    found = select_targets(
        d,
        {"kinds": ["regional", "service"], "platforms": ["x", "instagram"]},
        {"tags": ["3T"], "platforms": ["x"]},
    )
    assert [(t.unit.code, t.account.platform) for t in found] == [("KL-MERAUKE", "x")]
    assert found[0].reasons == ("kind service", "post: tag 3T", "platform x")


def test_inactive_units_are_never_targeted() -> None:
    d = directory()
    assert "KL-OLD" not in codes(d, {"units": ["KL-OLD"], "subtrees": ["KANWIL-PAPUA"]})


@settings(max_examples=80, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(list(UnitKind)), max_size=2),
    regions=st.lists(st.sampled_from(["Bali", "Papua", "DKI Jakarta"]), max_size=2),
    exclude=st.lists(st.sampled_from([u[1] for u in UNITS]), max_size=2),
)
def test_selection_is_a_subset_and_excluded_subtrees_never_appear(
    kinds: list[UnitKind], regions: list[str], exclude: list[str]
) -> None:
    d = directory()
    targets = {"kinds": [k.value for k in kinds], "regions": regions, "exclude": exclude}
    chosen = set(select_units(d, targets))
    for uid in chosen:
        unit = d.units[uid]
        assert not kinds or unit.kind in kinds
        assert not regions or unit.region in regions
    for code in exclude:
        assert not chosen & d.subtree(code)
    assert chosen <= set(select_units(d, {"exclude": exclude}))


@pytest.mark.parametrize("code", ["NOPE", "KL-OLD"])
def test_unknown_or_inactive_subtree_selects_nothing(code: str) -> None:
    assert codes(directory(), {"subtrees": [code]}) == []


def test_post_platforms_never_widen_the_campaign() -> None:
    d = directory()
    assert select_targets(d, {"platforms": ["x"]}, {"platforms": ["instagram"]}) == []
    assert {t.account.platform for t in select_targets(d, {}, {"platforms": ["instagram"]})} == {
        "instagram"
    }
