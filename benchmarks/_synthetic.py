"""A synthetic institution written as real workspace files, for the fan-out benchmark.

    root = build_workspace(Path(tmp), units=5000)
    ws = amplifier.open_workspace(root, database_url=f"sqlite:///{tmp}/a.db")

The tree is shaped like a ministry's:

- one central office (``PUSAT``) and 10 echelon-I units under it;
- one regional office (kantor wilayah) per province, 38 in all, over Asia/Jakarta,
  Asia/Pontianak, Asia/Makassar and Asia/Jayapura;
- 6 overseas offices in their own zones (several with daylight saving time);
- every other unit is a service office (kantor layanan / UPT): most sit under a regional
  office, weighted towards the populous provinces, a tenth are UPTs under an echelon-I unit.

Every unit has 4 accounts (x, instagram, facebook, threads). One campaign of 5 posts
targets every unit, so ``units × 4 × 5`` variants. ``templates/`` holds overrides at every
level of the chain so that the chain logic is exercised: an institution-level file, kind-level
files for service and overseas offices, a named template used by one post, a regional
greeting on 10 regional offices (their service offices inherit it, and it calls ``super()``
elsewhere), a platform-specific regional file, and a few service offices' own files.

Everything is fictional.
"""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

PLATFORMS = ("x", "instagram", "facebook", "threads")
POSTS = 5

INSTITUTION = {
    "code": "KPTD",
    "name": "Kementerian Pelayanan Publik dan Transformasi Digital",
    "short_name": "KPTD",
    "website": "https://www.kptd.go.id",
}

ECHELON1 = [
    ("SETJEN", "Sekretariat Jenderal"),
    ("ITJEN", "Inspektorat Jenderal"),
    ("DJPP", "Direktorat Jenderal Pelayanan Publik"),
    ("DJTD", "Direktorat Jenderal Transformasi Digital"),
    ("DJID", "Direktorat Jenderal Infrastruktur Digital"),
    ("DJTKD", "Direktorat Jenderal Tata Kelola Data"),
    ("DJKS", "Direktorat Jenderal Kerja Sama dan Kemitraan"),
    ("BPSDM", "Badan Pengembangan Sumber Daya Manusia"),
    ("BSKP", "Badan Strategi Kebijakan Pelayanan"),
    ("BRIN-PP", "Badan Riset dan Inovasi Pelayanan Publik"),
]

# (token, province, zone, weight for the number of service offices)
PROVINCES = [
    ("ACEH", "Aceh", "Asia/Jakarta", 3),
    ("SUMUT", "Sumatera Utara", "Asia/Jakarta", 5),
    ("SUMBAR", "Sumatera Barat", "Asia/Jakarta", 3),
    ("RIAU", "Riau", "Asia/Jakarta", 3),
    ("KEPRI", "Kepulauan Riau", "Asia/Jakarta", 2),
    ("JAMBI", "Jambi", "Asia/Jakarta", 2),
    ("SUMSEL", "Sumatera Selatan", "Asia/Jakarta", 3),
    ("BABEL", "Kepulauan Bangka Belitung", "Asia/Jakarta", 1),
    ("BENGKULU", "Bengkulu", "Asia/Jakarta", 1),
    ("LAMPUNG", "Lampung", "Asia/Jakarta", 3),
    ("DKI", "DKI Jakarta", "Asia/Jakarta", 4),
    ("JABAR", "Jawa Barat", "Asia/Jakarta", 9),
    ("BANTEN", "Banten", "Asia/Jakarta", 3),
    ("JATENG", "Jawa Tengah", "Asia/Jakarta", 8),
    ("DIY", "DI Yogyakarta", "Asia/Jakarta", 2),
    ("JATIM", "Jawa Timur", "Asia/Jakarta", 9),
    ("KALBAR", "Kalimantan Barat", "Asia/Pontianak", 2),
    ("KALTENG", "Kalimantan Tengah", "Asia/Pontianak", 2),
    ("BALI", "Bali", "Asia/Makassar", 2),
    ("NTB", "Nusa Tenggara Barat", "Asia/Makassar", 2),
    ("NTT", "Nusa Tenggara Timur", "Asia/Makassar", 3),
    ("KALSEL", "Kalimantan Selatan", "Asia/Makassar", 2),
    ("KALTIM", "Kalimantan Timur", "Asia/Makassar", 2),
    ("KALTARA", "Kalimantan Utara", "Asia/Makassar", 1),
    ("SULUT", "Sulawesi Utara", "Asia/Makassar", 2),
    ("GORONTALO", "Gorontalo", "Asia/Makassar", 1),
    ("SULTENG", "Sulawesi Tengah", "Asia/Makassar", 2),
    ("SULBAR", "Sulawesi Barat", "Asia/Makassar", 1),
    ("SULSEL", "Sulawesi Selatan", "Asia/Makassar", 4),
    ("SULTRA", "Sulawesi Tenggara", "Asia/Makassar", 2),
    ("MALUKU", "Maluku", "Asia/Jayapura", 1),
    ("MALUT", "Maluku Utara", "Asia/Jayapura", 1),
    ("PAPUA", "Papua", "Asia/Jayapura", 1),
    ("PABAR", "Papua Barat", "Asia/Jayapura", 1),
    ("PBD", "Papua Barat Daya", "Asia/Jayapura", 1),
    ("PATENG", "Papua Tengah", "Asia/Jayapura", 1),
    ("PAPEG", "Papua Pegunungan", "Asia/Jayapura", 1),
    ("PASEL", "Papua Selatan", "Asia/Jayapura", 1),
]

