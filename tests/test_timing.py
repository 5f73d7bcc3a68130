"""Timing core: windows, posting hours, blackouts, stagger and per-account rules.

Property tests check the invariants over random units, zones, windows, blackouts and caps;
plain tests pin the named cases (Nyepi, cuti bersama, quiet periods, priority, fixed times).
The oracles below use the stdlib (zoneinfo, fold=0), not the code under test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter, defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amplifier.timing import (
    Blackout,
    BlackoutKind,
    Fixed,
    Hours,
    LocalWindow,
    RelativeWindow,
    Request,
    Rules,
    Timing,
    UnitInfo,
    assign,
    build_blackouts,
    covering,
    embargoes_at,
    national_holidays,
)

UTC = dt.UTC
ZONES = [
    "Asia/Jakarta",
    "Asia/Makassar",
    "Asia/Jayapura",
    "Europe/Amsterdam",
    "Australia/Sydney",
    "America/New_York",
]
REGIONS = ["Bali", "Jawa Barat", "Papua"]
KINDS = ["central", "regional", "service", "overseas"]
PLATFORMS = ["x", "instagram"]
CAMPAIGNS = ["alpha", "beta", "gamma"]
BASES = [  # Nyepi, DST changes, cuti bersama, an ordinary week
    dt.datetime(2027, 3, 7, 12, tzinfo=UTC),
    dt.datetime(2027, 3, 27, 12, tzinfo=UTC),
    dt.datetime(2027, 10, 30, 12, tzinfo=UTC),
    dt.datetime(2027, 10, 2, 0, tzinfo=UTC),
    dt.datetime(2027, 4, 3, 0, tzinfo=UTC),
    dt.datetime(2027, 3, 13, 12, tzinfo=UTC),
    dt.datetime(2027, 11, 6, 12, tzinfo=UTC),
    dt.datetime(2027, 12, 23, 0, tzinfo=UTC),
    dt.datetime(2027, 6, 14, 0, tzinfo=UTC),
]
HOLIDAYS = build_blackouts([2026, 2027, 2028])
MINUTE = dt.timedelta(minutes=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def instant(day: dt.date, minute: int, zone: str) -> dt.datetime:
    """Oracle: a local wall time by the documented rule, with the stdlib (fold=0 moves a
    nonexistent time forward by the gap and takes the first of two)."""
    day = day + dt.timedelta(days=minute // 1440)
    minute %= 1440
    local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    return local.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


def local_day(moment: dt.datetime, zone: str) -> dt.date:
    return moment.astimezone(ZoneInfo(zone)).date()


# --- strategies --------------------------------------------------------------------------


@st.composite
def hours(draw: st.DrawFn) -> Hours:
    start = draw(st.integers(0, 40)) * 30
    end = draw(st.integers(start // 30 + 2, 48)) * 30
    return Hours(start, end)


@st.composite
def units(draw: st.DrawFn) -> list[UnitInfo]:
    count = draw(st.integers(1, 7))
    out: list[UnitInfo] = []
    for i in range(count):
        parent = draw(st.sampled_from([None, *range(i)])) if i else None
        ancestors = () if parent is None else (out[parent].code, *out[parent].ancestors)
        out.append(
            UnitInfo(
                f"U{i}",
                draw(st.sampled_from(ZONES)),
                kind=draw(st.sampled_from(KINDS)),
                region=draw(st.sampled_from(REGIONS)),
                ancestors=ancestors,
                hours=draw(st.sampled_from([Hours(420, 1260), Hours(0, 1440)]) | hours()),
            )
        )
    return out


@st.composite
def windows(draw: st.DrawFn) -> RelativeWindow | LocalWindow:
    if draw(st.booleans()):
        start = draw(st.integers(0, 180))
        length = draw(st.integers(1, 8) | st.integers(1, 3 * 1440))  # crowded or roomy
        return RelativeWindow(start * MINUTE, (start + length) * MINUTE)
    spread = draw(st.integers(1, 8) | st.integers(1, 1440))
    return LocalWindow(draw(st.integers(0, 95)) * 15, spread * MINUTE)


@st.composite
def scopes(draw: st.DrawFn, codes: list[str]) -> dict[str, Any]:
    return draw(
        st.sampled_from(
            [
                {},
                {"regions": ["Bali"]},
                {"timezones": [draw(st.sampled_from(ZONES))]},
                {"kinds": [draw(st.sampled_from(KINDS))]},
                {"subtrees": [draw(st.sampled_from(codes))]},
                {"units": [draw(st.sampled_from(codes))]},
                {"platforms": ["x"]},
                {"exclude": [draw(st.sampled_from(codes))]},
            ]
        )
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    unit_list = draw(units())
    codes = [u.code for u in unit_list]
    accounts = []
    for u in unit_list:
        for platform in draw(st.lists(st.sampled_from(PLATFORMS), min_size=1, unique=True)):
            accounts.append((f"{platform}:{u.code.lower()}", platform, u))
    base = draw(st.sampled_from(BASES))
    posts = []
    for p in range(draw(st.integers(1, 4))):
        posts.append(
            (
                f"{draw(st.sampled_from(CAMPAIGNS))}/post-{p}",
                base + draw(st.integers(0, 2 * 1440)) * MINUTE,
                draw(windows()),
                draw(st.integers(0, 3)),
                draw(st.booleans()),
            )
        )
    skip = draw(st.integers(2, 6))  # leave some accounts out of some posts
    requests = [
        Request(
            f"{post}@{account}",
            post,
            account,
            platform,
            unit,
            central,
            campaign=post.split("/")[0],
            priority=priority,
            window=window,
            avoid_holidays=avoid,
        )
        for p, (post, central, window, priority, avoid) in enumerate(posts)
        for i, (account, platform, unit) in enumerate(accounts)
        if (i + p) % skip
    ]
    blackouts = []
    for i in range(draw(st.integers(0, 3))):
        start = base + draw(st.integers(-600, 3 * 1440)) * MINUTE
        campaigns = draw(st.none() | st.lists(st.sampled_from(CAMPAIGNS), min_size=1))
        blackouts.append(
            Blackout.absolute(
                f"b{i}",
                f"blackout {i}",
                start,
                start + draw(st.integers(30, 2 * 1440)) * MINUTE,
                kind=draw(st.sampled_from(["custom", "quiet", "embargo"])),
                scope=draw(scopes(codes)),
                campaigns=campaigns,
            )
        )
    fixed = [
        Fixed(account, base + draw(st.integers(0, 3 * 1440)) * MINUTE, platform, f"fixed {i}")
        for i, (account, platform, _) in enumerate(
            draw(st.lists(st.sampled_from(accounts), max_size=5))
        )
    ]
    rules = Rules(
        draw(st.integers(0, 180)) * MINUTE,
        draw(st.none() | st.integers(1, 4)),
        draw(st.sampled_from([1, 5, 15])) * MINUTE,
    )
    return {"requests": requests, "blackouts": blackouts, "fixed": fixed, "rules": rules}


def run(s: dict[str, Any], requests: list[Request] | None = None) -> dict[str, Timing]:
    return assign(requests or s["requests"], every_blackout(s), s["rules"], s["fixed"])


def every_blackout(s: dict[str, Any]) -> list[Blackout]:
    """The drawn blackouts after the holidays (kept out of the drawn data for short reprs)."""
    return [*HOLIDAYS, *s["blackouts"]]


def snapshot(timings: dict[str, Timing]) -> dict[str, Any]:
    return {
        k: (t.status, t.publish_at, t.reasons, [str(s) for s in t.steps])
        for k, t in sorted(timings.items())
    }


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- properties --------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_times_respect_central_time_hours_grid_and_window(s: dict[str, Any]) -> None:
    timings = run(s)
    step = s["rules"].step
    for r in s["requests"]:
        t = timings[r.key]
        assert t.status in ("scheduled", "unscheduled")
        if t.status == "unscheduled":
            assert t.publish_at is None and t.reasons
            continue
        p = t.publish_at
        assert p is not None and p.tzinfo is not None and p.utcoffset() == dt.timedelta(0)
        assert p >= r.central_at
        assert (p - EPOCH) % step == dt.timedelta(0)
        day = local_day(p, r.unit.zone)
        assert instant(day, r.unit.hours.start, r.unit.zone) <= p
        assert p < instant(day, r.unit.hours.end, r.unit.zone)
        if isinstance(r.window, RelativeWindow):
            assert r.central_at + r.window.start <= p < r.central_at + r.window.end


@PROPERTY
@given(scenarios())
def test_no_variant_inside_a_blackout(s: dict[str, Any]) -> None:
    timings = run(s)
    public = {h.date for h in national_holidays([2026, 2027, 2028])}
    for r in s["requests"]:
        p = timings[r.key].publish_at
        if p is None:
            continue
        hit = covering(
            every_blackout(s),
            r.unit,
            r.campaign,
            p,
            platform=r.platform,
            avoid_holidays=r.avoid_holidays,
        )
        assert hit == [], (r.key, p, [str(b) for b in hit])
        if r.avoid_holidays:  # independent of the calendar module: the package's dates
            assert local_day(p, r.unit.zone) not in public
        if r.unit.region == "Bali":  # Nyepi 2027: 06:00-06:00 local
            nyepi = dt.date(2027, 3, 8)
            assert not (instant(nyepi, 360, r.unit.zone) <= p < instant(nyepi, 1800, r.unit.zone))
        for b in s["blackouts"]:
            if b.is_local or not b.applies(r.unit, r.campaign, platform=r.platform):
                continue
            assert b.starts is not None and b.ends is not None
            assert not b.starts <= p < b.ends


@PROPERTY
@given(scenarios())
def test_gap_and_daily_cap_hold_per_account(s: dict[str, Any]) -> None:
    timings = run(s)
    rules: Rules = s["rules"]
    zone_of = {r.account: r.unit.zone for r in s["requests"]}
    planned: dict[str, list[dt.datetime]] = defaultdict(list)
    for r in s["requests"]:
        p = timings[r.key].publish_at
        if p is not None:
            planned[r.account].append(p)
    fixed: dict[str, list[dt.datetime]] = defaultdict(list)
    for f in s["fixed"]:
        fixed[f.account].append(f.at)
    for account, times in planned.items():
        zone = zone_of[account]
        every = sorted([(p, "planned") for p in times] + [(f, "fixed") for f in fixed[account]])
        for (a, ka), (b, kb) in itertools.pairwise(every):
            if "planned" in (ka, kb):
                assert b - a >= rules.min_gap, (account, a, b)
        if rules.max_per_day is not None:
            days = Counter(local_day(p, zone) for p, _ in every)
            for p in times:
                assert days[local_day(p, zone)] <= rules.max_per_day


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_same_input_same_output_in_any_order(s: dict[str, Any], rnd: random.Random) -> None:
    first = snapshot(run(s))
    assert snapshot(run(s)) == first
    shuffled = list(s["requests"])
    rnd.shuffle(shuffled)
    fixed = list(s["fixed"])
    rnd.shuffle(fixed)
    blackouts = every_blackout(s)
    rnd.shuffle(blackouts)
    again = assign(shuffled, blackouts, s["rules"], fixed)
    assert snapshot(again) == first
    assert list(run(s, shuffled)) == [r.key for r in shuffled]


@PROPERTY
@given(scenarios())
def test_each_platform_timed_apart_gives_the_same_times(s: dict[str, Any]) -> None:
    """What lets a plan time its platforms in different processes (``Shard``): no
    platform's times depend on another platform's requests or fixed times."""
    whole = snapshot(run(s))
    apart: dict[str, Timing] = {}
    for platform in PLATFORMS:
        requests = [r for r in s["requests"] if r.platform == platform]
        fixed = [f for f in s["fixed"] if f.platform == platform]
        apart.update(assign(requests, every_blackout(s), s["rules"], fixed))
    assert snapshot(apart) == whole


@PROPERTY
@given(scenarios())
def test_a_shared_minute_is_explained(s: dict[str, Any]) -> None:
    """Two accounts share a platform minute only when one of them found no free one."""
    timings = run(s)
    step = s["rules"].step
    by_slot: dict[tuple[str, dt.datetime], list[str]] = defaultdict(list)
    for f in s["fixed"]:
        slot = f.at - (f.at - EPOCH) % step
        by_slot[(f.platform or "", slot)].append("fixed")
    for r in s["requests"]:
        p = timings[r.key].publish_at
        if p is not None:
            by_slot[(r.platform, p)].append(r.key)
    for keys in by_slot.values():
        planned = [k for k in keys if k != "fixed"]
        shared = [k for k in planned if any(st.kind == "shared" for st in timings[k].steps)]
        # with a fixed post there, every planned one shares; else all but the first
        assert len(shared) >= len(planned) - (0 if "fixed" in keys else 1), keys


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(ZONES), min_size=1, max_size=12),
    st.integers(1, 3),
    st.integers(0, 30 * 1440),
)
def test_where_the_window_has_room_no_two_accounts_share_a_minute(
    zones: list[str], posts: int, offset: int
) -> None:
    central = dt.datetime(2027, 1, 4, tzinfo=UTC) + offset * MINUTE
    unit_list = [UnitInfo(f"U{i}", z) for i, z in enumerate(zones)]
    requests = [
        Request(
            f"p{p}@{platform}:{u.code}",
            f"c/p{p}",
            f"{platform}:{u.code}",
            platform,
            u,
            central,
            window=RelativeWindow(dt.timedelta(0), dt.timedelta(days=2)),
        )
        for p in range(posts)
        for u in unit_list
        for platform in PLATFORMS
    ]
    timings = assign(requests, [], Rules(dt.timedelta(0), None, MINUTE))
    seen = Counter((r.platform, timings[r.key].publish_at) for r in requests)
    assert all(t.status == "scheduled" for t in timings.values())
    assert max(seen.values()) == 1


# --- plain cases ---------------------------------------------------------------------------

BALI = UnitInfo("KANWIL-BALI", "Asia/Makassar", "regional", "Bali", ("PUSAT",))
JAKARTA = UnitInfo("PUSAT", "Asia/Jakarta", "central", "DKI Jakarta")
JAYAPURA = UnitInfo("KANWIL-PAPUA", "Asia/Jayapura", "regional", "Papua", ("PUSAT",))
ALL_DAY = Hours(0, 1440)


def request(
    key: str,
    unit: UnitInfo,
    central: dt.datetime,
    window: RelativeWindow | LocalWindow,
    *,
    campaign: str = "alpha",
    account: str | None = None,
    platform: str = "x",
    priority: int = 0,
    avoid_holidays: bool = True,
) -> Request:
    return Request(
        key,
        f"{campaign}/{key}",
        account or f"{platform}:{unit.code.lower()}",
        platform,
        unit,
        central,
        campaign=campaign,
        priority=priority,
        window=window,
        avoid_holidays=avoid_holidays,
        label=f"{campaign}/{key}",
    )


def relative(start: str | int, end: int) -> RelativeWindow:
    return RelativeWindow(int(start) * MINUTE, end * MINUTE)


def test_nyepi_blocks_bali_from_06_to_06_local_but_not_java() -> None:
    bali, java = (
        UnitInfo(u.code, u.zone, u.kind, u.region, u.ancestors, hours=ALL_DAY)
        for u in (BALI, JAKARTA)
    )
    central = at("2027-03-08T05:00:00+08:00")  # 05:00 WITA on the Day of Silence
    window = relative(0, 26 * 60)  # to 07:00 WITA the next day
    reqs = [
        request(
            f"{u.code}-{i}", u, central, window, account=f"x:{u.code}-{i}", avoid_holidays=False
        )
        for u in (bali, java)
        for i in range(40)
    ]
    timings = assign(reqs, HOLIDAYS, Rules(dt.timedelta(0), None))
    start, end = at("2027-03-08T06:00:00+08:00"), at("2027-03-09T06:00:00+08:00")
    bali_times = [timings[r.key].publish_at for r in reqs if r.unit is bali]
    java_times = [timings[r.key].publish_at for r in reqs if r.unit is java]
    assert all(p is not None and not start <= p < end for p in bali_times)
    assert any(p is not None and start <= p < end for p in java_times)
    steps = timings[reqs[0].key].steps
    assert any(s.kind == "blackout" and s.name == "Hari Suci Nyepi" for s in steps)
    nyepi = [b for b in HOLIDAYS if b.kind is BlackoutKind.NYEPI]
    hit = covering(nyepi, bali, "alpha", start)
    assert [b.local_day for b in hit] == [dt.date(2027, 3, 8)]
    assert covering(nyepi, bali, "alpha", end - MINUTE) == hit
    assert covering(nyepi, bali, "alpha", start - MINUTE) == []
    assert covering(nyepi, bali, "alpha", end) == []
    assert covering(nyepi, java, "alpha", at("2027-03-08T12:00:00+07:00")) == []


def test_nyepi_fully_inside_the_window_leaves_a_bali_unit_unscheduled() -> None:
    central = at("2027-03-08T08:00:00+08:00")
    timings = assign(
        [request("b", BALI, central, relative(0, 120), avoid_holidays=False)], HOLIDAYS
    )
    t = timings["b"]
    assert t.status == "unscheduled" and t.publish_at is None
    assert "Hari Suci Nyepi" in t.reasons[0]


def test_cuti_bersama_is_skipped_only_by_a_holiday_avoiding_campaign() -> None:
    # 2027-02-05 is Cuti Bersama Tahun Baru Imlek (a Friday)
    assert any(h.joint and h.date == dt.date(2027, 2, 5) for h in national_holidays([2027]))
    central = at("2027-02-04T21:30:00+07:00")
    one_day = relative(0, 24 * 60)  # only 2027-02-05 07:00-21:00 is in posting hours
    timings = assign(
        [
            request("avoid", JAKARTA, central, one_day, campaign="alpha"),
            request(
                "use",
                JAKARTA,
                central,
                one_day,
                campaign="beta",
                account="x:other",
                avoid_holidays=False,
            ),
        ],
        HOLIDAYS,
    )
    assert timings["avoid"].status == "unscheduled"
    assert "Cuti Bersama Tahun Baru Imlek" in timings["avoid"].reasons[0]
    use = timings["use"].publish_at
    assert use is not None and local_day(use, "Asia/Jakarta") == dt.date(2027, 2, 5)

    three_days = relative(0, 3 * 24 * 60)  # 05 cuti bersama, 06 Imlek, 07 an ordinary Sunday
    later = assign([request("avoid", JAKARTA, central, three_days)], HOLIDAYS)["avoid"]
    assert later.publish_at is not None
    assert local_day(later.publish_at, "Asia/Jakarta") == dt.date(2027, 2, 7)
    names = [s.name for s in later.steps if s.kind == "blackout"]
    assert names == ["Cuti Bersama Tahun Baru Imlek", "Tahun Baru Imlek"]


def test_a_quiet_period_that_lists_one_campaign_blocks_only_that_one() -> None:
    quiet = Blackout.absolute(
        "pilkada-2027",
        "Masa tenang Pilkada",
        at("2027-06-20T00:00:00+07:00"),
        at("2027-06-23T00:00:00+07:00"),
        kind="quiet",
        campaigns=["sosialisasi"],
    )
    central = at("2027-06-21T09:00:00+07:00")
    timings = assign(
        [
            request("s", JAKARTA, central, relative(30, 240), campaign="sosialisasi"),
            request("o", JAKARTA, central, relative(30, 240), campaign="layanan", account="x:two"),
        ],
        [quiet],
    )
    assert timings["s"].status == "unscheduled"
    assert "Masa tenang Pilkada" in timings["s"].reasons[0]
    assert timings["o"].status == "scheduled"


def test_scoped_blackout_blocks_only_its_region() -> None:
    blackout = Blackout.absolute(
        "berkabung",
        "Masa berkabung",
        at("2027-06-21T00:00:00+07:00"),
        at("2027-06-22T00:00:00+07:00"),
        scope={"regions": ["Papua"]},
    )
    central = at("2027-06-21T09:00:00+07:00")
    timings = assign(
        [
            request("papua", JAYAPURA, central, relative(0, 240)),
            request("jkt", JAKARTA, central, relative(0, 240)),
        ],
        [blackout],
    )
    assert timings["papua"].status == "unscheduled"
    assert timings["jkt"].status == "scheduled"


def test_an_embargo_is_a_blackout_and_can_be_looked_up_for_holding() -> None:
    embargo = Blackout.absolute(
        "emb-1",
        "Embargo rilis",
        at("2027-06-21T09:00:00+07:00"),
        at("2027-06-21T12:00:00+07:00"),
        kind=BlackoutKind.EMBARGO,
    )
    central = at("2027-06-21T09:00:00+07:00")
    t = assign([request("v", JAKARTA, central, relative(0, 240))], [embargo])["v"]
    assert t.publish_at is not None and t.publish_at >= at("2027-06-21T12:00:00+07:00")
    assert [s.name for s in t.steps if s.kind == "embargo"] == ["Embargo rilis"]
    held = embargoes_at([*HOLIDAYS, embargo], JAKARTA, "alpha", at("2027-06-21T10:00:00+07:00"))
    assert held == [embargo]
    assert embargoes_at([embargo], JAKARTA, "alpha", at("2027-06-21T12:00:00+07:00")) == []


def test_same_local_hour_takes_the_first_local_day_whose_window_ends_after_central() -> None:
    central = at("2027-06-21T10:00:00+07:00")  # 12:00 WIT in Jayapura
    window = LocalWindow(9 * 60, dt.timedelta(hours=2))
    timings = assign(
        [request("jkt", JAKARTA, central, window), request("jpr", JAYAPURA, central, window)]
    )
    jkt, jpr = timings["jkt"].publish_at, timings["jpr"].publish_at
    assert jkt is not None and jpr is not None
    assert central <= jkt < at("2027-06-21T11:00:00+07:00")
    assert at("2027-06-22T09:00:00+09:00") <= jpr < at("2027-06-22T11:00:00+09:00")
    assert "window" in str(timings["jpr"].steps[0])


def test_stagger_spreads_accounts_and_is_stable() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    reqs = [
        request(f"v{i}", JAKARTA, central, relative(30, 240), account=f"x:acct{i}")
        for i in range(50)
    ]
    first = assign(reqs)
    times = [first[r.key].publish_at for r in reqs]
    assert len(set(times)) == 50
    assert min(t for t in times if t) < central + 90 * MINUTE < max(t for t in times if t)
    assert assign(list(reversed(reqs))) == first


def test_a_full_window_shares_minutes_and_says_so() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    reqs = [
        request(f"v{i}", JAKARTA, central, relative(0, 2), account=f"x:acct{i}") for i in range(3)
    ]
    timings = assign(reqs, rules=Rules(dt.timedelta(0), None))
    assert len({timings[r.key].publish_at for r in reqs}) == 2
    shared = [k for k, t in timings.items() if any(s.kind == "shared" for s in t.steps)]
    assert len(shared) == 1


def test_priority_decides_the_lower_one_moves_then_is_unscheduled() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    account = "x:kanwil"
    high = request(
        "high", JAKARTA, central, relative(0, 1), campaign="utama", account=account, priority=10
    )
    rules = Rules(dt.timedelta(minutes=45), None)
    # the lower one's window is 0-46m: only minute 45 keeps the gap to the higher one
    low = request(
        "low", JAKARTA, central, relative(0, 46), campaign="biasa", account=account, priority=1
    )
    for order in ([high, low], [low, high]):
        timings = assign(order, rules=rules)
        assert timings["high"].publish_at == central
        assert timings["low"].publish_at == central + 45 * MINUTE
    gap_steps = [s for s in timings["low"].steps if s.kind == "gap"]
    assert gap_steps and gap_steps[0].other == "utama/high"
    assert not [s for s in timings["high"].steps if s.kind == "gap"]

    squeezed = request(
        "low", JAKARTA, central, relative(0, 40), campaign="biasa", account=account, priority=1
    )
    timings = assign([squeezed, high], rules=rules)
    assert timings["high"].status == "scheduled"
    low_t = timings["low"]
    assert low_t.status == "unscheduled" and low_t.publish_at is None
    assert "utama/high" in low_t.reasons[0] and "45m" in low_t.reasons[0]
    assert any(s.kind == "unscheduled" for s in low_t.steps)


def test_ties_go_to_the_earlier_central_time_then_the_key() -> None:
    rules = Rules(dt.timedelta(minutes=45), None)
    c1, c2 = at("2027-06-21T09:00:00+07:00"), at("2027-06-21T09:10:00+07:00")
    early = request("b-early", JAKARTA, c1, relative(0, 60), account="x:a")
    late = request("a-late", JAKARTA, c2, relative(0, 1), account="x:a")
    timings = assign([late, early], rules=rules)
    # same priority: the earlier central post keeps its spread slot, the later one loses
    assert timings["b-early"].status == "scheduled"
    assert not [s for s in timings["b-early"].steps if s.kind == "gap"]
    same = [request(k, JAKARTA, c1, relative(0, 1), account="x:a") for k in ("k2", "k1")]
    timings = assign(same, rules=rules)
    assert timings["k1"].status == "scheduled" and timings["k2"].status == "unscheduled"


def test_fixed_times_count_for_gap_and_daily_cap() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    fixed = [Fixed("x:kanwil", central + 5 * MINUTE, "x", "published hari-pajak/intro")]
    r = request("v", JAKARTA, central, relative(0, 30), account="x:kanwil")
    t = assign([r], rules=Rules(dt.timedelta(minutes=45), None), fixed=fixed)["v"]
    assert t.status == "unscheduled" and "published hari-pajak/intro" in t.reasons[0]

    # cap 1 a local day: a fixed post at 08:00 WIB fills the 21st; the variant moves on
    fixed = [Fixed("x:kanwil", at("2027-06-21T08:00:00+07:00"), "x", "scheduled other/post")]
    # the window: the 21st 09:00-21:00 and the 22nd 07:00-07:05 (WIB)
    r = request("v", JAKARTA, central, relative(0, 22 * 60 + 5), account="x:kanwil")
    t = assign([r], rules=Rules(dt.timedelta(0), 1), fixed=fixed)["v"]
    assert t.publish_at is not None
    assert at("2027-06-22T07:00:00+07:00") <= t.publish_at < at("2027-06-22T07:05:00+07:00")
    cap = [s for s in t.steps if s.kind == "cap"]
    assert cap and "scheduled other/post" in (cap[0].other or "")


def test_fixed_times_take_their_platform_minute() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    fixed = [Fixed("x:someone-else", central, "x", "published")]
    t = assign(
        [request("v", JAKARTA, central, relative(0, 2))],
        rules=Rules(dt.timedelta(0), None),
        fixed=fixed,
    )["v"]
    assert t.publish_at == central + MINUTE


def test_outside_posting_hours_is_unscheduled_with_the_reason() -> None:
    service = UnitInfo("KL-1", "Asia/Jakarta", "service", hours=Hours(8 * 60, 16 * 60))
    central = at("2027-06-21T17:00:00+07:00")
    t = assign([request("v", service, central, relative(0, 120))])["v"]
    assert t.status == "unscheduled" and "08:00-16:00" in t.reasons[0]


def test_not_before_moves_past_windows_forward() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    now = at("2027-06-21T11:00:00+07:00")
    t = assign([request("v", JAKARTA, central, relative(0, 240))], not_before=now)["v"]
    assert t.publish_at is not None and t.publish_at >= now


def test_steps_explain_window_hours_stagger_and_placement() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    t = assign([request("v", JAKARTA, central, relative(30, 240))])["v"]
    kinds = [s.kind for s in t.steps]
    assert kinds == ["window", "hours", "stagger", "placed"]
    text = [str(s) for s in t.steps]
    assert "WIB" in text[0] and "UTC" in text[0] and "+30m to +4h" in text[0]
    assert text[1].startswith("hours: posting hours 07:00-21:00 (Asia/Jakarta)")
    assert t.as_dict()["status"] == "scheduled"


def test_duplicate_keys_are_refused() -> None:
    central = at("2027-06-21T09:00:00+07:00")
    r = request("v", JAKARTA, central, relative(0, 60))
    with pytest.raises(ValueError, match="unique"):
        assign([r, r])
