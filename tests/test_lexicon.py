"""Tests for amplifier.policy.lexicon: the lexicon files and the obfuscation-resistant matcher."""

from __future__ import annotations

import dataclasses
import re
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amplifier.policy.lexicon import (
    CATEGORIES,
    Category,
    Lexicon,
    LexiconEntry,
    LexiconError,
    LexiconMatch,
    Severity,
)

LEXICON = Lexicon.defaults()


def hits(text: str, **kwargs: object) -> list[tuple[str, str]]:
    """(rule id, matched text) of every match, checking each span against the text."""
    found = LEXICON.scan(text, **kwargs)  # type: ignore[arg-type]
    for m in found:
        assert text[m.start : m.end] == m.matched
    return [(m.rule_id, m.matched) for m in found]


# --------------------------------------------------------------------------- should match

SHOULD_MATCH = [
    # (text, rule id, exact original substring that must be reported)
    ("Dasar bangsat!", "profanity.bangsat", "bangsat"),
    ("BANGSAT kalian semua", "profanity.bangsat", "BANGSAT"),
    ("kelakuanmu kayak b4ngs4t", "profanity.bangsat", "b4ngs4t"),
    ("oknum bangs@t itu", "profanity.bangsat", "bangs@t"),
    ("dasar bang$at", "profanity.bangsat", "bang$at"),
    ("dasar bang5a7", "profanity.bangsat", "bang5a7"),
    ("k3parat semua!", "profanity.keparat", "k3parat"),
    ("t0l0l banget", "profanity.tolol", "t0l0l"),
    ("to1o1 banget", "profanity.tolol", "to1o1"),
    ("g0bl0k!!", "profanity.goblok", "g0bl0k"),
    ("bangsaaaaat", "profanity.bangsat", "bangsaaaaat"),
    ("anjiiiiing", "profanity.anjing", "anjiiiiing"),
    ("4njing", "profanity.anjing", "4njing"),
    ("a.n.j.i.n.g", "profanity.anjing", "a.n.j.i.n.g"),
    ("dasar a n j i n g", "profanity.dasar-hewan", "dasar a n j i n g"),
    ("kamu a n j i n g", "profanity.anjing", "a n j i n g"),
    ("b-a-n-g-s-a-t", "profanity.bangsat", "b-a-n-g-s-a-t"),
    ("bang-sat lu", "profanity.bangsat", "bang-sat"),
    ("b_a_n_g_s_a_t", "profanity.bangsat", "b_a_n_g_s_a_t"),
    ("ba\u200bngsat", "profanity.bangsat", "ba\u200bngsat"),
    ("ba\u00adng\u00adsat", "profanity.bangsat", "ba\u00adng\u00adsat"),
    ("bángsat", "profanity.bangsat", "bángsat"),
    ("ba\u0301ngsat", "profanity.bangsat", "ba\u0301ngsat"),
    ("ánjing", "profanity.anjing", "ánjing"),
    ("ｂａｎｇｓａｔ", "profanity.bangsat", "ｂａｎｇｓａｔ"),
    ("b\u0430ngsat", "profanity.bangsat", "b\u0430ngsat"),  # Cyrillic а
    ("bangsat😡😡", "profanity.bangsat", "bangsat"),
    ("dasar bangsatnya", "profanity.bangsat", "bangsatnya"),
    ("d4s4r 4nj1ng", "profanity.dasar-hewan", "d4s4r 4nj1ng"),
    ("dasar monyet", "profanity.dasar-hewan", "dasar monyet"),
    ("what the fucking hell", "profanity.fuck-en", "fucking"),
    ("Bunuh kafir!", "sara.bunuh-kelompok", "Bunuh kafir"),
    ("bunuh semua k4f1r", "sara.bunuh-kelompok", "bunuh semua k4f1r"),
    ("USIR CINA dari sini", "sara.usir-kelompok", "USIR CINA"),
    ("usir keturunan arab", "sara.usir-kelompok", "usir keturunan arab"),
    ("usir pendatang!", "sara.usir-kelompok", "usir pendatang"),
    ("ayo bakar gereja itu", "sara.bakar-rumah-ibadah", "bakar gereja"),
    ("halal darahnya", "sara.halal-darahnya", "halal darahnya"),
    ("mereka antek-antek asing", "sara.antek-asing", "antek-antek asing"),
    ("Pribumi VS Aseng", "sara.pribumi-vs-aseng", "Pribumi VS Aseng"),
    ("kill all infidels", "sara.kill-group-en", "kill all infidels"),
    ("SEBARKAN SEBELUM DIHAPUS!!!", "hoax.sebarkan-sebelum-dihapus", "SEBARKAN SEBELUM DIHAPUS"),
    ("sebarkan, sebelum di hapus", "hoax.sebarkan-sebelum-dihapus", "sebarkan, sebelum di hapus"),
    ("viralkan!!", "hoax.viralkan", "viralkan!!"),
    ("Obat ini 100% terbukti ampuh", "hoax.seratus-persen", "100% terbukti"),
    ("media mainstream bungkam soal ini", "hoax.media-bungkam", "media mainstream bungkam"),
    ("info A1 dari orang dalam", "hoax.info-a1", "info A1"),
    ("copas dari grup sebelah", "hoax.grup-sebelah", "dari grup sebelah"),
    ("share before it's deleted", "hoax.share-before-deleted-en", "share before it's deleted"),
    ("Coblos nomor 2!", "electoral.coblos", "Coblos"),
    ("pilih nomor urut 3", "electoral.pilih-nomor-urut", "pilih nomor urut"),
    ("pilih no. 2 ya", "electoral.pilih-nomor-urut", "pilih no. 2"),
    ("Paslon 01 pasti menang", "electoral.paslon", "Paslon"),
    ("rapat tim sukses", "electoral.kampanye-politik", "tim sukses"),
    ("kampanye pilkada hari ini", "electoral.kampanye-politik", "kampanye pilkada"),
]


