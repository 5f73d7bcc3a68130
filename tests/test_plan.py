"""plan: stable identity, no writes on unchanged input, only affected variants re-render,
published variants never change, removed targets are cancelled."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from amplifier import database
from amplifier.cli.app import run
from amplifier.findings import Finding
from amplifier.models import Variant
from amplifier.plan import (
    STAGES,
    Planner,
    Stages,
    _Account,
    _can_fork,
    _digest_middle,
    _input_hash,
    _Unit,
    content_hash,
    digest,
    idempotency_key,
)
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import WorkspaceFactory
from tests.test_sync import dump

CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT Kementerian
    period: {start: 2027-10-01, end: 2027-10-31}
    hashtags: [HUTKPTD]
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: Pos pertama.
      - key: dua
        at: 2027-10-30T09:00:00+07:00
        body: Pos kedua.
"""


@pytest.fixture
def ws(make_workspace: WorkspaceFactory, database_url: str) -> Workspace:
    w = Workspace.open(make_workspace(calendars={"hut.yaml": CALENDAR}), database_url=database_url)
    w.sync()
    return w


def texts(ws: Workspace) -> dict[tuple[int, int], str]:
    return {(v.post_id, v.account_id): v.text for v in ws.variants()}


def test_plan_then_replan_writes_nothing(ws: Workspace) -> None:
    first = ws.plan()
    assert first.counts["created"] == 4  # 2 posts x 2 accounts
    # clean variants are approved automatically, then timed
    assert all(v.text and v.status == VariantStatus.SCHEDULED for v in ws.variants())
    assert all(v.publish_at is not None and v.publish_at > v.updated_at for v in ws.variants())
    before = dump(ws)
    second = ws.plan()
    assert second.counts["unchanged"] == 4 and second.counts["created"] == 0
    assert dump(ws) == before  # not even updated_at moved


def test_editing_a_post_rerenders_only_its_variants(
    ws: Workspace, make_workspace: WorkspaceFactory
) -> None:
    ws.plan()
    ids = {(v.post_id, v.account_id): v.id for v in ws.variants()}
    make_workspace(
        calendars={"hut.yaml": CALENDAR.replace("Pos kedua.", "Pos kedua, diperbarui.")},
        root=ws.root,
    )
    ws.sync()
    summary = ws.plan()
    assert summary.counts["updated"] == 2 and summary.counts["unchanged"] == 2
    assert {(v.post_id, v.account_id): v.id for v in ws.variants()} == ids  # identity is stable
    assert sum("diperbarui" in t for t in texts(ws).values()) == 2


def test_editing_a_unit_template_rerenders_only_that_unit(ws: Workspace) -> None:
    ws.plan()
    folder = ws.root / "templates" / "units" / "KANWIL-BALI"
    folder.mkdir(parents=True)
    (folder / "post.j2").write_text("{% block greeting %}Om Swastyastu!{% endblock %}")
    summary = ws.plan()
    assert summary.counts["updated"] == 2 and summary.counts["unchanged"] == 2
    bali = [v for v in ws.variants() if v.text.startswith("Om Swastyastu!")]
    assert len(bali) == 2


def test_published_variants_are_never_rewritten(
    ws: Workspace, make_workspace: WorkspaceFactory
) -> None:
    ws.plan()
    first = ws.variants()[0]
    with ws.engine.begin() as conn:
        conn.execute(
            sa.update(Variant.__table__)  # type: ignore[attr-defined]
            .where(Variant.__table__.c.id == first.id)  # type: ignore[attr-defined]
            .values(status=VariantStatus.PUBLISHED)
        )
    edited = CALENDAR.replace("Pos pertama.", "Pos pertama, berubah.").replace(
        "Pos kedua.", "Berubah."
    )
    make_workspace(calendars={"hut.yaml": edited}, root=ws.root)
    ws.sync()
    summary = ws.plan()
    assert summary.counts["kept"] == 1
    after = {v.id: v for v in ws.variants()}
    assert after[first.id].text == first.text and after[first.id].status == VariantStatus.PUBLISHED
    # removing the post does not touch it either; the others are cancelled, not deleted
    (ws.root / "calendars" / "hut.yaml").unlink()
    ws.sync()
    summary = ws.plan()
    final = {v.id: v for v in ws.variants()}
    assert len(final) == 4
    assert final[first.id].status == VariantStatus.PUBLISHED
    cancelled = [v for v in final.values() if v.status == VariantStatus.CANCELLED]
    assert len(cancelled) == 3 and all(v.reasons for v in cancelled)


