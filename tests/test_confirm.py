"""Proof of posting: URL rules per platform, confirming one variant, bulk import."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from amplifier.confirm import check_post_url, confirm_variant, import_confirmations
from amplifier.errors import InvalidOperation, NotFound
from amplifier.exports import export_csv
from amplifier.models import Variant
from amplifier.vocab import VariantStatus
from amplifier.workspace import Workspace
from tests.conftest import MINIMAL_ORG, Planned, invoke_exports, plan_workspace

V = Variant.__table__  # type: ignore[attr-defined]
NOW = dt.datetime(2027, 10, 29, 6, 0, tzinfo=dt.UTC)
CALENDAR = """\
campaigns:
  - slug: hut
    title: HUT
    period: {start: 2027-10-01, end: 2027-10-31}
    timing: {window: {relative: {start: 30m, end: 1d}}}
    posts:
      - key: satu
        at: 2027-10-29T09:00:00+07:00
        body: Pos pertama.
      - key: dua
        at: 2027-10-30T09:00:00+07:00
        body: Pos kedua.
"""
TWEET = "https://x.com/kptd_ri/status/1790000000000000001"
GRAM = "https://www.instagram.com/p/C8abc_12-x/"


# --- URL rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "handle", "url"),
    [
        ("x", "kptd_ri", "https://x.com/kptd_ri/status/1790000000000000001"),
        ("x", "kptd_ri", "https://twitter.com/KPTD_RI/status/1790000000000000001?s=20"),
        ("x", "kptd_ri", "http://mobile.twitter.com/kptd_ri/status/1790000000000000001/photo/1"),
        ("instagram", "kptd.kanwil.bali", "https://www.instagram.com/p/C8abc_12-x/"),
        ("instagram", "kptd.kanwil.bali", "https://instagram.com/reel/C8abc12x/?igsh=abc"),
        ("instagram", "kptd.kanwil.bali", "https://www.instagram.com/kptd.kanwil.bali/p/C8abc/"),
        ("tiktok", "kptd.ri", "https://www.tiktok.com/@kptd.ri/video/7390000000000000000"),
        ("youtube", "kptd.ri", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3s"),
        ("youtube", "kptd.ri", "https://youtu.be/dQw4w9WgXcQ"),
        ("youtube", "kptd.ri", "https://youtube.com/shorts/dQw4w9WgXcQ"),
        ("facebook", "kptd.ri", "https://www.facebook.com/kptd.ri/posts/pfbid02abcDEF"),
        ("facebook", "kptd.ri", "https://www.facebook.com/permalink.php?story_fbid=1&id=2"),
        ("facebook", "kptd.ri", "https://www.facebook.com/share/p/1AbCdEf/"),
        ("facebook", "kptd.ri", "https://www.facebook.com/100064000000000/posts/123"),
        ("facebook", "kptd.ri", "https://fb.watch/abcDEF12/"),
        ("threads", "kptd.ri", "https://www.threads.net/@kptd.ri/post/C8abcDEF"),
        ("threads", "kptd.ri", "https://www.threads.com/@KPTD.RI/post/C8abcDEF"),
    ],
)
def test_accepted_urls(platform: str, handle: str, url: str) -> None:
    assert check_post_url(platform, handle, url) is None


@pytest.mark.parametrize(
    ("platform", "handle", "url", "reason"),
    [
        ("x", "kptd_ri", "https://x.com/orang_lain/status/1", "on @orang_lain, not on"),
        ("x", "kptd_ri", "https://instagram.com/p/abc/", "not on X (twitter.com, x.com)"),
        ("x", "kptd_ri", "https://x.com/kptd_ri", "not a link to one X post"),
        ("x", "kptd_ri", "https://x.com/i/web/status/1", "does not name the account"),
        ("x", "kptd_ri", "https://x.com@evil.example/kptd_ri/status/1", "user name or password"),
        ("x", "kptd_ri", "https://x.com.evil.example/kptd_ri/status/1", "not on X"),
        ("x", "kptd_ri", "x.com/kptd_ri/status/1", "starting with https://"),
        ("x", "kptd_ri", "https://x.com/kptd_ri/status/1 2", "spaces"),
        ("instagram", "kptd.bali", "https://www.instagram.com/kptd.bali/", "not a link to one"),
        ("instagram", "kptd.bali", "https://www.instagram.com/lain/p/C8abc/", "on @lain"),
        ("tiktok", "kptd.ri", "https://www.tiktok.com/@lain/video/739", "on @lain"),
        ("tiktok", "kptd.ri", "https://vm.tiktok.com/ZSabc/", "short TikTok link"),
        ("youtube", "kptd.ri", "https://www.youtube.com/@kptd.ri", "not a link to one YouTube"),
        ("youtube", "kptd.ri", "https://youtu.be/short", "not a link to one YouTube"),
        ("facebook", "kptd.ri", "https://www.facebook.com/lain/posts/123", "on @lain"),
        ("facebook", "kptd.ri", "https://www.facebook.com/groups/1/posts/2", "not a post of"),
        ("threads", "kptd.ri", "https://www.threads.net/@lain/post/C8a", "on @lain"),
        ("threads", "kptd.ri", "https://x.com/kptd.ri/status/1", "not on Threads"),
    ],
)
def test_rejected_urls_say_why(platform: str, handle: str, url: str, reason: str) -> None:
    problem = check_post_url(platform, handle, url)
    assert problem is not None and reason in problem, problem


# --- confirming -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Planned:
    return plan_workspace(tmp_path_factory.mktemp("confirm"), MINIMAL_ORG, {"hut.yaml": CALENDAR})


def variant(ws: Workspace, platform: str, post: int = 0) -> Variant:
    """The ``post``-th variant (by id) of the unit's account on ``platform``."""
    unit = 1 if platform == "x" else 2
    return ws.variants(unit_id=unit)[post]