@pytest.mark.parametrize(("text", "rule_id", "matched"), SHOULD_MATCH)
def test_should_match(text: str, rule_id: str, matched: str) -> None:
    assert (rule_id, matched) in hits(text)


@pytest.mark.parametrize(("text", "rule_id", "matched"), SHOULD_MATCH)
def test_span_in_context(text: str, rule_id: str, matched: str) -> None:
    """The span points at the (obfuscated) original even with text around it."""
    before = "Selamat pagi, warga 🇮🇩 Pasuruan.\n"
    full = before + text + " Terima kasih."
    found = [m for m in LEXICON.scan(full) if m.rule_id == rule_id]
    start = len(before) + text.index(matched)
    assert [(m.start, m.end, m.matched) for m in found][:1] == [
        (start, start + len(matched), matched)
    ]


def test_match_fields() -> None:
    [m] = LEXICON.scan("Bunuh k.a.f.i.r sekarang")
    assert m == LexiconMatch(
        rule_id="sara.bunuh-kelompok",
        category=Category.SARA,
        severity=Severity.BLOCK,
        start=0,
        end=15,
        matched="Bunuh k.a.f.i.r",
        term="bunuh {kelompok}",
    )
    assert m.category == "sara" and m.severity == "block"
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.start = 3  # type: ignore[misc]


def test_several_matches_in_order() -> None:
    text = "Bangsat! Sebarkan sebelum dihapus, coblos no 2, usir cina."
    assert [m.rule_id for m in LEXICON.scan(text)] == [
        "profanity.bangsat",
        "hoax.sebarkan-sebelum-dihapus",
        "electoral.coblos",
        "sara.usir-kelompok",
    ]


def test_severity_defaults_to_review_and_incitement_blocks() -> None:
    assert {m.severity for m in LEXICON.scan("bangsat, viralkan!, antek asing")} == {"review"}
    assert [m.severity for m in LEXICON.scan("bakar masjid")] == ["block"]


def test_plain_false_word_is_flagged_only_in_disguise() -> None:
    assert hits("ANJING") == []
    assert hits("Anjing pelacak Polri") == []
    assert hits("4NJING") == [("profanity.anjing", "4NJING")]
    assert hits("anjing lu") == [("profanity.dasar-hewan", "anjing lu")]


def test_phrase_covers_the_word_inside_it() -> None:
    # "anjiiing" alone is profanity.anjing; inside "dasar anjiiing" the phrase wins.
    assert hits("dasar anjiiing") == [("profanity.dasar-hewan", "dasar anjiiing")]


# --------------------------------------------------------------------------- must not match