# (token, city, country, zone)
OVERSEAS = [
    ("TOKYO", "Tokyo", "Jepang", "Asia/Tokyo"),
    ("DENHAAG", "Den Haag", "Belanda", "Europe/Amsterdam"),
    ("CANBERRA", "Canberra", "Australia", "Australia/Sydney"),
    ("WASHINGTON", "Washington, D.C.", "Amerika Serikat", "America/New_York"),
    ("RIYADH", "Riyadh", "Arab Saudi", "Asia/Riyadh"),
    ("KL", "Kuala Lumpur", "Malaysia", "Asia/Kuala_Lumpur"),
]

# regional greetings: their service offices inherit them through the chain
GREETINGS = {
    "ACEH": "Assalamu'alaikum, Sahabat {{ institution.short_name }} di Tanah Rencong!",
    "SUMUT": "Horas, Sahabat {{ institution.short_name }} {{ unit.region }}!",
    "SUMBAR": "Salam dari Ranah Minang, Sahabat {{ institution.short_name }}!",
    "JABAR": "Sampurasun, Sahabat {{ institution.short_name }} Jawa Barat!",
    "JATENG": "Sugeng enjing, Sahabat {{ institution.short_name }} Jawa Tengah!",
    "DIY": "Sugeng rawuh, Sahabat {{ institution.short_name }} Yogyakarta!",
    "BALI": "Om Swastiastu, Sahabat {{ institution.short_name }} di Pulau Dewata!",
    "SULSEL": "Tabe', Sahabat {{ institution.short_name }} Sulawesi Selatan!",
    "SULUT": "Torang samua basudara, Sahabat {{ institution.short_name }} Sulut!",
    "PAPUA": "Salam Papua, Sahabat {{ institution.short_name }} di Tanah Papua!",
}

SERVICE_TAGS = ("perbatasan", "kepulauan", "pelabuhan", "bandara", "3T")

FIXED_UNITS = 1 + len(ECHELON1) + len(PROVINCES) + len(OVERSEAS)
MIN_UNITS = FIXED_UNITS + 10


@dataclass
class Unit:
    code: str
    name: str
    kind: str
    parent: str | None
    region: str | None
    city: str | None
    timezone: str
    token: str
    tags: list[str] = field(default_factory=list)
    serial: int = 0  # service offices: a number for the short X handle


