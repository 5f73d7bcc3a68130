"""The block memo and the built-in layout: a memoized render equals a fresh one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Environment

from amplifier.check import _split_paragraphs
from amplifier.render import Renderer, RenderResult, _part, _tidy, layout
from amplifier.render.chain import stacked_name
from amplifier.render.memo import chain_reads, file_reads

INSTITUTION = {"code": "K", "name": "Kementerian", "short_name": "K", "website": None}


def variables(unit: dict[str, Any], platform: str = "facebook", **post: Any) -> dict[str, Any]:
    at = post.pop("at", pendulum.datetime(2027, 10, 29, 9, tz="Asia/Jakarta"))
    return {
        "institution": INSTITUTION,
        "unit": {"code": "U", "name": "Unit", "city": None, "zone": "WIB", **unit},
        "account": {"platform": platform, "handle": "h", "url": None},
        "platform": platform,
        "campaign": {
            "slug": "c",
            "title": "T",
            "goal": None,
            "hashtags": ["A", "B"],
            "key_messages": ["Satu.", "Dua."],
            "links": ["https://www.kptd.go.id/a"],
        },
        "post": {"key": "p", "title": None, "body": "Isi pos.", "link": None, "at": at, **post},
        "budget": 280 if platform == "x" else 2200,
    }


def renderer(root: Path, files: dict[str, str]) -> Renderer:
    for name, text in files.items():
        path = root / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Renderer(root / "templates", INSTITUTION)


def reads_of(source: str) -> Any:
    tree = Environment().parse(source)
    return chain_reads([file_reads(tree)])


def test_reads_are_the_names_and_attributes_a_block_uses() -> None:
    r = reads_of("{% block local %}{{ unit.name }} {{ unit['city'] }} {{ post.at }}{% endblock %}")
    assert r.memoizable
    assert set(r.blocks["local"]) == {
        ("unit", "name"),
        ("unit", "city"),
        ("post", "at"),
        ("platform", None),
    }
    # aliasing, iterating or a dict method: the whole value
    aliased = reads_of("{% block local %}{% set u = unit %}{{ u.code }}{% endblock %}")
    assert ("unit", None) in aliased.blocks["local"]
    method = reads_of("{% block local %}{{ unit.items() | list }}{% endblock %}")
    assert ("unit", None) in method.blocks["local"]


def test_nested_blocks_and_self_widen_the_reads() -> None:
    nested = reads_of(
        "{% block local %}{% block inner %}{{ unit.city }}{% endblock %}{% endblock %}"
        "{% block inner %}{{ unit.region }}{% endblock %}"
    )
    assert {("unit", "city"), ("unit", "region")} <= set(nested.blocks["local"])
    selfish = reads_of(
        "{% block local %}{{ self.greeting() }}{% endblock %}"
        "{% block greeting %}{{ unit.name }}{% endblock %}"
    )
    assert ("unit", "name") in selfish.blocks["local"]


@pytest.mark.parametrize(
    "source",
    [
        '{% block local %}{% include "x.j2" %}{% endblock %}',
        '{% block local %}{% import "x.j2" as x %}{% endblock %}',
        "{% block local %}{{ [1, 2, 3] | random }}{% endblock %}",
        "{% set greeting = unit.name %}{% block local %}{{ greeting }}{% endblock %}",
        "{% macro m() %}{{ unit.name }}{% endmacro %}{% block local %}{{ m() }}{% endblock %}",
    ],
)
def test_chains_the_memo_cannot_reason_about_are_not_memoized(source: str) -> None:
    assert not reads_of(source).memoizable


def test_an_override_reading_unit_fields_gets_each_units_own_text(tmp_path: Path) -> None:
    r = renderer(
        tmp_path,
        {
            "kinds/service/post.j2": "{% block local %}Kantor {{ unit.name }} di {{ unit.city }}"
            "{% endblock %}"
        },
    )
    chain = r.chain(["KL-1"], "service", "facebook")
    seen = {}
    for name, city in [("A", "Kota 1"), ("B", "Kota 1"), ("A", "Kota 2"), ("A", "Kota 1")]:
        result = r.render(chain, variables({"name": name, "city": city, "code": name + city}))
        assert result.error is None
        assert f"Kantor {name} di {city}" in result.text
        seen[(name, city)] = result.text
    assert len(seen) == 3
    compiled = r._compiled_chains[chain]
    # the unit's code is not read by any block: 3 distinct 'local' entries for 4 renders,
    # and one body for all of them
    assert sum(1 for block, _ in compiled.memo if block == "local") == 3
    assert sum(1 for block, _ in compiled.memo if block == "body") == 1


def test_same_instant_in_two_zones_renders_each_zone(tmp_path: Path) -> None:
    r = renderer(
        tmp_path, {"institution/post.j2": "{% block local %}{{ post.at | jam }}{% endblock %}"}
    )
    chain = r.chain(["U"], "regional", "facebook")
    moment = dt.datetime(2027, 10, 29, 2, tzinfo=dt.UTC)
    wib = r.render(chain, variables({}, at=pendulum.instance(moment).in_tz("Asia/Jakarta")))
    wita = r.render(chain, variables({}, at=pendulum.instance(moment).in_tz("Asia/Makassar")))
    assert "09.00 WIB" in wib.text and "10.00 WITA" in wita.text


def test_layout_room_counts_x_links_as_23() -> None:
    others = layout.join(["", "", "https://example.go.id/" + "a" * 60, "", "#A #B"])
    assert layout.room_for(others, "x", 280) == 280 - (23 + 2 + 5) - 2 - 5
    assert layout.room_for(others, "facebook", 280) == 280 - len(others) - 2 - 5
    assert layout.room_for("x" * 500, "x", 280) == layout.MIN_ROOM


def test_loop_budget_counts_memoized_blocks(tmp_path: Path) -> None:
    # each block alone stays under the iteration cap; together they do not, memo or not
    loops = "{% for i in range(900) %}{% for j in range(10) %}{% endfor %}{% endfor %}"
    r = renderer(
        tmp_path,
        {
            "institution/post.j2": f"{{% block local %}}{loops}{{% endblock %}}"
            f"{{% block closing %}}{loops}{{% endblock %}}"
            f"{{% block link %}}{loops}{{% endblock %}}"
        },
    )
    chain = r.chain(["U"], "regional", "facebook")
    for _ in range(2):
        result = r.render(chain, variables({}))
        assert result.error is not None and "loop iterations" in result.error.message


UNIT_FIELDS = st.fixed_dictionaries(
    {
        "code": st.sampled_from(["U1", "U2", "U3"]),
        "name": st.sampled_from(["Satu", "Dua"]),
        "city": st.sampled_from([None, "Denpasar", "Kupang"]),
        "region": st.sampled_from(["Bali", "NTT"]),
        "tags": st.lists(st.sampled_from(["3T", "pelabuhan"]), max_size=2),
    }
)
OVERRIDES = [
    "{% block local %}{{ unit.name }}{% if unit.city %} ({{ unit.city }}){% endif %}{% endblock %}",
    "{% block greeting %}Salam {{ unit.region }}! {{ super() }}{% endblock %}",
    "{% block hashtags %}{{ super() }}{% for t in unit.tags %} #{{ t }}{% endfor %}{% endblock %}",
    "{% block body %}{{ post.body | fit(room) }} {{ unit['code'] }}{% endblock %}",
    "{% block closing %}{% set u = unit %}{{ u.code }}-{{ u.name }}{% endblock %}",
    # trailing blanks and runs of empty lines, for the tidying
    "{% block local %}{{ unit.name }}  \n \n\t\n\n{{ unit.region }}\t{% endblock %}"
    "{% block title %} {{ unit.name }} \n\n\n{{ unit.code }}{% endblock %}",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    units=st.lists(UNIT_FIELDS, min_size=1, max_size=6),
    override=st.sampled_from(OVERRIDES),
    platform=st.sampled_from(["x", "facebook", "instagram", "threads"]),
)
def test_memoized_render_equals_a_fresh_render(
    tmp_path_factory: pytest.TempPathFactory,
    units: list[dict[str, Any]],
    override: str,
    platform: str,
) -> None:
    root = tmp_path_factory.mktemp("memo")
    shared = renderer(root, {"kinds/service/post.j2": override})
    chain = shared.chain(["U"], "service", platform)
    fresh = Renderer(root / "templates", INSTITUTION)
    for unit in units:
        memoized = shared.render(chain, variables(unit, platform))
        if chain in fresh._compiled_chains:
            fresh._compiled_chains[chain].memo.clear()  # nothing remembered: a fresh render
        assert memoized == fresh.render(chain, variables(unit, platform))
        assert memoized.error is None and memoized.text
        assert memoized == reference_render(shared, chain, variables(unit, platform))
        # the paragraphs the checks are handed are the text's own
        assert memoized.paragraphs == _split_paragraphs(memoized.text)


@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("platform", ["x", "instagram"])
def test_a_variant_the_memo_has_in_full_is_put_together_from_it(
    tmp_path: Path, override: str, platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second render of the same variables takes every block from the memo
    (``_Keys.from_memo``), with no render context, and still equals the plain way."""
    r = renderer(tmp_path, {"kinds/service/post.j2": override})
    chain = r.chain(["U"], "service", platform)
    unit = {"code": "U7", "name": "Tujuh", "city": "Kupang", "region": "NTT", "tags": ["3T"]}
    values = variables(unit, platform)
    first = r.render(chain, values)
    assert first.error is None and first.text
    compiled = r._compiled_chains[chain]
    assert compiled.keys is not None
    made: list[object] = []
    monkeypatch.setattr(Renderer, "_context", staticmethod(lambda *a: made.append(a)))
    second = r.render(chain, values)
    assert not made  # nothing rendered
    assert first == second == reference_render(r, chain, values)
    assert first.paragraphs == second.paragraphs == _split_paragraphs(first.text)