MUST_NOT_MATCH = [
    "Bangsa Indonesia adalah bangsa yang besar.",
    "Bangsa-bangsa di dunia memuji kebersamaan kita",
    "Rombongan kafilah haji tiba di Madinah",
    "Kantor Pertanahan Kabupaten Pasuruan melayani warga Sukabumi dan Asahan",
    "Masuk ke ruang tunggu, termasuk pasukan pengamanan dan peserta asuransi",
    "Tarik tunai di anjungan tunai mandiri terdekat",
    "Vaksinasi rabies gratis untuk anjing dan kucing peliharaan",
    "Waspada demam babi Afrika di peternakan babi",
    "Konservasi monyet ekor panjang di Taman Nasional",
    "Kampanye imunisasi campak dimulai hari ini",
    "Kampanye keselamatan berlalu lintas bagi pelajar",
    "Ikuti kampanye gerakan cuci tangan pakai sabun",
    "Pemilihan Duta Baca tingkat provinsi dibuka",
    "Ayo pilih menu sehat bergizi seimbang",
    "Lawan hoaks! Cek fakta sebelum berbagi.",
    "Cek fakta hoaks vaksin: informasi itu tidak benar",
    "Mari viralkan gerakan literasi digital",
    "Tata cara mencoblos surat suara di TPS",
    "Basmi sarang nyamuk dengan 3M Plus",
    "Cara usir tikus dari gudang beras",
    "Cegah bunuh diri: hubungi layanan konseling",
    "Hari raya Imlek bagi warga Tionghoa, renovasi masjid dan gereja",
    "Warga kafir dzimmi dalam sejarah Islam",
    "Tanah air jaya, Indonesia raya",
    "Info lebih lanjut: kemkes.go.id atau hubungi 1 500 567",
    "Tim vaksinator sukses menjangkau 1 juta warga",
    "Media massa diundang ke konferensi pers grup kerja",
    "Semua anak-anak mendapat nomor urut antrean",
    "Rp 5 M untuk 1 2 3 desa",
    "Mata kuliah A B C D sudah dibuka",
    "Indonesia memilih pemimpin dengan damai",
]


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_must_not_match(text: str) -> None:
    assert hits(text) == []


def test_allow_phrase_drops_a_match_inside_it() -> None:
    lexicon = Lexicon.load(allow=["coblos surat suara"])
    assert lexicon.scan("Coblos surat suara di bagian tengah") == []
    assert [m.rule_id for m in lexicon.scan("Coblos nomor 2")] == ["electoral.coblos"]


def test_allow_phrase_for_a_place_name(tmp_path: Path) -> None:
    custom = tmp_path / "kantor.yaml"
    custom.write_text(
        "category: profanity\nallow: [Goa Kampret]\nentries: []\n",
        encoding="utf-8",
    )
    lexicon = Lexicon.load([custom])
    assert lexicon.scan("Wisata Goa Kampret di Gunungkidul") == []
    assert [m.matched for m in lexicon.scan("dasar kampret")] == ["kampret"]


# --------------------------------------------------------------------------- categories


def test_categories_filter() -> None:
    text = "bangsat, coblos nomor 2, usir cina, viralkan!"
    assert {m.category for m in LEXICON.scan(text)} == set(CATEGORIES)
    assert [m.rule_id for m in LEXICON.scan(text, categories={"electoral"})] == ["electoral.coblos"]
    assert {m.category for m in LEXICON.scan(text, categories=["sara", "hoax"])} == {
        "sara",
        "hoax",
    }
    assert LEXICON.scan(text, categories=()) == []
    with pytest.raises(ValueError, match="electorial"):
        LEXICON.scan(text, categories=["electorial"])


def test_default_lexicons_are_shipped_and_sized() -> None:
    folder = resources.files("amplifier").joinpath("data/lexicons")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    assert names == ["electoral.yaml", "hoax.yaml", "profanity.yaml", "sara.yaml"]
    counts = {c: sum(e.category == c for e in LEXICON.entries) for c in CATEGORIES}
    assert all(5 <= n <= 40 for n in counts.values()), counts
    assert len({e.id for e in LEXICON.entries}) == len(LEXICON)
    for entry in LEXICON.entries:
        assert entry.id.startswith(entry.category + ".")
        assert entry.source.startswith("amplifier/data/lexicons/" + entry.category + ".yaml:")


# --------------------------------------------------------------------------- custom lexicons

CUSTOM = """\
category: electoral
slots:
  kelompok: [marsupilami]
allow:
  - kampanye imunisasi
entries:
  - id: ws.kampanye
    term: kampanye
  - id: ws.sembako
    term: bagi sembako gratis
    category: electoral
    severity: block
"""


def test_custom_lexicon_on_top_of_defaults(tmp_path: Path) -> None:
    path = tmp_path / "masa-tenang.yaml"
    path.write_text(CUSTOM, encoding="utf-8")
    lexicon = Lexicon.load([path])
    assert len(lexicon) == len(LEXICON) + 2
    assert [m.rule_id for m in lexicon.scan("Kampanye akbar besok")] == ["ws.kampanye"]
    assert lexicon.scan("Kampanye imunisasi besok") == []
    [m] = lexicon.scan("Ayo b.a.g.i sembako gratis")
    assert (m.rule_id, m.severity, m.matched) == ("ws.sembako", "block", "b.a.g.i sembako gratis")
    # The workspace slot extends the default slot used by default entries.
    assert [m.rule_id for m in lexicon.scan("usir marsupilami")] == ["sara.usir-kelompok"]
    assert [m.rule_id for m in lexicon.scan("usir cina")] == ["sara.usir-kelompok"]


