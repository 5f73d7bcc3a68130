"""Policy settings: the ``[policy]`` table of ``amplifier.toml`` and the per-campaign ``require:``.

The guideline (pedoman pengelolaan media sosial) is data here, so an institution changes its
rules in its workspace, not in code::

    [policy]
    trusted_domains = ["*.kptd.go.id", "indonesia.go.id"]   # added to the defaults
    shorteners = ["lnk.id"]                                  # added to the defaults

    [policy.naming]
    prefix = "kptd"                      # default: the institution code in lower case
    [policy.naming.patterns]             # per platform; platforms left out are not checked
    x = "{prefix}_{token}"
    instagram = "{prefix}.{kind}.{token}"
    [policy.naming.kinds]                # the {kind} abbreviation per unit kind
    regional = "kanwil"
    [policy.naming.abbreviations]        # applied to city and region, longest first
    "Jawa Tengah" = "jateng"
    [policy.naming.units]                # one unit's own exceptions
    PUSAT = { token = "ri" }

    [policy.photos]
    min_size = 400
    template = "assets/profile/template.png"

    [policy.governance]
    expiry_warning_days = 60
    required_training = ["pelatihan-humas-digital"]

In a calendar file, a campaign may ask for elements in every variant::

    require: {hashtags: true, link: true, mention_central: true}
"""

from __future__ import annotations

import re
import string
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from amplifier.load.base import Strict, StrList
from amplifier.load.source import suggest
from amplifier.vocab import Platform, UnitKind

__all__ = [
    "DEFAULT_KIND_ABBREVIATIONS",
    "DEFAULT_SHORTENERS",
    "DEFAULT_TOKENS",
    "DEFAULT_TRUSTED_DOMAINS",
    "GovernanceSettings",
    "NamingSettings",
    "NamingUnit",
    "PhotoSettings",
    "PolicySettings",
    "RequireSpec",
    "TrainingList",
]

DEFAULT_TRUSTED_DOMAINS: tuple[str, ...] = ("*.go.id",)
DEFAULT_SHORTENERS: tuple[str, ...] = (
    "bit.ly",
    "bitly.com",
    "s.id",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "rebrand.ly",
    "cutt.ly",
    "is.gd",
    "v.gd",
    "buff.ly",
    "shorturl.at",
    "tiny.cc",
    "rb.gy",
    "t.ly",
    "lnkd.in",
    "trib.al",
    "dlvr.it",
    "linktr.ee",
)

# The {kind} abbreviation of each unit kind. Central and echelon-I units carry none: an empty
# placeholder drops one separator next to it, so "{prefix}.{kind}.{token}" gives "kptd.setjen".
DEFAULT_KIND_ABBREVIATIONS: dict[UnitKind, str] = {
    UnitKind.CENTRAL: "",
    UnitKind.ECHELON1: "",
    UnitKind.REGIONAL: "kanwil",
    UnitKind.SERVICE: "kl",
    UnitKind.OVERSEAS: "perwakilan",
}
# What {token}, the unit's short name in a handle, is made of, per unit kind.
DEFAULT_TOKENS: dict[UnitKind, str] = {
    UnitKind.CENTRAL: "{code}",
    UnitKind.ECHELON1: "{code}",
    UnitKind.REGIONAL: "{region}",
    UnitKind.SERVICE: "{city}",
    UnitKind.OVERSEAS: "{city}",
}

PATTERN_FIELDS: tuple[str, ...] = ("prefix", "kind", "token", "city", "region", "code")
TOKEN_FIELDS: tuple[str, ...] = ("city", "region", "code")