def reference_render(r: Renderer, chain: tuple[str, ...], values: dict[str, Any]) -> RenderResult:
    """The plain way, with none of the renderer's shortcuts: the chain's stacked template
    run in full, every block rendered, the joined text tidied as a whole."""
    template = r.env.get_template(stacked_name(chain))
    ctx = template.new_context(dict(values))
    "".join(template.root_render_func(ctx))  # runs the extends: every level's blocks

    def block(name: str) -> str:
        functions = ctx.blocks.get(name)
        return "".join(functions[0](ctx)) if functions else ""

    parts = {name: block(name) for name in layout.OTHERS}
    room = layout.room_for(layout.join(parts.values()), values["platform"], values["budget"])
    ctx.vars["room"] = room
    parts["body"] = block("body")
    text = layout.join(parts[name] for name in layout.ORDER)
    title = block("title")
    return RenderResult(_tidy(text), _tidy(title) if title else None, chain)


# white space and line breaks of every kind the tidying treats specially
MESSY = st.text(st.sampled_from(["a", "b", " ", "\t", "\n", "\r", "\x0b", "\x1c", "\x85", "\xa0"]))


@given(st.lists(MESSY, max_size=6))
def test_tidying_the_joined_parts_is_joining_the_tidied_parts(parts: list[str]) -> None:
    # what the layout relies on to tidy each memoized block once
    trimmed = [p.strip() for p in parts]
    assert _tidy(layout.join(parts)) == layout.SEPARATOR.join(_tidy(p) for p in trimmed if p)
    assert all(bool(_tidy(p)) == bool(p) for p in trimmed)