def test_defaults_off_and_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CUSTOM, encoding="utf-8")
    (tmp_path / "b.yml").write_text(
        "category: profanity\nentries:\n  - {id: ws.kurang-ajar, term: kurang ajar}\n",
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("not a lexicon", encoding="utf-8")
    lexicon = Lexicon.load([tmp_path], defaults=False)
    assert sorted(e.id for e in lexicon.entries) == ["ws.kampanye", "ws.kurang-ajar", "ws.sembako"]
    assert lexicon.scan("dasar bangsat") == []
    assert [m.rule_id for m in lexicon.scan("dasar kurang-ajar")] == ["ws.kurang-ajar"]


def test_disable_an_entry() -> None:
    lexicon = Lexicon.load(disable=["profanity.kampret"])
    assert lexicon.scan("dasar kampret") == []
    assert lexicon.scan("dasar bangsat")
    with pytest.raises(LexiconError, match=r"profanity\.kampert"):
        Lexicon.load(disable=["profanity.kampert"])


def test_programmatic_lexicon() -> None:
    lexicon = Lexicon(
        [LexiconEntry("x.tukang-tipu", "tukang {siapa}", Category.HOAX)],
        slots={"siapa": ["tipu", "bohong"]},
        allow=["tukang tipu online"],
    )
    assert [m.matched for m in lexicon.scan("dasar tukang b0h0ng")] == ["tukang b0h0ng"]
    assert lexicon.scan("awas tukang tipu online") == []
    with pytest.raises(ValueError, match="unknown slot"):
        Lexicon([LexiconEntry("x.y", "usir {nobody}", Category.SARA)])


# --------------------------------------------------------------------------- malformed files

MALFORMED = [
    ("entries: [\n  {id: a.b, term: x\n", "bad YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    ("", "empty"),
    ("entires: []\n", "did you mean 'entries'"),
    (
        "category: profanity\nentries:\n  - {id: ws.x, term: kurang ajar, severity: blok}\n",
        "did you mean 'block'",
    ),
    (
        "entries:\n  - {id: ws.x, term: kurang ajar, category: profanty}\n",
        "did you mean 'profanity'",
    ),
    ("entries:\n  - {id: ws.x, term: kurang ajar}\n", "missing category"),
    ("category: hoax\nentries:\n  - {id: ws.x}\n", "expected a word or phrase"),
    ("category: hoax\nentries:\n  - {id: 'Bad Id', term: kabar bohong}\n", "expected an id"),
    ("category: hoax\nentries:\n  - {id: ws.x, term: ab}\n", "at least 3 letters"),
    (
        "category: sara\nentries:\n  - {id: ws.x, term: 'usir {kelompk}'}\n",
        "did you mean 'kelompok'",
    ),
    ("category: sara\nentries:\n  - {id: ws.x, term: 'usir {kelompok'}\n", "unexpected character"),
    (
        "category: hoax\nentries:\n  - {id: ws.x, term: kabar bohong, termz: 1}\n",
        "did you mean 'term'",
    ),
    (
        "category: hoax\nentries:\n  - {id: ws.x, term: kabar bohong, variants: [1, 2]}\n",
        "list of non-empty strings",
    ),
    (
        "category: hoax\nentries:\n  - {id: profanity.bangsat, term: kabar bohong}\n",
        "duplicate entry id",
    ),
    (
        "category: hoax\nentries:\n"
        "  - {id: ws.x, term: kabar satu}\n"
        "  - {id: ws.x, term: kabar dua}\n",
        "duplicate entry id",
    ),
    ("category: hoax\nentries: []\nentries: []\n", "duplicate key"),
    ("category: hoax\ndisable: [profanity.bangsad]\n", "did you mean 'profanity.bangsat'"),
]


@pytest.mark.parametrize(("content", "message"), MALFORMED)
def test_malformed_lexicon_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "kantor.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        Lexicon.load([path])
    text = str(info.value)
    assert "kantor.yaml" in text
    assert message in text
    assert isinstance(info.value, LexiconError)
    assert all(p.file == str(path) for p in info.value.problems)


def test_malformed_entry_is_named_with_line(tmp_path: Path) -> None:
    path = tmp_path / "kantor.yaml"
    path.write_text(
        "category: hoax\n"
        "entries:\n"
        "  - id: ws.ok\n"
        "    term: kabar burung\n"
        "  - id: ws.salah\n"
        "    term: kabar bohong\n"
        "    severity: blokir\n",
        encoding="utf-8",
    )
    with pytest.raises(LexiconError) as info:
        Lexicon.load([path], defaults=False)
    [problem] = info.value.problems
    assert (problem.line, problem.key) == (7, "entries[1].severity")
    assert "'ws.salah'" in problem.message
    assert str(problem).startswith(f"{path}:7:")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("entries:\n  - {id: ws.a, term: abc}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("category: nope\n", encoding="utf-8")
    with pytest.raises(LexiconError) as info:
        Lexicon.load([tmp_path, tmp_path / "missing.yaml"], defaults=False)
    files = {Path(p.file).name for p in info.value.problems}
    assert files == {"a.yaml", "b.yaml", "missing.yaml"}


# --------------------------------------------------------------------------- properties

FLAGGED = ["bangsat", "bajingan", "keparat", "brengsek", "tolol", "kampret", "jancuk", "anjing"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "."]
CLEAN_WORDS = re.findall(
    r"\S+",
    """
bangsa bangsawan kafilah anjungan pasuruan sukabumi asahan masuk termasuk pasukan asuransi
pantai santai kampung kampus kampanye imunisasi keselamatan lalu lintas pemilihan duta baca
lawan hoaks cek fakta informasi resmi berita warga masyarakat pemerintah kementerian kantor
wilayah layanan publik pelayanan prima sehat gizi seimbang cuci tangan sabun air bersih tanah
jaya raya indonesia merdeka gotong royong desa kota kabupaten provinsi pusat daerah unit kerja
pegawai aparatur sipil negara jujur bersih melayani terima kasih selamat pagi siang malam hari
ini besok minggu bulan tahun anak-anak orang tua guru sekolah belajar membaca literasi digital
vaksin rabies hewan peliharaan kucing tikus nyamuk sarang demam berdarah puskesmas rumah sakit
dokter perawat bidan pilihan memilih damai tertib aman nyaman lancar sukses bersama
mari ayo kita kami mereka dan di ke dari yang untuk dengan pada akan atau juga sudah bisa harus
dasar media massa grup resmi nomor telepon antrean info lanjut tautan bio klik daftar gratis
""",
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    word=st.sampled_from(FLAGGED),
    gaps=st.lists(st.sampled_from(["", *INVISIBLE]), min_size=8, max_size=8),
    before=st.lists(st.sampled_from(CLEAN_WORDS), max_size=6),
    after=st.lists(st.sampled_from(CLEAN_WORDS), max_size=6),
)
def test_inserted_invisibles_or_dots_still_match(
    word: str, gaps: list[str], before: list[str], after: list[str]
) -> None:
    obfuscated = word[0] + "".join(gap + ch for gap, ch in zip(gaps, word[1:], strict=False))
    if word == "anjing" and obfuscated == word:
        obfuscated = "4njing"  # "anjing" is flagged only in disguise
    prefix = " ".join(before) + " " if before else ""
    text = prefix + obfuscated + (" " + " ".join(after) if after else "")
    found = [m for m in LEXICON.scan(text) if m.category == "profanity"]
    assert found, text
    start = len(prefix)
    assert any(m.start <= start and start + len(obfuscated) <= m.end for m in found), found
    assert any(obfuscated in m.matched for m in found)


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.sampled_from(CLEAN_WORDS), min_size=1, max_size=40),
    separators=st.lists(st.sampled_from([" ", ", ", ". ", "\n", " - ", "! ", " #"]), min_size=40),
)
def test_clean_indonesian_text_never_matches(words: list[str], separators: list[str]) -> None:
    text = "".join(sep + w for sep, w in zip(separators, words, strict=False)).strip()
    assert LEXICON.scan(text) == [], text
    assert LEXICON._scan_exhaustive(text) == []


FUZZ_ALPHABET = [*"anjigbstukfrcoupe14@$", ".", "-", " ", " ", "\u200b", "_", "!", "é", "😡"]
FUZZ_PIECES = ["anjing", "bangsat", "asu", "kafir", "bunuh", "usir", "cina", "coblos", "g.sat"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(FUZZ_ALPHABET), st.sampled_from(FUZZ_PIECES)), max_size=14
    ).map("".join)
)
def test_pre_check_never_loses_a_match(text: str) -> None:
    """The token pre-check is only an optimisation: it finds what the full scan finds."""
    assert LEXICON.scan(text) == LEXICON._scan_exhaustive(text)
    for m in LEXICON.scan(text):
        assert text[m.start : m.end] == m.matched