def argument_parser(doc: str | None, default_units: int) -> argparse.ArgumentParser:
    """The parser every synthetic-institution benchmark starts from: its summary and ``--units``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument(
        "--units",
        type=int,
        default=None,
        help=f"units in the synthetic institution (default {default_units:,})",
    )
    return parser


def unit_tree(units: int) -> list[Unit]:
    """``units`` units: the fixed top of the tree, the rest service offices."""
    if units < MIN_UNITS:
        raise ValueError(f"the synthetic institution needs at least {MIN_UNITS} units")
    out = [
        Unit(
            "PUSAT",
            f"Kantor Pusat {INSTITUTION['name']}",
            "central",
            None,
            "DKI Jakarta",
            "Jakarta Pusat",
            "Asia/Jakarta",
            "ri",
        )
    ]
    for code, name in ECHELON1:
        out.append(
            Unit(
                code,
                name,
                "echelon1",
                "PUSAT",
                "DKI Jakarta",
                "Jakarta Pusat",
                "Asia/Jakarta",
                code.lower().replace("-", ""),
            )
        )
    for token, province, zone, _weight in PROVINCES:
        out.append(
            Unit(
                f"KW-{token}",
                f"Kantor Wilayah KPTD Provinsi {province}",
                "regional",
                "PUSAT",
                province,
                None,
                zone,
                token.lower(),
            )
        )
    for token, city, country, zone in OVERSEAS:
        out.append(
            Unit(
                f"PWK-{token}",
                f"Kantor Perwakilan KPTD {city}, {country}",
                "overseas",
                "PUSAT",
                None,
                city,
                zone,
                token.lower(),
            )
        )
    service = units - len(out)
    upts = service // 10
    offices = service - upts
    # service offices per province, proportional to the weights (largest remainder)
    total_weight = sum(p[3] for p in PROVINCES)
    shares = [offices * p[3] / total_weight for p in PROVINCES]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(PROVINCES)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: offices - sum(counts)]:
        counts[i] += 1
    n = 0
    for (token, province, zone, _weight), count in zip(PROVINCES, counts, strict=True):
        for k in range(1, count + 1):
            n += 1
            tags = [SERVICE_TAGS[n % len(SERVICE_TAGS)]] if n % 7 == 0 else []
            out.append(
                Unit(
                    f"KL-{token}-{k:03d}",
                    f"Kantor Layanan KPTD {province} {k:03d}",
                    "service",
                    f"KW-{token}",
                    province,
                    f"Kota {province} {k:03d}",
                    zone,
                    f"{token.lower()}{k:03d}",
                    tags,
                    serial=n,
                )
            )
    for k in range(1, upts + 1):
        parent_code, _ = ECHELON1[2 + k % 6]  # the directorates general and agencies
        token, province, zone, _weight = PROVINCES[(k * 7) % len(PROVINCES)]
        out.append(
            Unit(
                f"UPT-{parent_code}-{k:03d}",
                f"UPT {parent_code} {province} {k:03d}",
                "service",
                parent_code,
                province,
                f"Kota {province}",
                zone,
                f"upt{k:04d}",
                serial=k,
            )
        )
    return out


def _q(value: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _handles(unit: Unit) -> dict[str, str]:
    kind = {"central": "", "echelon1": "", "regional": "kanwil.", "overseas": "perwakilan."}
    jenis = kind.get(unit.kind, "kl." if unit.code.startswith("KL-") else "upt.")
    if unit.kind != "service":
        x = f"kptd_{unit.token}"
    elif unit.code.startswith("KL-"):
        x = f"kptd_kl{unit.serial:05d}"
    else:
        x = f"kptd_upt{unit.serial:04d}"
    return {
        "x": x,
        "instagram": f"kptd.{jenis}{unit.token}",
        "facebook": f"kptd.{jenis}{unit.token}",
        "threads": f"kptd.{jenis}{unit.token}",
    }


URLS = {
    "x": "https://x.com/{h}",
    "instagram": "https://www.instagram.com/{h}/",
    "facebook": "https://www.facebook.com/{h}",
    "threads": "https://www.threads.net/@{h}",
}


def org_yaml(units: list[Unit]) -> str:
    lines = [
        "# Synthetic institution for benchmarks/fanout.py (fictional).",
        "institution:",
        f"  code: {INSTITUTION['code']}",
        f"  name: {_q(INSTITUTION['name'])}",
        f"  short_name: {INSTITUTION['short_name']}",
        "  timezone: Asia/Jakarta",
        f"  website: {INSTITUTION['website']}",
        "",
        "units:",
    ]
    for u in units:
        lines += [f"  - code: {u.code}", f"    name: {_q(u.name)}", f"    kind: {u.kind}"]
        if u.parent:
            lines.append(f"    parent: {u.parent}")
        if u.region:
            lines.append(f"    region: {_q(u.region)}")
        if u.city:
            lines.append(f"    city: {_q(u.city)}")
        lines.append(f"    timezone: {u.timezone}")
        if u.kind in ("central", "overseas"):
            lines.append("    languages: [id, en]")
        if u.tags:
            lines.append(f"    tags: [{', '.join(u.tags)}]")
        lines.append("    accounts:")
        handles = _handles(u)
        for platform in PLATFORMS:
            h = handles[platform]
            mode = "api" if platform in ("x", "facebook") else "manual"
            lines += [
                f"      - platform: {platform}",
                f"        handle: {h}",
                f"        url: {URLS[platform].format(h=h)}",
                f"        mode: {mode}",
            ]
    lines.append("")
    return "\n".join(lines)


CALENDAR = """\
# One campaign of five posts that targets every active unit on every platform.
campaigns:
  - slug: transformasi-layanan-2027
    title: Transformasi Layanan Publik 2027
    goal: >-
      Mengajak masyarakat memakai layanan digital KPTD dan menyampaikan masukan
      untuk perbaikan layanan di setiap kantor wilayah dan kantor layanan.
    period:
      start: 2027-04-01
      end: 2027-06-30
    priority: 50
    key_messages:
      - Layanan KPTD kini dapat diajukan secara daring dari mana saja.
      - Standar waktu layanan diumumkan terbuka di setiap kantor layanan.
      - Masukan masyarakat menjadi dasar perbaikan layanan.
    hashtags: [KPTDMelayani, LayananDigital, TransformasiLayanan]
    links:
      - https://www.kptd.go.id/transformasi-layanan
      - https://www.kptd.go.id/infografis/transformasi-layanan-2027.pdf
    posts:
      - key: peluncuran-layanan-daring
        at: 2027-04-05T09:00:00+07:00
        title: Layanan Daring KPTD Resmi Diluncurkan
        body: >-
          Mulai hari ini seluruh permohonan layanan KPTD dapat diajukan secara daring
          melalui portal resmi. Masyarakat cukup membuat akun, mengunggah dokumen
          persyaratan, lalu memantau status permohonan tanpa perlu datang ke kantor.
        link: https://www.kptd.go.id/transformasi-layanan/peluncuran

      - key: standar-waktu-layanan
        at: 2027-04-19T10:00:00+07:00
        title: Standar Waktu Layanan Kini Terbuka
        body: >-
          Setiap jenis layanan KPTD kini memiliki standar waktu penyelesaian yang
          diumumkan secara terbuka. Bila permohonan Anda melewati standar waktu,
          sampaikan pengaduan melalui kanal resmi dan kami akan menindaklanjutinya.

      - key: infografis-alur-layanan
        at: 2027-05-03T13:00:00+07:00
        title: Alur Layanan dalam Satu Gambar
        templates: [infografis]
        body: >-
          Bingung memulai permohonan? Simak alur layanan KPTD dari pendaftaran akun,
          pengisian formulir, verifikasi dokumen, hingga penerbitan hasil layanan
          dalam infografis berikut.
        link: https://www.kptd.go.id/infografis/alur-layanan
        media: [media/infografis-alur-layanan.png]

      - key: survei-kepuasan
        at: 2027-05-24T09:30:00+07:00
        body: >-
          Bagaimana pengalaman Anda menggunakan layanan KPTD? Isi survei kepuasan
          masyarakat selama lima menit. Setiap jawaban dibaca dan menjadi bahan
          perbaikan layanan pada semester berikutnya.
        link: https://www.kptd.go.id/survei-kepuasan-2027

      - key: capaian-semester-satu
        at: 2027-06-28T15:00:00+07:00
        title: Capaian Semester I 2027
        body: >-
          Pada semester pertama 2027, lebih dari separuh permohonan layanan KPTD
          diajukan secara daring dan rata-rata waktu penyelesaian turun dibanding
          tahun lalu. Terima kasih atas kepercayaan dan masukan Anda.
        link: https://www.kptd.go.id/transformasi-layanan/capaian-semester-1
