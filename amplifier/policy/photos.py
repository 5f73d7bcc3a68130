"""Profile photos (foto profil): every account shows the institution's uniform picture.

Each account declares ``profile_photo``, a path in the workspace. The file must exist, be an
image Pillow can read, be square (``require_square``) and at least ``min_size`` pixels on each
side. A missing or bad photo is ``review``: it does not stop publishing.

Where ``[policy.photos] template`` names the institution's frame, each photo must also *match*
it. The template is the frame alone: opaque where the frame is, transparent where the unit's
own picture goes. Matching means: with photo and template both scaled to 64×64 pixels, the
colours inside the template's opaque area (or, for a template without transparency, inside
the outer tenth of each side) differ on average by at most ``1 - template_similarity`` of the
full scale. 1.0 is a pixel-perfect frame; the default 0.80 accepts recompression, a slightly
different scale and small edits, and rejects another frame colour or a photo with no frame.

Findings name the file once, however many accounts use it, and point at the first of them::

    from amplifier.policy.photos import check_photos
    for finding in check_photos(workspace, settings.photos):
        print(finding.source, finding.message)
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from amplifier.findings import Finding
from amplifier.load import LoadedWorkspace
from amplifier.load.schema import AccountSpec
from amplifier.policy.config import PhotoSettings

__all__ = ["check_photos", "frame_similarity", "inspect_photo"]

CATEGORY = "photo"
COMPARE_SIZE = 64  # both images are scaled to this square before comparing
BAND = COMPARE_SIZE // 10  # the frame band of a template without transparency


@dataclass(frozen=True)
class _Template:
    image: Image.Image  # RGB, COMPARE_SIZE square
    mask: Image.Image  # "1"/"L": where the frame is


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white, scaled to the comparison square."""
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, rgba).convert("RGB")
    return flat.resize((COMPARE_SIZE, COMPARE_SIZE), Image.Resampling.BOX)


def _band_mask() -> Image.Image:
    mask = Image.new("L", (COMPARE_SIZE, COMPARE_SIZE), 255)
    inner = Image.new("L", (COMPARE_SIZE - 2 * BAND, COMPARE_SIZE - 2 * BAND), 0)
    mask.paste(inner, (BAND, BAND))
    return mask


def _template(image: Image.Image) -> _Template:
    mask: Image.Image | None = None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A")
        alpha = alpha.resize((COMPARE_SIZE, COMPARE_SIZE), Image.Resampling.BOX)
        mask = alpha.point(lambda a: 255 if a >= 128 else 0)
        opaque = mask.histogram()[255]
        if opaque == 0 or opaque == COMPARE_SIZE * COMPARE_SIZE:
            mask = None  # all transparent or all opaque: no frame shape to go by
    return _Template(_flatten(image), mask if mask is not None else _band_mask())


def frame_similarity(photo: Image.Image, template: Image.Image) -> float:
    """How alike ``photo`` is to the frame ``template`` where the frame is, from 0 to 1."""
    return _similarity(photo, _template(template))


def _similarity(photo: Image.Image, template: _Template) -> float:
    diff = ImageChops.difference(_flatten(photo), template.image)
    mean = ImageStat.Stat(diff, template.mask).mean
    return 1.0 - sum(mean) / (len(mean) * 255.0)


def _open(path: Path) -> Image.Image:
    """The decoded image; raises ``OSError`` or ``ValueError`` when Pillow cannot read it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                image.load()
                return image.copy() if image.mode != "P" else image.convert("RGBA")
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ValueError(f"too many pixels ({exc})") from None
        except SyntaxError as exc:  # some plugins report broken headers this way
            raise OSError(str(exc)) from None


def inspect_photo(
    path: Path, settings: PhotoSettings, template: Image.Image | None = None
) -> list[tuple[str, str]]:
    """``(rule, what is wrong)`` for the image at ``path``; empty when it is fine."""
    return _inspect(path, settings, _template(template) if template is not None else None)


def _inspect(
    path: Path, settings: PhotoSettings, template: _Template | None
) -> list[tuple[str, str]]:
    if not path.is_file():
        return [("policy.photo.missing", "does not exist")]
    try:
        image = _open(path)
    except (OSError, ValueError) as exc:
        why = str(exc).replace(str(path), path.name)
        return [("policy.photo.unreadable", f"is not an image Pillow can read ({why})")]
    problems: list[tuple[str, str]] = []
    width, height = image.size
    square = width == height
    if settings.require_square and not square:
        problems.append(("policy.photo.not_square", f"is {width}×{height} pixels, not square"))
    if min(width, height) < settings.min_size:
        problems.append(
            (
                "policy.photo.too_small",
                f"is {width}×{height} pixels; at least {settings.min_size}×{settings.min_size} "
                "is needed",
            )
        )
    if template is not None and square:  # a stretched photo says nothing about its frame
        score = _similarity(image, template)
        if score < settings.template_similarity:
            problems.append(
                (
                    "policy.photo.template_mismatch",
                    f"does not match the institution's frame {settings.template}: similarity "
                    f"{score:.2f}, at least {settings.template_similarity:.2f} is needed",
                )
            )
    return problems


def _account_names(accounts: list[AccountSpec]) -> str:
    names = [f"{a.platform.value}:{a.handle}" for a in accounts[:3]]
    more = f" and {len(accounts) - 3} more" if len(accounts) > 3 else ""
    return ", ".join(names) + more


def check_photos(ws: LoadedWorkspace, settings: PhotoSettings) -> list[Finding]:
    """Findings for every account's profile photo, one per file and problem."""
    findings: list[Finding] = []
    template: _Template | None = None
    if settings.template:
        try:
            template = _template(_open(ws.root / settings.template))
        except (OSError, ValueError) as exc:
            findings.append(
                Finding(
                    rule="policy.photo.template_missing",
                    severity="review",
                    message=f"the photo template {settings.template} cannot be read "
                    f"({exc}); photos were not compared with it",
                    category=CATEGORY,
                    source="amplifier.toml",
                )
            )

    def source(account: AccountSpec) -> str | None:
        where = ws.source_of("account", account.key)
        return str(where) if where else None

    by_file: dict[str, list[AccountSpec]] = {}
    for unit in ws.org.units:
        for account in unit.accounts:
            if not account.profile_photo:
                findings.append(
                    Finding(
                        rule="policy.photo.missing",
                        severity="review",
                        message=f"account {account.key} of unit {unit.code} declares no "
                        "profile_photo",
                        category=CATEGORY,
                        source=source(account),
                    )
                )
                continue
            by_file.setdefault(account.profile_photo, []).append(account)

    inspect = functools.partial(_inspect, settings=settings, template=template)
    for name, accounts in by_file.items():
        for rule, problem in inspect(ws.root / name):
            findings.append(
                Finding(
                    rule=rule,
                    severity="review",
                    message=f"profile photo {name} {problem} (used by {_account_names(accounts)})",
                    category=CATEGORY,
                    source=source(accounts[0]),
                )
            )
    return findings
