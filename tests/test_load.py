"""Loaders: every error names file:line:column and key, says what was expected, all at once."""

from __future__ import annotations

import datetime as dt
import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from amplifier.errors import Problem, WorkspaceError
from amplifier.load import load_calendars, load_workspace
from amplifier.load.source import parse_yaml
from tests.conftest import MINIMAL_ORG, WorkspaceFactory


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(WorkspaceError) as info:
        load_workspace(root)
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_minimal_workspace_loads(make_workspace: WorkspaceFactory) -> None:
    ws = load_workspace(make_workspace())
    assert [u.code for u in ws.org.units] == ["PUSAT", "KANWIL-BALI"]
    assert ws.org.units[1].accounts[0].key == "instagram:kptd.kanwil.bali"


def test_calendars_load_without_the_org(make_workspace: WorkspaceFactory) -> None:
    good = "holidays:\n  - date: 2027-10-15\n    name: Hari Jadi\n"
    root = make_workspace(org="units: [", calendars={"a.yaml": good})
    with pytest.raises(WorkspaceError):
        load_workspace(root)  # the broken org.yaml
    (cal,) = load_calendars(root)
    assert [h.name for h in cal.holidays] == ["Hari Jadi"]
    make_workspace(root=root, calendars={"b.yaml": "holidays:\n  - dte: 2027-10-15\n"})
    with pytest.raises(WorkspaceError) as caught:
        load_calendars(root)
    assert [p.file for p in caught.value.problems] == ["calendars/b.yaml"] * len(
        caught.value.problems
    )