@given(st.lists(MESSY, max_size=6), st.sampled_from(["x", "facebook"]), st.integers(0, 3000))
def test_room_and_paragraphs_add_up_over_the_parts(
    texts: list[str], platform: str, budget: int
) -> None:
    # each memoized block counts its own use of the budget and splits its own paragraphs
    texts = [t.replace("a", "https://www.kptd.go.id/berita/a") for t in texts]
    parts = [_part(t, 0, platform) for t in texts]
    joined = layout.join(texts)
    assert layout.room_left(parts, budget) == layout.room_for(joined, platform, budget)
    text = layout.text_of([p for p in parts if p.tidy])
    assert text == _tidy(joined)
    paragraphs = [q for p in parts for q in p.paragraphs]
    assert paragraphs == (_split_paragraphs(text) if text else [])  # an empty text has none


READS = st.sampled_from(
    [
        "{{ unit.name }}",
        "{{ unit['city'] }}",
        "{{ room }}",
        "{{ unit.tags | join(',') }}",
        "{{ post.at }}",
        "{% set u = unit %}{{ u.code }}",
        "{{ self.greeting() }}",
        "{{ campaign.hashtags | hashtags }}",
    ]
)


@given(
    blocks=st.dictionaries(st.sampled_from([*layout.ORDER, layout.TITLE]), READS, min_size=1),
    unit=UNIT_FIELDS,
    room=st.sampled_from([None, 40, "40"]),
)
def test_a_key_picked_from_the_shared_values_is_the_blocks_own(
    blocks: dict[str, str], unit: dict[str, Any], room: Any
) -> None:
    source = "".join(f"{{% block {name} %}}{read}{{% endblock %}}" for name, read in blocks.items())
    reads = reads_of(source)
    before = variables(unit)
    after = before if room is None else {**before, "room": room}
    shared = reads.values(before)
    assert shared is not None
    for name in blocks:
        assert reads.block_key(name, shared, after) == reads.key(name, after)


