"""Rendering: the template chain, super(), Indonesian dates, and the sandbox's limits."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pendulum
import pytest

from amplifier.render import Renderer
from amplifier.render.chain import ChainLoader, chain_for
from amplifier.render.context import hashtags, jam, tanggal
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory

CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT Kementerian
    period: {start: 2027-10-01, end: 2027-10-31}
    hashtags: [HUTKPTD, Melayani]
    posts:
      - key: puncak
        at: 2027-10-29T09:00:00+07:00
        body: Hari ini kami merayakan ulang tahun kementerian.
        link: https://www.kptd.go.id/hut
"""


def write(root: Path, name: str, text: str) -> None:
    path = root / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def ws(make_workspace: WorkspaceFactory, tmp_path: Path) -> Workspace:
    root = make_workspace(calendars={"hut.yaml": CALENDAR})
    w = Workspace.open(root, database_url=f"sqlite:///{tmp_path / 'r.db'}")
    w.sync()
    return w


def test_chain_order_and_super(ws: Workspace) -> None:
    write(ws.root, "institution/post.j2", "{% block closing %}Salam KPTD.{% endblock %}")
    write(ws.root, "kinds/regional/post.j2", "{% block greeting %}Halo wilayah!{% endblock %}")
    write(
        ws.root,
        "units/PUSAT/post.j2",
        "{% block closing %}{{ super() }} Dari Jakarta.{% endblock %}",
    )
    write(
        ws.root,
        "units/KANWIL-BALI/post.instagram.j2",
        "{# contoh #}{% block greeting %}Om Swastyastu! {{ super() }}{% endblock %}",
    )
    (bali,) = ws.preview("KANWIL-BALI", "puncak")
    # the parent unit (PUSAT) comes before the unit kind: overrides flow down the tree
    assert bali.chain == (
        "units/KANWIL-BALI/post.instagram.j2",
        "units/PUSAT/post.j2",
        "kinds/regional/post.j2",
        "institution/post.j2",
        "builtin/instagram.j2",
    )
    assert bali.text.startswith("Om Swastyastu! Halo wilayah!")
    assert "Salam KPTD. Dari Jakarta." in bali.text
    (pusat,) = ws.preview("PUSAT", "puncak")
    assert pusat.chain[0] == "units/PUSAT/post.j2"
    assert "Salam KPTD. Dari Jakarta." in pusat.text


def test_parent_override_reaches_children(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "units" / "KANWIL-BALI").mkdir(parents=True)
    (root / "units" / "KANWIL-BALI" / "post.j2").write_text("x")
    (root / "units" / "KL-BULELENG").mkdir(parents=True)
    (root / "units" / "KL-BULELENG" / "explainer.x.j2").write_text("y")
    loader = ChainLoader(root)
    assert chain_for(
        loader, ["KL-BULELENG", "KANWIL-BALI", "PUSAT"], "service", "x", ["explainer"]
    ) == (
        "units/KL-BULELENG/explainer.x.j2",
        "units/KANWIL-BALI/post.j2",
        "builtin/x.j2",
    )


