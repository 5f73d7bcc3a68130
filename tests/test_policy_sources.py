"""Source policy (trusted domains, shorteners) and required elements, checked per variant."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from amplifier.load import load_workspace
from amplifier.platforms import _twitter
from amplifier.policy.config import PolicySettings, RequireSpec
from amplifier.policy.required import check_required, has_mention
from amplifier.policy.sources import (
    check_link,
    check_variant_sources,
    extract_links,
    link_host,
    normalize_url,
    source_rules,
)

REPO = Path(__file__).resolve().parents[1]
SETTINGS = PolicySettings(trusted_domains=["indonesia.go.id", "*.who.int", "data-*.example.org"])


def urls(text: str) -> list[str]:
    return [link.url for link in extract_links(text)]


def rules_of(text: str, link: str | None = None) -> list[str]:
    return [f.rule for f in check_variant_sources(text, SETTINGS, link=link)]


# --- finding links ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Info: https://www.kptd.go.id/layanan.", ["https://www.kptd.go.id/layanan"]),
        ("Lihat www.kptd.go.id, ya", ["www.kptd.go.id"]),
        ("Daftar di layanan.kptd.go.id/izin!", ["layanan.kptd.go.id/izin"]),
        ("Pendek: bit.ly/abc123 dan s.id/kptd", ["bit.ly/abc123", "s.id/kptd"]),
        (
            "(lihat https://id.wikipedia.org/wiki/Jakarta_(kota))",
            ["https://id.wikipedia.org/wiki/Jakarta_(kota)"],
        ),
        ("http://contoh.com:8080/a?b=1#c", ["http://contoh.com:8080/a?b=1#c"]),
        ("KPTD.GO.ID dan Www.Contoh.Com", ["KPTD.GO.ID", "Www.Contoh.Com"]),
        ("satu https://a.go.id\ndua https://b.go.id", ["https://a.go.id", "https://b.go.id"]),
    ],
)
def test_links_are_found(text: str, expected: list[str]) -> None:
    assert urls(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Tanpa tautan sama sekali, hanya teks biasa.",
        "Surel ke humas@kptd.go.id untuk pertanyaan.",
        "Ikuti @kptd.ri dan @kptd.kanwil.bali di Instagram.",
        "Tagar #kptd.id bukan tautan.",
        "Pukul 09.00 WIB, biaya Rp1.500.000, versi 2.0.",
        "Kepala Balai, S.Pd., M.Si. hadir. Selesai.Terima kasih.",
        "Berkas laporan.pdf dan data.xlsx terlampir.",
    ],
)
def test_no_links_in_ordinary_text(text: str) -> None:
    assert urls(text) == []


def test_spans_point_at_the_links() -> None:
    text = "Cek bit.ly/x1, lalu https://www.kptd.go.id/a."
    for link in extract_links(text):
        assert text[link.span[0] : link.span[1]] == link.url
    assert [link.host for link in extract_links(text)] == ["bit.ly", "www.kptd.go.id"]


def test_same_links_as_twitter_text() -> None:
    """On realistic text the fast extractor agrees with twitter-text's own."""
    texts = [
        "Selamat Hari Pelayanan Publik 2027! Info https://www.kptd.go.id/hpp-2027 #KPTDMelayani",
        "Unduh laporannya di www.kptd.go.id/laporan-kinerja/2026, ya.",
        "Pengaduan: layanan.kptd.go.id atau lapor.go.id. Terima kasih.",
        "Baca juga bit.ly/kptd-2027 dan https://contoh.com/berita?id=7.",
        "Tanpa tautan. Hanya 3.000 peserta pada 09.00 WIB.",
        "Video: https://www.youtube.com/watch?v=abc123 (durasi 3 menit)",
    ]
    for text in texts:
        theirs = [e["url"] for e in _twitter().extract_urls(text)]
        assert urls(text) == theirs, text