@pytest.mark.parametrize(
    "override",
    [
        "{% block local %}{{ self }}{% endblock %}",
        # an inline if without else: its undefined value names the template
        "{% block local %}{{ (unit.name if unit.city == 'x').upper() }}{% endblock %}",
    ],
)
def test_names_and_errors_are_the_stacked_templates(tmp_path: Path, override: str) -> None:
    r = renderer(tmp_path, {"kinds/service/post.j2": override})
    chain = r.chain(["U"], "service", "facebook")
    result = r.render(chain, variables({}))
    try:
        expected = reference_render(r, chain, variables({}))
    except Exception as exc:
        assert result.error is not None
        assert str(exc) in result.error.message and stacked_name(chain) in str(exc)
    else:
        assert result == expected and stacked_name(chain) in result.text


def test_frozen_values_of_a_reused_dict_equal_those_of_a_fresh_copy() -> None:
    reads = reads_of(
        "{% block greeting %}{{ unit.name }} {{ unit.tags|join(',') }}{% endblock %}"
        "{% block body %}{{ post.title }} {{ platform }}{% endblock %}"
    )
    unit = {"name": "Kanwil Bali", "tags": ["bali"], "zone": "WITA"}
    post = {"title": "Layanan baru"}
    first = reads.values({"unit": unit, "post": post, "platform": "x"})
    again = reads.values({"unit": unit, "post": post, "platform": "x"})
    fresh = reads.values({"unit": dict(unit), "post": dict(post), "platform": "x"})
    assert first == again == fresh
    assert "Kanwil Bali" in first and ("list", "bali") in first
    # another unit's dict never gets the cached values, even where the cache has entries
    other = reads.values({"unit": {**unit, "name": "Kanwil Papua"}, "post": post, "platform": "x"})
    assert other != first and "Kanwil Papua" in other


@given(st.lists(st.text(max_size=5), min_size=1, max_size=30))
def test_frozen_values_follow_each_dict_as_dicts_come_and_go(names: list[str]) -> None:
    reads = reads_of("{% block greeting %}{{ unit.name }}{% endblock %}")
    for name in names:  # a new dict for each: none may get another one's cached values
        assert name in reads.values({"unit": {"name": name}, "platform": "x"})