def test_names_can_never_escape_the_templates_folder(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (tmp_path / "secret.j2").write_text("rahasia")
    loader = ChainLoader(root)
    assert chain_for(loader, ["../.."], "central", "x") == ("builtin/x.j2",)
    from jinja2 import TemplateNotFound

    for name in ("../secret.j2", "/etc/passwd", "builtin/../../../errors.py"):
        with pytest.raises(TemplateNotFound):
            loader.read(name)


def test_indonesian_dates_in_the_units_zone() -> None:
    moment = dt.datetime(2027, 10, 29, 1, 0, tzinfo=dt.UTC)
    assert tanggal(pendulum.instance(moment).in_tz("Asia/Makassar")) == "Jumat, 29 Oktober 2027"
    assert jam(pendulum.instance(moment).in_tz("Asia/Makassar")) == "09.00 WITA"
    assert jam(pendulum.instance(moment).in_tz("Asia/Jakarta")) == "08.00 WIB"
    assert jam(pendulum.instance(moment).in_tz("Asia/Jayapura")) == "10.00 WIT"
    assert jam(pendulum.instance(moment).in_tz("Europe/Amsterdam")) == "03.00 CEST"
    assert hashtags(["A", "#B", " "], 5) == "#A #B"
    assert hashtags(["A", "B", "C"], 2) == "#A #B"


def test_context_dates_follow_each_unit(ws: Workspace) -> None:
    write(
        ws.root,
        "institution/post.j2",
        "{% block body %}{{ post.at | tanggal }} {{ post.at | jam }} {{ unit.zone }}{% endblock %}",
    )
    (bali,) = ws.preview("KANWIL-BALI", "puncak")
    (pusat,) = ws.preview("PUSAT", "puncak")
    assert "Jumat, 29 Oktober 2027 10.00 WITA WITA" in bali.text
    assert "Jumat, 29 Oktober 2027 09.00 WIB WIB" in pusat.text


ESCAPES = {
    "internals": ("{% block body %}{{ unit.__class__.__mro__ }}{% endblock %}", "not allowed"),
    "format internals": (
        "{% block body %}{{ '{0.__class__}'.format(unit) }}{% endblock %}",
        "not allowed",
    ),
    "environment": ("{% block body %}{{ os.environ }}{% endblock %}", "unknown name"),
    "shared list": (
        "{% block hashtags %}{{ campaign.hashtags.append('Bali') }}{% endblock %}",
        "unsafe",
    ),
    "shared dict": ("{% block body %}{{ unit.update({'name': 'X'}) }}{% endblock %}", "unsafe"),
    "files": ('{% block body %}{% include "/etc/passwd" %}{% endblock %}', "not found"),
    "huge range": (
        "{% block body %}{% for i in range(10**6) %}{% endfor %}{% endblock %}",
        "limit",
    ),
    "endless loops": (
        "{% block body %}{% for i in range(999) %}{% for j in range(999) %}"
        "{% endfor %}{% endfor %}{% endblock %}",
        "loop iterations",
    ),
    "megabytes": ("{% block body %}{{ 'x' * 10000000 }}{% endblock %}", "too-large"),
    "wide format": ("{% block body %}{{ '%99999999d' % 1 }}{% endblock %}", "width"),
    "wide filter": ("{% block body %}{{ 'x' | center(99999999) }}{% endblock %}", "width"),
    "big numbers": ("{% block body %}{{ 10 ** 100000 }}{% endblock %}", "exponent"),
    "much output": (
        "{% block body %}{% for i in range(900) %}{% for j in range(20) %}"
        "{{ 'abcdefghij' * 100 }}{% endfor %}{% endfor %}{% endblock %}",
        "output is over the limit",
    ),
    "recursion": (
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{% block body %}{{ f(1) }}{% endblock %}",
        "RecursionError",
    ),
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_sandbox_refuses_and_fails_only_that_unit(ws: Workspace, case: str) -> None:
    source, expected = ESCAPES[case]
    write(ws.root, "units/KANWIL-BALI/post.j2", "\n" + source)
    summary = ws.plan()
    bali = [f for f in summary.findings if f["unit"] == "KANWIL-BALI"]
    assert [f["rule"] for f in bali] == ["template.error"]
    assert expected in bali[0]["message"]
    if case not in {"much output", "recursion"}:
        assert bali[0]["source"] == "templates/units/KANWIL-BALI/post.j2:2"
    others = [v for v in ws.variants() if v.unit_id != _unit_id(ws, "KANWIL-BALI")]
    assert others and all(v.text and not v.findings for v in others)


def test_a_unit_template_cannot_change_what_other_units_render(ws: Workspace) -> None:
    """Variables are shared by every unit's render: a template that would change one (a
    list's ``append``, a dict's ``update``) fails for its own unit, and the other units'
    texts are those of a plan without it."""
    before = {v.unit_id: v.text for v in (ws.plan(), ws.variants())[1]}
    write(
        ws.root,
        "units/KANWIL-BALI/post.j2",
        "{% block greeting %}{{ campaign.hashtags.append('Bali') }}"
        "{{ unit.languages.clear() }}{{ post.update({'body': 'diubah'}) }}{% endblock %}",
    )
    summary = ws.plan()
    bali_id = _unit_id(ws, "KANWIL-BALI")
    assert {f["unit"] for f in summary.findings} == {"KANWIL-BALI"}
    after = {v.unit_id: v.text for v in ws.variants()}
    assert after[bali_id] == ""
    others = {u: t for u, t in after.items() if u != bali_id}
    assert others and others == {u: t for u, t in before.items() if u != bali_id}


def _unit_id(ws: Workspace, code: str) -> int:
    return next(n.id for r in ws.unit_tree() for n in r.walk() if n.code == code)


def test_syntax_error_is_located(ws: Workspace) -> None:
    write(
        ws.root,
        "units/KANWIL-BALI/post.j2",
        "{# ok #}\n\n{% block greeting %}{{ unit.name {% endblock %}",
    )
    (bali,) = ws.preview("KANWIL-BALI", "puncak")
    assert bali.text == ""
    (finding,) = bali.findings
    assert finding["rule"] == "template.error"
    assert finding["source"] == "templates/units/KANWIL-BALI/post.j2:3"
    assert finding["message"].startswith("template syntax error")


def test_renderer_compiles_once_per_chain(ws: Workspace) -> None:
    renderer = Renderer(
        ws.root / "templates", {"name": "K", "short_name": None, "code": "K", "website": None}
    )
    a = renderer.chain(["KL-1", "KANWIL-BALI"], "service", "x")
    b = renderer.chain(["KL-2", "KANWIL-BALI"], "service", "x")
    assert a == b == ("builtin/x.j2",)
    assert renderer.env.get_template("builtin/x.j2") is renderer.env.get_template("builtin/x.j2")


def test_chain_hash_reads_each_file_once_and_digests_the_sources(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    renderer = Renderer(
        ws.root / "templates", {"name": "K", "short_name": None, "code": "K", "website": None}
    )
    chains = [("builtin/x.j2",), ("builtin/base.j2",), ("builtin/x.j2", "builtin/base.j2")]
    reads: list[str] = []
    read = renderer.loader.read

    def counted(name: str) -> tuple[str, str]:
        reads.append(name)
        return read(name)

    monkeypatch.setattr(renderer.loader, "read", counted)
    digests = [renderer.chain_hash(chain) for chain in chains]
    assert sorted(reads) == ["builtin/base.j2", "builtin/x.j2"]  # shared files read once
    for chain, found in zip(chains, digests, strict=True):
        h = hashlib.blake2b(digest_size=16)
        for name in chain:
            h.update(name.encode() + b"\0" + read(name)[0].encode() + b"\0")
        assert found == h.hexdigest()  # the digest stored by earlier plans: no re-render
    assert len(set(digests)) == 3