def test_host_and_normal_form() -> None:
    assert link_host("https://User@WWW.Kptd.go.id.:443/x?y#z") == "www.kptd.go.id"
    assert link_host("bit.ly/abc") == "bit.ly"
    assert normalize_url("https://www.kptd.go.id/ppid/") == "kptd.go.id/ppid"
    assert normalize_url("http://KPTD.go.id/ppid") == "kptd.go.id/ppid"


# --- trusted domains and shorteners -------------------------------------------------------------


def test_go_id_is_trusted_at_any_depth() -> None:
    for text in ("https://www.kptd.go.id/a", "kptd.go.id", "https://go.id", "lapor.go.id/x"):
        assert rules_of(text) == [], text


def test_untrusted_domains() -> None:
    for text in ("https://kptd.go.id.evil.com/a", "https://evilgo.id", "www.contoh.com"):
        assert rules_of(text) == ["policy.source.untrusted"], text
    [finding] = check_variant_sources("Baca www.contoh.com/berita.", SETTINGS)
    assert finding.severity == "review" and finding.category == "source"
    assert finding.span == (5, 26)
    assert "www.contoh.com/berita points to www.contoh.com" in finding.message


def test_workspace_entries_add_to_the_default() -> None:
    assert SETTINGS.trusted_domains[0] == "*.go.id"
    assert rules_of("https://indonesia.go.id") == []
    assert rules_of("https://www.who.int/x and who.int") == []
    assert rules_of("https://data-2027.example.org/x") == []
    assert rules_of("https://example.org/x") == ["policy.source.untrusted"]
    assert rules_of("https://covid.who.int.example.com") == ["policy.source.untrusted"]


def test_shorteners_are_flagged_even_on_trusted_lists() -> None:
    settings = PolicySettings(trusted_domains=["*.id"])
    found = check_variant_sources("Cek s.id/kptd dan https://www.bit.ly/x", settings)
    assert [f.rule for f in found] == ["policy.source.shortener", "policy.source.shortener"]
    assert "through the URL shortener s.id" in found[0].message
    assert PolicySettings(shorteners=["lnk.to"]).shorteners[-1] == "lnk.to"
    assert "bit.ly" in PolicySettings(shorteners=["lnk.to"]).shorteners


def test_post_link_is_checked_once() -> None:
    assert rules_of("Teks tanpa tautan.", link="https://bit.ly/x") == ["policy.source.shortener"]
    assert rules_of("Lihat bit.ly/x sekarang", link="https://bit.ly/x") == [
        "policy.source.shortener"
    ]
    [finding] = check_link("https://contoh.com/a", SETTINGS)
    assert finding.span is None and "the post's link" in finding.message


def test_bad_domain_setting_is_rejected() -> None:
    with pytest.raises(ValidationError, match="is not a domain"):
        PolicySettings(trusted_domains=["https://kptd.go.id/"])


def test_rules_are_compiled_once() -> None:
    assert source_rules(SETTINGS) is source_rules(SETTINGS)


def test_example_campaigns_cite_trusted_sources() -> None:
    ws = load_workspace(REPO)
    rules = source_rules(PolicySettings())
    for campaign in ws.campaigns:
        for url in campaign.links:
            assert check_link(url, rules) == []
        for post in campaign.posts:
            assert check_variant_sources(post.body, rules, link=post.link) == []


# --- required elements ---------------------------------------------------------------------------

TAGS = ["HariPelayananPublik", "KPTDMelayani"]
LINKS = ["https://www.kptd.go.id/hari-pelayanan-publik-2027", "https://www.kptd.go.id/pengaduan"]
ALL = RequireSpec(hashtags=True, link=True, mention_central=True)


def required(text: str, require: RequireSpec = ALL, **kwargs: str | None) -> list[str]:
    args: dict[str, str | None] = {"central_handle": "kptd_ri", **kwargs}
    return [
        f.rule
        for f in check_required(text, require, hashtags=TAGS, links=LINKS, post_link=None, **args)
    ]