def test_removed_target_is_cancelled_and_restored(
    ws: Workspace, make_workspace: WorkspaceFactory
) -> None:
    ws.plan()
    narrowed = CALENDAR.replace(
        "    hashtags: [HUTKPTD]\n", "    hashtags: [HUTKPTD]\n    targets: {kinds: [central]}\n"
    )
    make_workspace(calendars={"hut.yaml": narrowed}, root=ws.root)
    ws.sync()
    summary = ws.plan()
    assert summary.counts["cancelled"] == 2
    assert sorted(v.status for v in ws.variants()).count(VariantStatus.CANCELLED) == 2
    make_workspace(calendars={"hut.yaml": CALENDAR}, root=ws.root)
    ws.sync()
    summary = ws.plan()
    assert summary.counts["updated"] == 2
    assert all(v.status == VariantStatus.SCHEDULED for v in ws.variants())


def test_over_limit_variant_gets_a_finding_and_is_not_truncated(
    ws: Workspace, make_workspace: WorkspaceFactory
) -> None:
    long_body = "Kalimat panjang tentang layanan publik. " * 12
    make_workspace(
        calendars={"hut.yaml": CALENDAR.replace("Pos pertama.", long_body.strip())}, root=ws.root
    )
    ws.sync()
    folder = ws.root / "templates" / "institution"
    folder.mkdir(parents=True)
    (folder / "post.x.j2").write_text("{% block body %}{{ post.body }}{% endblock %}")
    summary = ws.plan()
    x_findings = [f for f in summary.findings if f["rule"] == "platform.x.length"]
    assert len(x_findings) == 1
    assert x_findings[0]["severity"] == "block"
    assert x_findings[0]["source"] == "templates/institution/post.x.j2"
    assert long_body.strip() in "".join(v.text for v in ws.variants())


