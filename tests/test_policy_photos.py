"""Profile photos: present, readable, square, large enough, and in the institution's frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from amplifier.findings import Finding
from amplifier.load import LoadedWorkspace, load_workspace
from amplifier.load.schema import OrgFile, Settings
from amplifier.policy.config import PhotoSettings
from amplifier.policy.photos import check_photos, frame_similarity, inspect_photo

REPO = Path(__file__).resolve().parents[1]
NAVY = (23, 55, 110)
RED = (178, 34, 34)
EXAMPLE_PHOTOS = PhotoSettings(
    min_size=400,
    require_square=True,
    template="assets/profile/template.png",
    template_similarity=0.80,
)


@pytest.fixture(scope="module")
def example() -> LoadedWorkspace:
    return load_workspace(REPO)


def frame(size: tuple[int, int], colour: tuple[int, int, int], centre: Any = None) -> Image.Image:
    """A square photo in a frame of ``colour``; ``centre=None`` leaves the middle transparent."""
    width, height = size
    band = max(width, height) // 10
    image = Image.new("RGBA", size, (0, 0, 0, 0) if centre is None else (*centre, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, width - 1, height - 1], outline=(*colour, 255), width=band)
    if centre is not None:
        draw.ellipse([width // 3, height // 3, 2 * width // 3, 2 * height // 3], fill=(240, 180, 5))
    return image


def workspace(root: Path, photos: dict[str, str | None]) -> LoadedWorkspace:
    units = [
        {
            "code": code,
            "name": code,
            "kind": "service",
            "timezone": "Asia/Jakarta",
            "accounts": [
                {"platform": "instagram", "handle": f"kptd.kl.{code.lower()}", "profile_photo": p},
                {"platform": "x", "handle": f"kptd_{code.lower()}", "profile_photo": p},
            ],
        }
        for code, p in photos.items()
    ]
    org = OrgFile.model_validate({"institution": {"code": "KPTD", "name": "K"}, "units": units})
    return LoadedWorkspace(root=root, settings=Settings(), org=org)


def rules_by_file(findings: list[Finding]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in findings:
        name = f.message.split()[2] if f.message.startswith("profile photo") else "-"
        out.setdefault(name, set()).add(f.rule)
    return out


# --- the example workspace ------------------------------------------------------------------


def test_example_photos(example: LoadedWorkspace) -> None:
    findings = check_photos(example, EXAMPLE_PHOTOS)
    assert all(f.severity == "review" and f.category == "photo" for f in findings)
    by_file = rules_by_file(findings)
    assert by_file["assets/profile/kanwil-jateng.png"] == {"policy.photo.not_square"}
    assert by_file["assets/profile/kl-bogor.png"] == {"policy.photo.too_small"}
    assert by_file["assets/profile/kanwil-papua.png"] == {"policy.photo.template_mismatch"}
    assert by_file["assets/profile/kl-biak.png"] == {"policy.photo.missing"}
    for good in ("pusat", "setjen", "itjen", "ditjen-lp", "kanwil-aceh", "kanwil-sumut"):
        assert f"assets/profile/{good}.png" not in by_file
    # One finding per file, pointing at the first account that uses it.
    [bogor] = [f for f in findings if "kl-bogor.png" in f.message]
    assert "240×240 pixels; at least 400×400" in bogor.message
    assert "used by x:kptd_bogor, instagram:kptd.kl.bogor, tiktok:kptd.bogor" in bogor.message
    line = int(str(bogor.source).rpartition(":")[2])
    assert "kptd_bogor" in (REPO / "org.yaml").read_text(encoding="utf-8").splitlines()[line - 1]


def test_example_files_stay_small() -> None:
    files = list((REPO / "assets" / "profile").glob("*.png"))
    assert len(files) >= 8
    assert sum(p.stat().st_size for p in files) < 100_000


# --- one file at a time -----------------------------------------------------------------------


def test_missing_unreadable_small_and_not_square(tmp_path: Path) -> None:
    settings = PhotoSettings(min_size=400)
    (tmp_path / "text.png").write_text("not an image", encoding="utf-8")
    frame((400, 300), NAVY, WHITE := (255, 255, 255)).save(tmp_path / "wide.png")
    frame((200, 200), NAVY, WHITE).save(tmp_path / "small.png")
    frame((512, 512), NAVY, WHITE).save(tmp_path / "good.png")
    assert [r for r, _ in inspect_photo(tmp_path / "nope.png", settings)] == [
        "policy.photo.missing"
    ]
    [(rule, why)] = inspect_photo(tmp_path / "text.png", settings)
    assert rule == "policy.photo.unreadable" and "Pillow can read" in why
    assert str(tmp_path) not in why
    assert [r for r, _ in inspect_photo(tmp_path / "wide.png", settings)] == [
        "policy.photo.not_square",
        "policy.photo.too_small",
    ]
    assert [r for r, _ in inspect_photo(tmp_path / "small.png", settings)] == [
        "policy.photo.too_small"
    ]
    assert inspect_photo(tmp_path / "good.png", settings) == []
    relaxed = PhotoSettings(min_size=100, require_square=False)
    assert inspect_photo(tmp_path / "wide.png", relaxed) == []


def test_truncated_file_is_unreadable(tmp_path: Path) -> None:
    frame((400, 400), NAVY, (255, 255, 255)).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert [r for r, _ in inspect_photo(tmp_path / "cut.png", PhotoSettings())] == [
        "policy.photo.unreadable"
    ]


def test_template_match_and_mismatch(tmp_path: Path) -> None:
    template = frame((400, 400), NAVY)
    same_frame = frame((400, 400), NAVY, (255, 255, 255))
    other_centre = frame((800, 800), NAVY, (30, 120, 60))  # another picture, larger, same frame
    red_frame = frame((400, 400), RED, (255, 255, 255))
    no_frame = Image.new("RGB", (400, 400), (120, 160, 90))
    assert frame_similarity(same_frame, template) > 0.97
    assert frame_similarity(other_centre, template) > 0.95
    assert frame_similarity(red_frame, template) < 0.80
    assert frame_similarity(no_frame, template) < 0.80
    settings = PhotoSettings(template="t.png")
    red_frame.save(tmp_path / "red.png")
    [(rule, why)] = inspect_photo(tmp_path / "red.png", settings, template)
    assert rule == "policy.photo.template_mismatch" and "similarity 0." in why
    same_frame.save(tmp_path / "same.png")
    assert inspect_photo(tmp_path / "same.png", settings, template) == []


def test_template_without_transparency_compares_the_outer_band() -> None:
    opaque = frame((400, 400), NAVY, (255, 255, 255)).convert("RGB")
    photo = frame((400, 400), NAVY, (10, 10, 10))  # the centre differs, the band does not
    assert frame_similarity(photo, opaque) > 0.95
    assert frame_similarity(frame((400, 400), RED, (255, 255, 255)), opaque) < 0.80


# --- the workspace check ------------------------------------------------------------------------


def test_check_photos_reports_each_file_once(tmp_path: Path) -> None:
    frame((400, 400), NAVY).save(tmp_path / "template.png")
    frame((400, 400), NAVY, (255, 255, 255)).save(tmp_path / "a.png")
    frame((400, 400), RED, (255, 255, 255)).save(tmp_path / "b.png")
    ws = workspace(tmp_path, {"A": "a.png", "B": "b.png", "C": "c.png", "D": None})
    findings = check_photos(ws, PhotoSettings(template="template.png"))
    summary = sorted((f.rule, f.message.split(":")[0].split(" (used")[0]) for f in findings)
    assert summary == [
        ("policy.photo.missing", "account instagram"),
        ("policy.photo.missing", "account x"),
        ("policy.photo.missing", "profile photo c.png does not exist"),
        (
            "policy.photo.template_mismatch",
            "profile photo b.png does not match the institution's frame template.png",
        ),
    ]
    assert any("(used by instagram:kptd.kl.c, x:kptd_c)" in f.message for f in findings)


def test_unreadable_template_is_reported_and_skipped(tmp_path: Path) -> None:
    frame((400, 400), RED, (255, 255, 255)).save(tmp_path / "a.png")
    ws = workspace(tmp_path, {"A": "a.png"})
    [finding] = check_photos(ws, PhotoSettings(template="missing.png"))
    assert finding.rule == "policy.photo.template_missing"
    assert finding.source == "amplifier.toml"