def test_unknown_key_suggests_near_miss(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("    timezone: Asia/Makassar", "    timzone: Asia/Makassar")
    p = only(problems_of(make_workspace(org=org)))
    assert (p.file, p.line, p.column) == ("org.yaml", 18, 5)
    assert p.key == "units[1].timzone"
    assert "unknown key 'timzone' (did you mean 'timezone'?)" in p.message
    assert str(p).startswith("org.yaml:18:5: units[1].timzone: unknown key 'timzone'")


def test_missing_key_is_named(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("    name: Kantor Pusat\n", "")
    p = only(problems_of(make_workspace(org=org)))
    assert p.key == "units[0].name"
    assert p.message == "missing required key 'name'"
    assert (p.line, p.column) == (5, 5)


def test_duplicate_unit_code(make_workspace: WorkspaceFactory) -> None:
    org = (
        MINIMAL_ORG.replace("code: KANWIL-BALI", "code: PUSAT")
        .replace("units: [PUSAT, KANWIL-BALI]", "units: [PUSAT]")
        .replace("parent: PUSAT", "parent: null")
    )
    p = only(problems_of(make_workspace(org=org)))
    assert (p.line, p.key) == (12, "units[1].code")
    assert "duplicate unit code 'PUSAT' (first defined on line 5)" in p.message


def test_unknown_parent_suggests(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("parent: PUSAT", "parent: PUSTA")
    p = only(problems_of(make_workspace(org=org)))
    assert (p.file, p.line, p.key) == ("org.yaml", 15, "units[1].parent")
    assert p.message == "unknown parent unit 'PUSTA' (did you mean 'PUSAT'?)"


def test_cycle_in_unit_tree(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("    kind: central\n", "    kind: central\n    parent: KANWIL-BALI\n")
    p = only(problems_of(make_workspace(org=org)))
    assert p.key == "units[0].parent"
    assert p.line == 8
    assert "cycle in the unit tree: PUSAT → KANWIL-BALI → PUSAT" in p.message


def test_invalid_timezone(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("Asia/Makassar", "Asia/Makasar")
    p = only(problems_of(make_workspace(org=org)))
    assert (p.line, p.column, p.key) == (18, 15, "units[1].timezone")
    assert "unknown IANA timezone 'Asia/Makasar' (did you mean 'Asia/Makassar'?)" in p.message


def test_invalid_date(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("valid_until: 2027-12-31", "valid_until: 2027-02-30")
    p = only(problems_of(make_workspace(org=org)))
    assert (p.line, p.key) == (29, "admins[0].letter.valid_until")
    assert "date" in p.message and "2027-02-30" in p.message


def test_duplicate_handle_on_one_platform(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace(
        "      - platform: instagram\n        handle: kptd.kanwil.bali",
        "      - platform: x\n        handle: KPTD_RI",
    )
    p = only(problems_of(make_workspace(org=org)))
    assert (p.line, p.key) == (21, "units[1].accounts[0].handle")
    assert "duplicate handle 'KPTD_RI' on x (already used by unit PUSAT)" in p.message


def test_same_handle_on_two_platforms_is_fine(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("handle: kptd.kanwil.bali", "handle: kptd_ri")
    load_workspace(make_workspace(org=org))


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(make_workspace: WorkspaceFactory, text: str) -> None:
    p = only(problems_of(make_workspace(org=text)))
    assert (p.file, p.line) == ("org.yaml", 1)
    assert "file is empty; expected a mapping of keys" in p.message


def test_non_mapping_file(make_workspace: WorkspaceFactory) -> None:
    p = only(problems_of(make_workspace(org="\n- a\n- b\n")))
    assert (p.file, p.line, p.column) == ("org.yaml", 2, 1)
    assert p.message == "expected a mapping of keys, found a list"


def test_not_utf8(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("Kantor Pusat", "Kantor Pusat \xe9").encode("latin-1")
    p = only(problems_of(make_workspace(org=org)))
    assert (p.file, p.line, p.column) == ("org.yaml", 6, 24)
    assert "not UTF-8" in p.message and "0xe9" in p.message


def test_yaml_syntax_error_is_located(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("    name: Kantor Pusat", "    name: [Kantor Pusat")
    p = only(problems_of(make_workspace(org=org)))
    assert p.file == "org.yaml" and p.line >= 6
    assert p.message.startswith("invalid YAML")


def test_duplicate_yaml_key(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace(
        "    name: Kantor Pusat\n", "    name: Kantor Pusat\n    name: Lagi\n"
    )
    p = only(problems_of(make_workspace(org=org)))
    assert (p.line, p.key, p.message) == (7, "units[0].name", "duplicate key 'name'")


def test_bad_enum_suggests(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("platform: instagram", "platform: instagam")
    p = only(problems_of(make_workspace(org=org)))
    assert p.key == "units[1].accounts[0].platform"
    assert "(did you mean 'instagram'?)" in p.message


def test_admin_references_are_checked(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("units: [PUSAT, KANWIL-BALI]", "units: [PUSAT, KANWIL-BAL]")
    org = org.replace("    letter:", "    accounts: ['x:kptd_rl']\n    letter:")
    problems = problems_of(make_workspace(org=org))
    messages = [p.message for p in problems]
    assert "unknown unit 'KANWIL-BAL' (did you mean 'KANWIL-BALI'?)" in messages
    assert "unknown account 'x:kptd_rl' (did you mean 'x:kptd_ri'?)" in messages


CALENDAR = """\
campaigns:
  - slug: hari-pelayanan
    title: Hari Pelayanan Publik
    period: {start: 2027-06-01, end: 2027-06-30}
    hashtags: [PelayananPrima]
    targets:
      kinds: [regional]
    posts:
      - key: pembukaan
        at: 2027-06-23T09:00:00+07:00
        body: Selamat Hari Pelayanan Publik.
"""


def test_calendar_loads_with_sources(make_workspace: WorkspaceFactory) -> None:
    ws = load_workspace(make_workspace(calendars={"2027.yaml": CALENDAR}))
    campaign = ws.campaigns[0]
    assert campaign.posts[0].at.utcoffset() is not None
    assert str(ws.source_of_post(campaign, campaign.posts[0])) == "calendars/2027.yaml:11"


def test_naive_post_time_is_an_error(make_workspace: WorkspaceFactory) -> None:
    cal = CALENDAR.replace("2027-06-23T09:00:00+07:00", "2027-06-23T09:00:00")
    p = only(problems_of(make_workspace(calendars={"2027.yaml": cal})))
    assert (p.file, p.line, p.key) == ("calendars/2027.yaml", 10, "campaigns[0].posts[0].at")
    assert "UTC offset" in p.message


def test_calendar_references_and_period(make_workspace: WorkspaceFactory) -> None:
    cal = CALENDAR.replace("kinds: [regional]", "units: [PUSTA]").replace(
        "2027-06-23", "2027-07-23"
    )
    problems = problems_of(make_workspace(calendars={"2027.yaml": cal}))
    assert [(p.line, p.message) for p in problems] == [
        (7, "unknown unit 'PUSTA' (did you mean 'PUSAT'?)"),
        (10, "post date 2027-07-23 is outside the campaign period 2027-06-01 to 2027-06-30"),
    ]


def test_duplicate_campaign_slug_across_files(make_workspace: WorkspaceFactory) -> None:
    p = only(problems_of(make_workspace(calendars={"a.yaml": CALENDAR, "b.yaml": CALENDAR})))
    assert (p.file, p.line) == ("calendars/b.yaml", 2)
    assert "duplicate campaign slug 'hari-pelayanan' (first at calendars/a.yaml:2)" in p.message


def test_all_errors_in_all_files_are_reported_together(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("timezone: Asia/Jakarta", "timezone: Asia/Jakrta").replace(
        "parent: PUSAT", "parent: NOPE"
    )
    cal = CALENDAR.replace("title:", "titel:")
    settings = '[database]\nurll = "sqlite://"\n'
    problems = problems_of(make_workspace(org=org, calendars={"x.yaml": cal}, settings=settings))
    where = {(p.file, p.line) for p in problems}
    assert where == {
        ("amplifier.toml", 2),
        ("org.yaml", 8),
        ("org.yaml", 15),
        ("calendars/x.yaml", 3),
    }
    toml = next(p for p in problems if p.file == "amplifier.toml")
    assert toml.message == "unknown key 'urll' (did you mean 'url'?)"
    assert toml.key == "database.urll"


def test_toml_syntax_error(make_workspace: WorkspaceFactory) -> None:
    p = only(problems_of(make_workspace(settings='[database]\nurl = "x\n')))
    assert (p.file, p.line) == ("amplifier.toml", 2)
    assert p.message.startswith("invalid TOML")


def test_missing_org_file(make_workspace: WorkspaceFactory) -> None:
    p = only(problems_of(make_workspace(org=None)))
    assert p.file == "org.yaml" and "missing" in p.message


# --- properties -------------------------------------------------------------------------

keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
scalars = st.one_of(st.integers(-1000, 1000), st.text(alphabet="abcxyz ", min_size=1, max_size=8))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4),
        st.dictionaries(keys, children, min_size=1, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(keys, trees, min_size=1, max_size=5))
def test_yaml_positions_point_at_their_keys(data: dict[str, object]) -> None:
    import yaml

    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)
    doc = parse_yaml(text, "f.yaml")
    assert doc.problems == []
    assert doc.data == data
    lines = text.splitlines()
    for loc, (line, column) in doc.keys.items():
        key = str(loc[-1])
        assert lines[line - 1][column - 1 :].lstrip("'\"").startswith(key), (loc, line)


def test_duplicate_key_does_not_hide_other_errors(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace(
        "    name: Kantor Pusat\n", "    name: Kantor Pusat\n    name: Lagi\n"
    )
    org = org.replace("parent: PUSAT", "parent: PUSTA")
    problems = problems_of(make_workspace(org=org))
    assert [p.message for p in problems] == [
        "duplicate key 'name'",
        "unknown parent unit 'PUSTA' (did you mean 'PUSAT'?)",
    ]


def test_yaml_boolean_gets_a_quoting_hint(make_workspace: WorkspaceFactory) -> None:
    org = MINIMAL_ORG.replace("    city: Denpasar", "    city: no")
    p = only(problems_of(make_workspace(org=org)))
    assert p.key == "units[1].city"
    assert "put the text in quotes" in p.message


def test_empty_value_means_default(make_workspace: WorkspaceFactory) -> None:
    cal = CALENDAR.replace(
        "    targets:\n      kinds: [regional]\n", "    targets:\n    hashtags:\n"
    )
    cal = cal.replace("    hashtags: [PelayananPrima]\n", "")
    ws = load_workspace(make_workspace(calendars={"c.yaml": cal}))
    assert ws.campaigns[0].targets.kinds == [] and ws.campaigns[0].hashtags == []


field_names = st.sampled_from(
    [
        "institution",
        "units",
        "admins",
        "code",
        "name",
        "kind",
        "parent",
        "timezone",
        "accounts",
        "platform",
        "handle",
        "letter",
        "campaigns",
        "posts",
        "slug",
        "period",
        "at",
        "body",
        "x",
    ]
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(["PUSAT", "x", "Asia/Jakarta", "2027-01-01"]),
)
yaml_like = st.recursive(
    values,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(field_names, children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(org=yaml_like, calendar=yaml_like)
def test_any_yaml_gives_problems_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, org: object, calendar: object
) -> None:
    import yaml

    root = tmp_path_factory.mktemp("fuzz")
    (root / "calendars").mkdir()
    (root / "org.yaml").write_text(yaml.safe_dump(org), encoding="utf-8")
    (root / "calendars" / "c.yaml").write_text(yaml.safe_dump(calendar), encoding="utf-8")
    try:
        load_workspace(root)
    except WorkspaceError as exc:
        assert exc.problems
        assert all(p.line >= 1 and p.column >= 1 and p.message for p in exc.problems)


# --- references across files: settings → org, quiet periods → campaigns --------------


BAD_BLACKOUTS = """\
blackouts:
  - key: berkabung
    name: Masa berkabung
    starts: 2027-06-05T00:00:00+07:00
    ends: 2027-06-06T00:00:00+07:00
    campaigns: [hari-pelayanan, hut-ri]
  - key: berkabung
    name: Masa berkabung (salinan)
    starts: 2027-06-05T00:00:00+07:00
    ends: 2027-06-06T00:00:00+07:00
"""

QUIET = """\
quiet_periods:
  - key: pilkada-2027
    name: Masa tenang Pilkada
    starts: 2027-06-20T00:00:00+07:00
    ends: 2027-06-23T00:00:00+07:00
    campaigns: [hari-pelayann]
    scope: {regions: [Atlantis]}
holidays:
  - date: 2027-06-10
    name: Hari jadi kota
    scope: {units: [KANWIL-BAL]}
"""


def test_quiet_periods_and_holidays_name_known_campaigns_and_units(
    make_workspace: WorkspaceFactory,
) -> None:
    calendars = {"a.yaml": CALENDAR, "b.yaml": QUIET, "c.yaml": BAD_BLACKOUTS + QUIET}
    got = sorted(
        (p.file, p.line, p.key, p.message) for p in problems_of(make_workspace(calendars=calendars))
    )
    assert got == [
        ("calendars/b.yaml", 6, "quiet_periods[0].campaigns[0]",
         "unknown campaign 'hari-pelayann' (did you mean 'hari-pelayanan'?)"),
        ("calendars/b.yaml", 7, "quiet_periods[0].scope.regions[0]", "unknown region 'Atlantis'"),
        ("calendars/b.yaml", 11, "holidays[0].scope.units[0]",
         "unknown unit 'KANWIL-BAL' (did you mean 'KANWIL-BALI'?)"),
        ("calendars/c.yaml", 6, "blackouts[0].campaigns[1]", "unknown campaign 'hut-ri'"),
        ("calendars/c.yaml", 7, "blackouts[1].key",
         "duplicate blackout key 'berkabung' (first at calendars/c.yaml:2)"),
        ("calendars/c.yaml", 12, "quiet_periods[0].key",
         "duplicate quiet period key 'pilkada-2027' (first at calendars/b.yaml:2)"),
        ("calendars/c.yaml", 16, "quiet_periods[0].campaigns[0]",
         "unknown campaign 'hari-pelayann' (did you mean 'hari-pelayanan'?)"),
        ("calendars/c.yaml", 17, "quiet_periods[0].scope.regions[0]", "unknown region 'Atlantis'"),
        ("calendars/c.yaml", 21, "holidays[0].scope.units[0]",
         "unknown unit 'KANWIL-BAL' (did you mean 'KANWIL-BALI'?)"),
    ]  # fmt: skip


def test_a_quiet_period_may_name_a_campaign_of_another_file(
    make_workspace: WorkspaceFactory,
) -> None:
    quiet = QUIET.replace("hari-pelayann", "hari-pelayanan").replace(
        "    scope: {regions: [Atlantis]}\n", ""
    )
    quiet = quiet.replace("KANWIL-BAL]", "KANWIL-BALI]")
    loaded = load_workspace(make_workspace(calendars={"a.yaml": CALENDAR, "b.yaml": quiet}))
    assert [q.campaigns for q in loaded.quiet_periods] == [["hari-pelayanan"]]


def test_posting_hours_by_unit_names_known_units(make_workspace: WorkspaceFactory) -> None:
    settings = '[timing.posting_hours_by_unit]\nKANWIL-BALI = "08:00-20:00"\nKANWL-BALI = "x"\n'
    settings = settings.replace('"x"', '"09:00-17:00"')
    p = only(problems_of(make_workspace(settings=settings)))
    assert (p.file, p.line, p.column) == ("amplifier.toml", 3, 1)
    assert p.key == "timing.posting_hours_by_unit.KANWL-BALI"
    assert p.message == "unknown unit 'KANWL-BALI' (did you mean 'KANWIL-BALI'?)"


def test_publisher_names_are_checked_when_loading(make_workspace: WorkspaceFactory) -> None:
    settings = (
        "[publishing]\n"
        'manual = "outbx"\n'
        'api = "webhook"\n'
        "[publishing.publishers.webhook]\n"
        'url = "https://humas.example.go.id/hook"\n'
        'secret = "plain text"\n'
        "[publishing.publishers.telegram]\n"
        'chat = "x"\n'
    )
    got = [(p.line, p.key, p.message) for p in problems_of(make_workspace(settings=settings))]
    assert got[0][:2] == (2, "publishing.manual")
    assert got[0][2] == (
        "unknown publisher 'outbx' (did you mean 'outbox'?); known: log, outbox, webhook"
    )
    assert got[1][:2] == (6, "publishing.publishers.webhook.secret")
    assert "publisher 'webhook' has no option 'secret' (did you mean 'secret_env'?)" in got[1][2]
    assert got[2][:2] == (7, "publishing.publishers.telegram")
    assert got[2][2].startswith("unknown publisher 'telegram'; known: log, outbox, webhook")
    assert len(got) == 3


def test_the_cli_reports_a_publisher_typo_without_a_traceback(
    make_workspace: WorkspaceFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from amplifier.cli.app import run

    root = make_workspace(settings='[publishing]\napi = "webhok"\n')
    assert run(["--workspace", str(root), "sync"]) == 2
    output = capsys.readouterr()
    text = output.out + output.err
    assert "amplifier.toml:2:6: publishing.api: unknown publisher 'webhok'" in text
    assert "did you mean 'webhook'?" in text
    assert "Traceback" not in text


def test_parsed_documents_keep_no_yaml_nodes() -> None:
    # the nodes of a parsed file (kept by a constructor shared across files, they once
    # grew a long-running process by ~150 MB per load of a 5,000-unit org) are dropped
    def nodes() -> int:
        gc.collect()
        return sum(isinstance(o, yaml.Node) for o in gc.get_objects())

    before = nodes()
    text = "units:\n" + "".join(
        f"  - {{code: U{i}, name: Unit {i}, tags: [a, b]}}\n" for i in range(200)
    )
    for _ in range(3):
        doc = parse_yaml(text, "org.yaml")
        assert not doc.problems and len(doc.data["units"]) == 200
    assert nodes() - before < 50


def test_documents_parse_alike_from_several_threads() -> None:
    texts = [f"key: {i}\nlist: [{i}, x, 2027-10-29]\n" for i in range(40)]
    with ThreadPoolExecutor(4) as pool:
        docs = list(pool.map(lambda t: parse_yaml(t, "f.yaml"), texts * 5))
    assert [d.data["key"] for d in docs] == list(range(40)) * 5
    assert all(not d.problems and d.data["list"][2] == dt.date(2027, 10, 29) for d in docs)