def update(ws: Workspace, variant_id: int | None, **values: Any) -> None:
    with ws.engine.begin() as conn:
        conn.execute(sa.update(V).where(V.c.id == variant_id).values(**values))


def reload(ws: Workspace, variant_id: int | None) -> Variant:
    (found,) = ws.variants(id=variant_id)
    return found


@pytest.mark.parametrize("status", ["scheduled", "missed", "uncertain", "failed"])
def test_confirming_marks_published(ws: Workspace, status: str) -> None:
    v = variant(ws, "x")
    update(ws, v.id, status=status)
    result = confirm_variant(ws, v.id or 0, TWEET, now=NOW)
    assert result.result == "ok" and result.status == "published"
    after = reload(ws, v.id)
    assert after.status == VariantStatus.PUBLISHED
    assert after.external_url == TWEET and after.confirmed_at == NOW
    assert after.published_at == NOW and after.due_at is None
    assert after.text == v.text and after.content_hash == v.content_hash
    assert after.reasons[-1].startswith("confirmed published by hand")


def test_published_variant_keeps_its_text_and_gets_its_url(ws: Workspace) -> None:
    v = variant(ws, "instagram")
    went_out = NOW - dt.timedelta(hours=2)
    update(ws, v.id, status=VariantStatus.PUBLISHED, published_at=went_out)
    confirm_variant(ws, v.id or 0, GRAM, now=NOW)
    after = reload(ws, v.id)
    assert (after.status, after.published_at, after.text) == ("published", went_out, v.text)
    assert (after.external_url, after.confirmed_at) == (GRAM, NOW)
    again = confirm_variant(ws, v.id or 0, GRAM, now=NOW + dt.timedelta(hours=1))
    assert again.reason == "already recorded"
    assert reload(ws, v.id).confirmed_at == NOW  # unchanged


def test_confirm_refusals(ws: Workspace) -> None:
    v = variant(ws, "x")
    with pytest.raises(InvalidOperation, match="on @lain, not on this account"):
        confirm_variant(ws, v.id or 0, "https://x.com/lain/status/1")
    with pytest.raises(InvalidOperation, match="not on X"):
        confirm_variant(ws, v.id or 0, GRAM)
    with pytest.raises(NotFound):
        confirm_variant(ws, 999, TWEET)
    update(ws, v.id, status=VariantStatus.PENDING)
    with pytest.raises(InvalidOperation, match="pending"):
        confirm_variant(ws, v.id or 0, TWEET)
    update(ws, v.id, status=VariantStatus.CANCELLED)
    with pytest.raises(InvalidOperation, match="cancelled"):
        confirm_variant(ws, v.id or 0, TWEET)
    assert reload(ws, v.id).external_url is None