def test_cli_plan_json_and_targets(
    ws: Workspace, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    base = ["-w", str(ws.root), "--database-url", database_url]
    assert run([*base, "plan", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["created"] == 4 and summary["by_status"] == {"scheduled": 4}
    assert list(summary["stages"]) == list(STAGES) and len(summary["parts"]) == 1
    assert run([*base, "targets", "hut/satu", "-f", "json"]) == 0
    targets = json.loads(capsys.readouterr().out)
    assert {t["unit"] for t in targets} == {"PUSAT", "KANWIL-BALI"}
    assert run([*base, "preview", "KANWIL-BALI", "satu", "--explain"]) == 0
    shown = capsys.readouterr().out
    assert "Pos pertama." in shown and "amplifier:builtin/instagram.j2" in shown
    assert run([*base, "preview", "KANWIL-BALI", "tiga"]) == 2
    assert "no post 'tiga'" in capsys.readouterr().err


def test_idempotency_keys_are_stable_across_databases(
    make_workspace: WorkspaceFactory, tmp_path: Path
) -> None:
    root = make_workspace(calendars={"hut.yaml": CALENDAR})
    keys = []
    for name in ("a", "b"):
        w = Workspace.open(root, database_url=f"sqlite:///{tmp_path / name}.db")
        w.sync()
        w.plan()
        keys.append(sorted(v.idempotency_key for v in w.variants()))
    assert keys[0] == keys[1] and len(set(keys[0])) == 4


def _columns(ws: Workspace) -> list[tuple[object, ...]]:
    """Every stored column of every variant except the time it was written."""
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.select(Variant.__table__).order_by(sa.text("id"))).mappings()  # type: ignore[attr-defined]
        return [tuple(v for k, v in r.items() if k != "updated_at") for r in rows]


@pytest.mark.skipif(not _can_fork(), reason="the second process is used only where fork() is safe")
def test_a_two_process_plan_writes_what_a_serial_plan_writes(
    make_workspace: WorkspaceFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratched: list[tuple[str, ...]] = []  # the helper's new rows come through a scratch db
    copy = database.Scratch.copy
    monkeypatch.setattr(
        database.Scratch,
        "copy",
        lambda self, conn, names, constants=(): (
            scratched.append(names),
            copy(self, conn, names, constants),
        ),
    )
    root = make_workspace(calendars={"hut.yaml": CALENDAR})
    template = root / "templates" / "units" / "KANWIL-BALI" / "post.j2"
    template.parent.mkdir(parents=True)
    # a broken unit template: the helper process renders post 'dua', which fails there too
    template.write_text("{% block local %}{{ unit.name }} {{ 1 // 0 }}{% endblock %}")
    plans = []
    for processes in (1, 2):
        w = Workspace.open(root, database_url=f"sqlite:///{tmp_path / f'p{processes}.db'}")
        w.sync()
        summary = Planner(w, stages=Stages(processes=processes)).run()
        plans.append((summary, _columns(w), w))
    (serial, serial_rows, _), (parallel, parallel_rows, w) = plans
    assert len(scratched) == 1 and "text" in scratched[0]
    assert parallel_rows == serial_rows and len(parallel_rows) == 4
    assert parallel.findings == serial.findings
    failed = {f["post"] for f in parallel.findings if f["unit"] == "KANWIL-BALI"}
    assert failed == {"hut/satu", "hut/dua"}
    assert all(f["rule"] == "template.error" for f in parallel.findings)
    bali = next(n.id for r in w.unit_tree() for n in r.walk() if n.code == "KANWIL-BALI")
    others = [v for v in w.variants() if v.unit_id != bali]
    assert others and all(v.text and v.status == VariantStatus.SCHEDULED for v in others)
    # each part reports its own platforms and steps; the two together cover every platform
    (only,) = serial.parts
    assert only["platforms"] is None and "insert" not in only and "copy" not in only
    first, second = parallel.parts
    assert not set(first["platforms"]) & set(second["platforms"])
    with w.engine.connect() as conn:
        platforms = set(conn.execute(sa.text("SELECT DISTINCT platform FROM account")).scalars())
    assert set(first["platforms"]) | set(second["platforms"]) == platforms
    assert "insert" in first and "copy" in second
    for part in parallel.parts:
        assert all(part[k] >= 0 for k in ("render", "time", "prepare"))
    # the parent's side of the parts: its own, then its insert and the copy
    assert parallel.stages["parts"] >= first["render"] + first["insert"] + second["copy"]


def test_the_summary_times_each_stage(ws: Workspace) -> None:
    summary = ws.plan()
    assert tuple(summary.stages) == STAGES
    assert all(seconds >= 0 for seconds in summary.stages.values())
    assert sum(summary.stages.values()) <= summary.seconds
    (part,) = summary.parts
    assert summary.stages["parts"] >= part["render"] + part["time"] + part["prepare"]
    out = summary.as_dict()
    assert list(out["stages"]) == list(STAGES) and out["parts"][0]["platforms"] is None
    again = ws.plan()  # unchanged input: where the plan state settles it, nothing compared
    if again.compared:
        assert tuple(again.stages) == STAGES and len(again.parts) == 1
    else:
        assert tuple(again.stages) == ("read", "finish") and not again.parts


def test_digests_are_stable_across_versions() -> None:
    # stored input hashes and idempotency keys must not change when the code does:
    # each part, then a unit separator (0x1f), blake2b-128
    assert digest("variant", None, 1, ["x"], "é") == "1ccc27beda73ccc5926775d43905bd90"
    assert digest(b"variant", None, 1, ["x"], "é") == "1ccc27beda73ccc5926775d43905bd90"


def _org_of(units: int, *, without: str | None = None) -> str:
    """MINIMAL_ORG's central unit and ``units`` regional offices with three accounts each
    (``without``: leave that unit's facebook account out)."""
    lines = [
        "institution: {code: KPTD, name: Kementerian Contoh}",
        "units:",
        "  - {code: PUSAT, name: Kantor Pusat, kind: central, timezone: Asia/Jakarta,",
        "     accounts: [{platform: x, handle: kptd_ri}]}",
    ]
    zones = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")
    for i in range(units):
        code = f"KANWIL-{i}"
        accounts = [f"{{platform: x, handle: kptd_kanwil{i}}}"]
        accounts.append(f"{{platform: instagram, handle: kptd.kanwil.w{i}}}")
        if code != without:
            accounts.append(f"{{platform: facebook, handle: kptd.kanwil.w{i}}}")
        lines += [
            f"  - {{code: {code}, name: Kantor Wilayah {i}, kind: regional, parent: PUSAT,",
            f"     timezone: {zones[i % 3]}, accounts: [{', '.join(accounts)}]}}",
        ]
    return "\n".join(lines) + "\n"


BUSY_CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT Kementerian
    period: {start: 2027-10-01, end: 2027-10-31}
    priority: 1
    timing: {window: {relative: {start: 30m, end: 3h}}}
    posts:
      - {key: satu, at: 2027-10-29T09:00:00+07:00, body: Pos pertama.}
      - {key: dua, at: 2027-10-29T10:00:00+07:00, body: Pos kedua.}
  - slug: layanan
    title: Layanan Daring
    period: {start: 2027-10-01, end: 2027-10-31}
    timing: {window: {relative: {start: 0m, end: 2h}}}
    posts:
      - {key: tiga, at: 2027-10-29T09:30:00+07:00, body: Pos ketiga.}
"""

BUSY_SETTINGS = """\
[timing]
min_gap = "90m"
max_per_day = 2
step = "5m"
"""


@pytest.mark.skipif(not _can_fork(), reason="the second process is used only where fork() is safe")
def test_a_two_process_plan_times_and_replans_like_a_serial_plan(
    make_workspace: WorkspaceFactory, tmp_path: Path, database_url: str
) -> None:
    """Two processes split the platforms and each times its own: with accounts on three
    platforms, tight gaps and caps (conflicts across campaigns, some variants left
    unscheduled), an edit, a removed account and a new unit, every stored column and the
    summary equal a serial plan's after each step."""
    results: dict[int, list[object]] = {1: [], 2: []}
    for processes in (1, 2):
        root = make_workspace(
            org=_org_of(12),
            calendars={"c.yaml": BUSY_CALENDAR},
            settings=BUSY_SETTINGS,
            root=tmp_path / f"ws{processes}",
        )
        # the serial plan on SQLite, the two-process one on SQLite and on PostgreSQL
        url = database_url if processes == 2 else f"sqlite:///{tmp_path / 'serial.db'}"
        w = Workspace.open(root, database_url=url)
        w.sync()
        stages = Stages(processes=processes)
        for step in range(4):
            if step == 1:  # an edit re-renders one post; its variants are timed again
                calendar = root / "calendars" / "c.yaml"
                calendar.write_text(calendar.read_text().replace("Pos kedua.", "Pos dua."))
                w.sync()
            if step == 2:  # an account removed: its variants are cancelled
                (root / "org.yaml").write_text(_org_of(12, without="KANWIL-3"))
                w.sync()
            if step == 3:  # a new unit: its variants are new, amid stored ones (and ids)
                (root / "org.yaml").write_text(_org_of(13, without="KANWIL-3"))
                w.sync()
            summary = Planner(w, stages=stages).run()
            if processes == 2:  # with new variants, each part targets its own platforms
                assert all(("target" in p) == (step in (0, 3)) for p in summary.parts)
            with w.engine.connect() as conn:  # the digest of what the timing read
                state = conn.execute(sa.text("SELECT scope, digest FROM timing_state")).all()
            if w.engine.dialect.name != "sqlite":  # rows read from another kind of database
                state = [(scope, bool(digest)) for scope, digest in state]
            results[processes].append(
                (dict(summary.counts), summary.by_status, summary.findings, _columns(w), state)
            )
        w.engine.dispose()
    serial, parallel = results[1], results[2]
    if database_url.startswith("postgresql"):
        serial = [(*step[:4], [(s, bool(d)) for s, d in step[4]]) for step in serial]
    assert parallel == serial
    counts, by_status, _, rows, state = serial[0]
    assert state
    assert counts["created"] == 111 and len(rows) == 111  # 37 accounts x 3 posts
    assert by_status["scheduled"] and by_status["unscheduled"]  # the caps bit
    assert serial[1][0]["updated"] == 37 and serial[2][0]["cancelled"] == 3
    assert serial[3][0]["created"] == 9 and len(serial[3][3]) == 120


@given(st.text(), st.one_of(st.none(), st.text()))
def test_content_hash_is_the_digest_of_text_and_title(text: str, title: str | None) -> None:
    assert content_hash(text, title) == digest(text, title or "")


@given(st.text(), st.text(), st.text(), st.text())
def test_idempotency_key_is_the_digest_of_its_parts(
    slug: str, key: str, platform: str, handle: str
) -> None:
    # keys already stored (and sent to publishers) must not change
    assert idempotency_key(slug, key, platform, handle) == digest(
        "variant", slug, key, platform, handle
    )
    assert idempotency_key("hut-kptd", "pembukaan", "x", "kptd_ri") == (
        digest("variant", "hut-kptd", "pembukaan", "x", "kptd_ri")
    )


@given(
    st.builds(
        Finding,
        rule=st.text(max_size=5),
        severity=st.sampled_from(["block", "review", "info"]),
        message=st.text(max_size=5),
        category=st.text(max_size=3),
        span=st.one_of(st.none(), st.tuples(st.integers(0, 9), st.integers(0, 9))),
        field=st.sampled_from(["text", "title", ""]),
        source=st.one_of(st.none(), st.text(max_size=3)),
    )
)
def test_finding_as_dict_is_its_non_empty_fields(finding: Finding) -> None:
    data = dataclasses.asdict(finding)
    if finding.span is not None:
        data["span"] = list(finding.span)
    assert finding.as_dict() == {k: v for k, v in data.items() if v not in (None, "")}


@given(st.text(), st.text(), st.text(), st.text(), st.one_of(st.none(), st.text()), st.text())
def test_the_input_digest_is_the_digest_of_its_parts(
    post: str, unit_hash: str, platform: str, handle: str, url: str | None, chain: str
) -> None:
    unit = _Unit(1, "U", "service", "Asia/Jakarta", ("U",), {}, unit_hash)
    account = _Account(1, platform, handle, handle.lower(), url, {})
    expected = digest(post, unit_hash, platform, handle, url, chain)
    assert _input_hash(post, _digest_middle(unit, account), chain) == expected