def test_all_present() -> None:
    text = (
        "Selamat #haripelayananpublik! Ikuti @KPTD_RI. Info http://kptd.go.id/pengaduan/ "
        "#KPTDMelayani"
    )
    assert required(text) == []


def test_all_missing() -> None:
    found = check_required(
        "Teks biasa.", ALL, hashtags=TAGS, links=LINKS, post_link=None, central_handle="kptd_ri"
    )
    assert [(f.rule, f.severity, f.span) for f in found] == [
        ("policy.required.hashtags", "review", None),
        ("policy.required.link", "review", None),
        ("policy.required.mention_central", "review", None),
    ]
    assert found[0].message == "missing campaign hashtags #HariPelayananPublik #KPTDMelayani"
    assert "https://www.kptd.go.id/hari-pelayanan-publik-2027 or" in found[1].message
    assert found[2].message == "missing a mention of the central account @kptd_ri"


def test_hashtags_must_be_whole() -> None:
    text = (
        "#HariPelayananPublik2027 #KPTDMelayani x#HariPelayananPublik @kptd_ri kptd.go.id/pengaduan"
    )
    found = check_required(text, ALL, hashtags=TAGS, links=LINKS, central_handle="kptd_ri")
    assert [f.message for f in found] == ["missing campaign hashtag #HariPelayananPublik"]


def test_link_must_be_one_of_them() -> None:
    text = "#HariPelayananPublik #KPTDMelayani @kptd_ri https://www.kptd.go.id/pengaduan-lama"
    assert required(text) == ["policy.required.link"]
    post = "https://www.kptd.go.id/berita/1"
    found = check_required(
        "lihat www.kptd.go.id/berita/1", RequireSpec(link=True), links=LINKS, post_link=post
    )
    assert found == []


@pytest.mark.parametrize(
    ("text", "present"),
    [
        ("lihat https://www.kptd.go.id/pengaduan.", True),
        ("https://kptd.go.id/pengaduan/ sekarang", True),
        ("(www.KPTD.go.id/Pengaduan)", True),
        ("kptd.go.id/pengaduan?utm_source=x", True),
        ("sudah cek kptd.go.id/pengaduan?", True),
        ("https://www.kptd.go.id/pengaduan-lama", False),
        ("https://evilkptd.go.id/pengaduan", False),
        ("https://lain.kptd.go.id/pengaduan", False),
        ("kptd.go.id/pengaduan.html", False),
        ("kptd.go.id/pengaduan/arsip", False),
        ("https://lain.com/kptd.go.id/pengaduan", False),
    ],
)
def test_required_link_is_matched_whole(text: str, present: bool) -> None:
    found = check_required(text, RequireSpec(link=True), links=["https://www.kptd.go.id/pengaduan"])
    assert (found == []) is present


def test_mentions() -> None:
    assert has_mention("Ikuti @kptd.ri.", "kptd.ri")
    assert has_mention("(@kptd_ri)", "@kptd_ri")
    assert has_mention("@Kptd_Ri halo", "kptd_ri")
    assert not has_mention("@@kptd_ri", "kptd_ri")
    assert not has_mention("Ikuti @kptd_ri2", "kptd_ri")
    assert not has_mention("Ikuti @kptd.ri.bali", "kptd.ri")
    assert not has_mention("surel humas@kptd_ri", "kptd_ri")
    assert not has_mention("kptd_ri tanpa @", "kptd_ri")


def test_nothing_to_ask() -> None:
    assert required("Teks biasa.", RequireSpec()) == []
    assert required("Teks biasa.", RequireSpec(mention_central=True), central_handle=None) == []
    assert (
        required(
            "Teks biasa.",
            RequireSpec(mention_central=True),
            central_handle="kptd_ri",
            account_handle="KPTD_RI",
        )
        == []
    )
    assert check_required("Teks", RequireSpec(hashtags=True, link=True)) == []