def test_bulk_import_reports_every_row(ws: Workspace, tmp_path: Path) -> None:
    x1, x2 = variant(ws, "x", 0), variant(ws, "x", 1)
    ig = variant(ws, "instagram")
    path = tmp_path / "tautan.csv"
    path.write_text(
        "\ufeffvariant,url,catatan\n"
        f"{x1.id},{TWEET},benar\n"
        f"{x2.id},https://x.com/lain/status/2,akun lain\n"
        f"{ig.id},{GRAM},benar\n"
        "999,https://x.com/kptd_ri/status/3,tidak ada\n"
        f"{x1.id},{TWEET},ganda\n"
        "abc,https://x.com/kptd_ri/status/4,bukan angka\n"
        f"{x2.id},,kosong\n",
        encoding="utf-8",
    )
    results = import_confirmations(ws, path, now=NOW)
    got = [(r.row, r.result) for r in results]
    assert got == [
        (2, "ok"),
        (3, "rejected"),
        (4, "ok"),
        (5, "rejected"),
        (6, "rejected"),
        (7, "rejected"),
        (8, "skipped"),
    ]
    reasons = [r.reason or "" for r in results]
    assert "on @lain" in reasons[1] and reasons[3] == "no variant 999"
    assert "already in this file (row 2)" in reasons[4] and "not a variant id" in reasons[5]
    assert reload(ws, x1.id).external_url == TWEET and reload(ws, ig.id).external_url == GRAM
    assert reload(ws, x2.id).status == VariantStatus.SCHEDULED


def test_bulk_import_json_and_the_exported_csv(ws: Workspace, tmp_path: Path) -> None:
    x1, ig = variant(ws, "x"), variant(ws, "instagram")
    path = tmp_path / "tautan.json"
    path.write_text(json.dumps([{"variant": x1.id, "url": TWEET}, {"variant": ig.id, "url": ""}]))
    assert [r.result for r in import_confirmations(ws, path, now=NOW)] == ["ok", "skipped"]
    # the team fills in external_url in the exported spreadsheet and imports it back
    exported = tmp_path / "variants.csv"
    export_csv(ws, exported, bom=True)
    with open(exported, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if int(row["variant"]) == ig.id:
            row["external_url"] = GRAM
    with open(exported, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    results = {r.variant: r.result for r in import_confirmations(ws, exported, now=NOW)}
    assert results[ig.id] == "ok" and results[x1.id] == "ok"  # already recorded
    assert sorted(results.values()).count("skipped") == len(rows) - 2


def test_bad_import_files(ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,link\n1,https://x.com/a/status/1\n")
    with pytest.raises(InvalidOperation, match="needs the columns variant and url"):
        import_confirmations(ws, bad)
    broken = tmp_path / "bad.json"
    broken.write_text("[{")
    with pytest.raises(InvalidOperation, match="not valid JSON"):
        import_confirmations(ws, broken)


# --- the command ----------------------------------------------------------------------------


def test_confirm_command(ws: Workspace, tmp_path: Path) -> None:
    x1, x2 = variant(ws, "x", 0), variant(ws, "x", 1)
    code, stdout, _ = invoke_exports(ws, "confirm", str(x1.id), TWEET)
    assert code == 0 and "confirmed: published" in stdout
    assert invoke_exports(ws, "confirm", str(x2.id), GRAM)[0] == 2
    assert invoke_exports(ws, "confirm")[0] == 2

    mixed = tmp_path / "mixed.csv"
    mixed.write_text(f"variant,url\n{x2.id},https://x.com/lain/status/5\n{x1.id},{TWEET}\n")
    code, stdout, _ = invoke_exports(ws, "confirm", "--import", str(mixed), "-f", "json")
    data = json.loads(stdout)
    assert code == 2 and (data["ok"], data["rejected"]) == (1, 1)
    assert [r["result"] for r in data["rows"]] == ["rejected", "ok"]
    good = tmp_path / "good.csv"
    good.write_text(f"variant,url\n{x2.id},https://x.com/kptd_ri/status/6\n")
    code, stdout, _ = invoke_exports(ws, "confirm", "--import", str(good))
    assert code == 0 and "1 ok, 0 rejected" in stdout
    assert invoke_exports(ws, "confirm", "1", TWEET, "--import", str(good))[0] == 2
