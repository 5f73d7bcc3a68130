"""Blackouts from data: the holidays package, workspace holidays, Nyepi, quiet periods,
custom blackouts, embargoes; and the Targets-shaped scopes they apply to."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import holidays
import pytest

from amplifier.timing import (
    Blackout,
    BlackoutKind,
    Scope,
    UnitInfo,
    blocks,
    build_blackouts,
    holiday_blackouts,
    national_holidays,
    quiet_blackouts,
    span_blackouts,
)
from amplifier.timing.config import HolidayEntry, QuietPeriodSpec, ScopeSpec

BALI = UnitInfo("KANWIL-BALI", "Asia/Makassar", "regional", "Bali", ("PUSAT",), ("pariwisata",))
BULELENG = UnitInfo("KL-BULELENG", "Asia/Makassar", "service", "Bali", ("KANWIL-BALI", "PUSAT"))
JAKARTA = UnitInfo("PUSAT", "Asia/Jakarta", "central", "DKI Jakarta")
PAPUA = UnitInfo("KANWIL-PAPUA", "Asia/Jayapura", "regional", "Papua", ("PUSAT",))
HAGUE = UnitInfo("KBRI-DH", "Europe/Amsterdam", "overseas", None, ("PUSAT",))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def test_holidays_come_from_the_package_with_indonesian_names_and_joint_days() -> None:
    got = national_holidays([2027])
    package = holidays.country_holidays(
        "ID", years=2027, categories=("public", "government"), language="id"
    )
    assert {h.date for h in got} == set(package)
    by_date = {(h.date, h.name): h for h in got}
    assert by_date[(dt.date(2027, 8, 17), "Hari Kemerdekaan Republik Indonesia")].joint is False
    imlek = by_date[(dt.date(2027, 2, 5), "Cuti Bersama Tahun Baru Imlek")]
    assert imlek.joint and imlek.english == "Lunar New Year Joint Holiday"
    english = national_holidays([2027], language="en_US")
    assert any(h.name == "Independence Day" for h in english)
    with pytest.raises(ValueError, match="language"):
        national_holidays([2027], language="fr")


@pytest.mark.parametrize("year", [2024, 2026, 2027, 2030])
def test_nyepi_follows_the_package_day_of_silence(year: int) -> None:
    package = holidays.country_holidays("ID", years=year, language="en_US")
    silence = package.get_named("Day of Silence", lookup="exact")
    assert len(silence) == 1
    nyepi = [b for b in holiday_blackouts([year]) if b.kind is BlackoutKind.NYEPI]
    assert [b.local_day for b in nyepi] == silence
    assert nyepi[0].name == "Hari Suci Nyepi"


def test_nyepi_2027_blocks_bali_06_to_06_local_only() -> None:
    nyepi = next(
        b
        for b in holiday_blackouts([2027])
        if b.kind is BlackoutKind.NYEPI and b.local_day == dt.date(2027, 3, 8)
    )
    span = [(at("2027-03-08T06:00:00+08:00"), at("2027-03-09T06:00:00+08:00"))]
    assert blocks(nyepi, BALI, "any") == span
    assert blocks(nyepi, BULELENG, "any", avoid_holidays=False) == span  # whatever the campaign
    assert blocks(nyepi, JAKARTA, "any") == []
    assert blocks(nyepi, PAPUA, "any") == []


def test_a_holiday_blacks_out_the_local_day_in_each_zone() -> None:
    day = next(b for b in holiday_blackouts([2027]) if b.local_day == dt.date(2027, 8, 17))
    assert blocks(day, JAKARTA, "c") == [
        (at("2027-08-17T00:00:00+07:00"), at("2027-08-18T00:00:00+07:00"))
    ]
    assert blocks(day, PAPUA, "c") == [
        (at("2027-08-17T00:00:00+09:00"), at("2027-08-18T00:00:00+09:00"))
    ]
    assert blocks(day, HAGUE, "c") == [
        (at("2027-08-17T00:00:00+02:00"), at("2027-08-18T00:00:00+02:00"))
    ]
    assert blocks(day, JAKARTA, "c", avoid_holidays=False) == []


def test_workspace_can_remove_and_add_holidays() -> None:
    entries = [
        HolidayEntry(date=dt.date(2027, 12, 24), remove=True),
        HolidayEntry(date=dt.date(2027, 3, 9), name="Eid al-Fitr Joint Holiday", remove=True),
        HolidayEntry(date=dt.date(2027, 3, 10), name="no such name", remove=True),
        HolidayEntry(
            date=dt.date(2027, 8, 14),
            name="Hari Jadi Provinsi Bali",
            scope=ScopeSpec(regions=["Bali"]),
        ),
    ]
    got = holiday_blackouts([2027], entries)
    days = {b.local_day for b in got}
    assert dt.date(2027, 12, 24) not in days
    assert dt.date(2027, 3, 9) not in days
    assert dt.date(2027, 3, 10) in days
    added = next(b for b in got if b.local_day == dt.date(2027, 8, 14))
    assert added.name == "Hari Jadi Provinsi Bali" and added.kind is BlackoutKind.HOLIDAY
    assert blocks(added, BALI, "c") and not blocks(added, JAKARTA, "c")


def test_a_workspace_day_of_silence_moves_nyepi() -> None:
    entries = [
        {"date": dt.date(2027, 3, 8), "remove": True},
        {"date": dt.date(2027, 3, 9), "name": "Hari Suci Nyepi", "day_of_silence": True},
    ]
    nyepi = [b for b in holiday_blackouts([2027], entries) if b.kind is BlackoutKind.NYEPI]
    assert [b.local_day for b in nyepi] == [dt.date(2027, 3, 9)]
    assert [b for b in holiday_blackouts([2027], nyepi_regions=[]) if b.kind == "nyepi"] == []


def test_quiet_periods_block_listed_campaigns_or_all() -> None:
    listed, every = quiet_blackouts(
        [
            QuietPeriodSpec(
                key="pilkada",
                name="Masa tenang Pilkada",
                starts=at("2027-11-24T00:00:00+07:00"),
                ends=at("2027-11-27T00:00:00+07:00"),
                campaigns=["sosialisasi-pemilu"],
                scope=ScopeSpec(regions=["Papua"]),
            ),
            {
                "key": "pemilu",
                "name": "Masa tenang Pemilu",
                "starts": at("2027-12-01T00:00:00+07:00"),
                "ends": at("2027-12-02T00:00:00+07:00"),
            },
        ]
    )
    assert listed.kind is BlackoutKind.QUIET
    assert blocks(listed, PAPUA, "sosialisasi-pemilu")
    assert not blocks(listed, PAPUA, "hari-pajak")
    assert not blocks(listed, JAKARTA, "sosialisasi-pemilu")
    assert every.campaigns is None and blocks(every, JAKARTA, "hari-pajak")


def test_custom_blackouts_and_embargo_rows() -> None:
    row_data = SimpleNamespace(  # shaped like amplifier.models.Blackout
        key="emb-1",
        name="Embargo",
        kind="embargo",
        starts_at=at("2027-06-01T00:00:00+07:00"),
        ends_at=at("2027-06-02T00:00:00+07:00"),
        scope={"kinds": ["overseas"]},
        campaigns=[],
        reason="menunggu rilis resmi",
    )
    (row,) = span_blackouts([row_data])
    assert row.kind is BlackoutKind.EMBARGO and row.campaigns is None
    assert blocks(row, HAGUE, "x") and not blocks(row, JAKARTA, "x")
    everything = build_blackouts([2027], embargoes=[row_data], blackouts=[])
    assert everything[-1].kind is BlackoutKind.EMBARGO
    with pytest.raises(ValueError, match="not after"):
        Blackout.absolute("bad", "bad", row_data.ends_at, row_data.starts_at)


def test_scopes_read_targets_keys() -> None:
    assert Scope.of(None).everywhere and Scope.of({}).everywhere
    region = Scope.of({"regions": ["Bali"]})
    assert region.matches(BALI) and not region.matches(JAKARTA)
    assert Scope.of({"timezones": ["Asia/Jayapura"]}).matches(PAPUA)
    assert Scope.of({"kinds": ["overseas"]}).matches(HAGUE)
    subtree = Scope.of({"subtrees": ["KANWIL-BALI"]})
    assert subtree.matches(BALI) and subtree.matches(BULELENG) and not subtree.matches(PAPUA)
    assert Scope.of({"exclude": ["KANWIL-BALI"]}).matches(JAKARTA)
    assert not Scope.of({"exclude": ["KANWIL-BALI"]}).matches(BULELENG)
    assert Scope.of({"units": ["PUSAT"]}).matches(JAKARTA)
    assert not Scope.of({"units": ["PUSAT"]}).matches(BALI)
    both = Scope.of({"regions": ["Papua"], "units": ["PUSAT"]})
    assert both.matches(JAKARTA) and both.matches(PAPUA) and not both.matches(BALI)
    narrowed = Scope.of({"regions": ["Bali"], "kinds": ["service"]})
    assert narrowed.matches(BULELENG) and not narrowed.matches(BALI)
    assert Scope.of({"tags": ["pariwisata"]}).matches(BALI)
    x_only = Scope.of({"platforms": ["x"]})
    assert x_only.matches(BALI, "x") and not x_only.matches(BALI, "instagram")
    with pytest.raises(ValueError, match="unknown scope key"):
        Scope.of({"region": ["Bali"]})


def test_scope_accepts_a_targets_model() -> None:
    from amplifier.load.schema import Targets
    from amplifier.vocab import UnitKind

    scope = Scope.of(Targets(regions=["Bali"], kinds=[UnitKind.REGIONAL]))
    assert scope.matches(BALI) and not scope.matches(BULELENG)