"""

SETTINGS = """\
# Synthetic workspace for benchmarks/fanout.py.
[workspace]
language = "id"

[database]
url = "sqlite:///.amplifier/amplifier.db"
"""

INSTITUTION_POST = """\
{# Institution level: every variant ends with the complaints channel. #}
{% block closing %}
{{ super() }}
{% if platform in ("facebook", "instagram") %}
Pengaduan dan masukan: lapor.kptd.go.id
{% endif %}
{% endblock %}
"""

INSTITUTION_INFOGRAFIS = """\
{# Named template "infografis": posts that carry an infographic point to the PDF. #}
{% block link %}
{{ super() }}
{% if campaign.links | length > 1 and platform != "x" %}
Unduh infografis: {{ campaign.links[1] }}
{% endif %}
{% endblock %}
"""

SERVICE_POST = """\
{# Service offices: opening hours in the office's own zone. #}
{% block local %}
{% if platform != "x" %}
Layanan tatap muka di {{ unit.name }} buka Senin–Jumat pukul 08.00–15.00 {{ unit.zone }}.
{% endif %}
{% endblock %}
"""

OVERSEAS_POST = """\
{# Overseas offices: greet the diaspora, give the local time of the post. #}
{% block greeting %}
Sahabat {{ institution.short_name }} di {{ unit.city }},
{% endblock %}
{% block local %}
Diunggah {{ post.at | tanggal }} pukul {{ post.at | jam }}.
{% endblock %}
"""

REGIONAL_INSTAGRAM = """\
{# Jawa Barat on Instagram: one provincial hashtag after the campaign's. #}
{% block hashtags %}
{{ super() }} #KPTDJabar
{% endblock %}
"""

SERVICE_OWN = """\
{# One service office's own local note, after its kind-level note. #}
{% block local %}
{{ super() }}
{% if platform in ("facebook", "instagram") %}
Loket khusus lansia dan penyandang disabilitas tersedia di lantai satu.
{% endif %}
{% endblock %}
"""


def templates(units: list[Unit]) -> dict[str, str]:
    """Relative path → source of every override file."""
    files = {
        "institution/post.j2": INSTITUTION_POST,
        "institution/infografis.j2": INSTITUTION_INFOGRAFIS,
        "kinds/service/post.j2": SERVICE_POST,
        "kinds/overseas/post.j2": OVERSEAS_POST,
        "units/KW-JABAR/post.instagram.j2": REGIONAL_INSTAGRAM,
    }
    for token, greeting in GREETINGS.items():
        files[f"units/KW-{token}/post.j2"] = textwrap.dedent(
            f"""\
            {{# Regional greeting; the province's service offices inherit it. #}}
            {{% block greeting %}}
            {greeting}
            {{% endblock %}}
            """
        )
    service = [u for u in units if u.kind == "service"]
    for u in service[:: max(len(service) // 5, 1)][:5]:
        files[f"units/{u.code}/post.j2"] = SERVICE_OWN
    return files


def build_workspace(root: Path, units: int) -> Path:
    """Write the workspace files into ``root`` (created if needed) and return it."""
    tree = unit_tree(units)
    root.mkdir(parents=True, exist_ok=True)
    (root / "amplifier.toml").write_text(SETTINGS, encoding="utf-8")
    (root / "org.yaml").write_text(org_yaml(tree), encoding="utf-8")
    (root / "calendars").mkdir(exist_ok=True)
    (root / "calendars" / "2027-transformasi-layanan.yaml").write_text(CALENDAR, encoding="utf-8")
    for name, source in templates(tree).items():
        path = root / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root