def _placeholders(allowed: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            raise ValueError(f"'{value}': {exc}") from None
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in allowed:
                choices = ", ".join("{" + a + "}" for a in allowed)
                raise ValueError(
                    f"'{value}': unknown placeholder {{{name}}}{suggest(name, allowed)}; "
                    f"known placeholders: {choices}"
                )
            if spec or conversion:
                raise ValueError(f"'{value}': write placeholders plainly, as {{{name}}}")
        return value

    return AfterValidator(check)


HandlePattern = Annotated[str, Field(min_length=1), _placeholders(PATTERN_FIELDS)]
TokenPattern = Annotated[str, Field(min_length=1), _placeholders(TOKEN_FIELDS)]
Word = Annotated[str, Field(pattern=r"^[A-Za-z0-9]*$", max_length=30)]

_DOMAIN = re.compile(r"^(\*\.)?[a-z0-9*?]([a-z0-9*?\-]*[a-z0-9*?])?(\.[a-z0-9*?\-]+)*$")


def _domains(defaults: tuple[str, ...]) -> AfterValidator:
    def check(value: list[str]) -> list[str]:
        out = list(defaults)
        for entry in value:
            host = entry.strip().lower().rstrip(".")
            if not _DOMAIN.match(host):
                raise ValueError(
                    f"'{entry}' is not a domain; write a host name such as 'indonesia.go.id', "
                    "or '*.example.go.id' for it and every subdomain"
                )
            if host not in out:
                out.append(host)
        return out

    return AfterValidator(check)


class NamingUnit(Strict):
    """One unit's exceptions to the naming pattern: ``PUSAT = { token = "ri" }``."""

    kind: Word | None = Field(default=None, description="the {kind} abbreviation for this unit")
    token: Word | None = Field(default=None, description="the unit's short name in handles")
    city: str | None = Field(default=None, description="the {city} value for this unit")
    region: str | None = Field(default=None, description="the {region} value for this unit")


class NamingSettings(Strict):
    """``[policy.naming]``: how account handles are built from unit attributes."""

    prefix: Word | None = Field(
        default=None, description="the {prefix}; default: the institution code in lower case"
    )
    patterns: dict[Platform, HandlePattern] = Field(
        default_factory=dict,
        description="handle pattern per platform, e.g. x = '{prefix}_{token}'",
    )
    kinds: Annotated[
        dict[UnitKind, Word],
        AfterValidator(lambda v: {**DEFAULT_KIND_ABBREVIATIONS, **v}),
    ] = Field(
        default_factory=lambda: dict(DEFAULT_KIND_ABBREVIATIONS),
        description="the {kind} abbreviation per unit kind; '' for none",
    )
    tokens: Annotated[
        dict[UnitKind, TokenPattern],
        AfterValidator(lambda v: {**DEFAULT_TOKENS, **v}),
    ] = Field(
        default_factory=lambda: dict(DEFAULT_TOKENS),
        description="what {token} is made of per unit kind, e.g. regional = '{region}'",
    )
    abbreviations: dict[str, Word] = Field(
        default_factory=dict,
        description="words of a city or region -> abbreviation, e.g. 'Jawa Tengah' = 'jateng'",
    )
    units: dict[str, NamingUnit] = Field(
        default_factory=dict, description="per unit code: its own kind, token, city or region"
    )

    @field_validator("abbreviations")
    @classmethod
    def _no_empty_words(cls, value: dict[str, str]) -> dict[str, str]:
        for words in value:
            if not words.strip():
                raise ValueError("an abbreviation needs the words it stands for")
        return value


class PhotoSettings(Strict):
    """``[policy.photos]``: what a profile photo (foto profil) must be."""

    min_size: int = Field(default=400, ge=1, description="smallest width and height, in pixels")
    require_square: bool = True
    template: str | None = Field(
        default=None,
        description="the institution's frame, a path in the workspace; transparent where the "
        "unit's own picture goes",
    )
    template_similarity: float = Field(
        default=0.80, ge=0.0, le=1.0, description="how alike photo and frame must be, 0 to 1"
    )


class GovernanceSettings(Strict):
    """``[policy.governance]``: admins (pengelola) and their assignment letters (surat tugas)."""

    expiry_warning_days: int = Field(
        default=60, ge=0, description="warn about letters that end within this many days"
    )
    required_training: StrList = Field(
        default_factory=list, description="trainings every admin must have completed"
    )


class ContentSettings(Strict):
    """``[policy.content]``: the lexicons that flag SARA, hoax, profanity and electoral terms."""

    default_lexicons: bool = Field(default=True, description="use the lexicons amplifier ships")
    lexicons: StrList = Field(
        default_factory=list, description="workspace lexicon files or folders (YAML)"
    )
    allow: StrList = Field(default_factory=list, description="phrases never flagged")
    disable: StrList = Field(default_factory=list, description="lexicon entry ids switched off")


class PolicySettings(Strict):
    """``[policy]`` in ``amplifier.toml``."""

    trusted_domains: Annotated[list[str], _domains(DEFAULT_TRUSTED_DOMAINS)] = Field(
        default_factory=lambda: list(DEFAULT_TRUSTED_DOMAINS),
        description="hosts links may point to without review, added to '*.go.id'; "
        "'*.example.com' also covers example.com",
    )
    shorteners: Annotated[list[str], _domains(DEFAULT_SHORTENERS)] = Field(
        default_factory=lambda: list(DEFAULT_SHORTENERS),
        description="URL shorteners, added to the built-in list; they hide where a link goes",
    )
    content: ContentSettings = ContentSettings()
    naming: NamingSettings = NamingSettings()
    photos: PhotoSettings = PhotoSettings()
    governance: GovernanceSettings = GovernanceSettings()


class RequireSpec(Strict):
    """A campaign's ``require:``: what each of its variants must contain."""

    hashtags: bool = Field(default=False, description="every campaign hashtag")
    link: bool = Field(default=False, description="the post's link or one campaign link")
    mention_central: bool = Field(
        default=False, description="the central unit's account on the same platform"
    )

    @property
    def any(self) -> bool:
        return self.hashtags or self.link or self.mention_central


TrainingList = Annotated[
    StrList, Field(description="trainings the admin has completed, e.g. pelatihan-humas-digital")
]
"""The type of ``AdminSpec.training``: ``training: TrainingList = Field(default_factory=list)``."""
