"""Building blocks shared by every workspace schema: strict models and common field types.

Stages that add their own workspace keys (timing, policy, publishing) build their models
from these, and ``amplifier.load.schema`` assembles the files.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from amplifier.load.source import suggest
from amplifier.vocab import Platform, UnitKind


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        """``targets:`` with nothing after it reads as null; take it as the default."""
        if not isinstance(data, dict):
            return data
        return {
            k: v
            for k, v in data.items()
            if v is not None
            or k not in cls.model_fields
            or cls.model_fields[k].is_required()
            or cls.model_fields[k].default is None
        }


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(
            f"unknown IANA timezone '{value}'{suggest(value, _zones())}; "
            "Indonesian zones are Asia/Jakarta or Asia/Pontianak (WIB), "
            "Asia/Makassar (WITA) and Asia/Jayapura (WIT)"
        )
    return value


def as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("a time needs its UTC offset, for example 2027-06-23T09:00:00+07:00 (WIB)")
    return value


Timezone = Annotated[str, AfterValidator(_check_zone)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9\-]*$")]
StrList = Annotated[list[str], BeforeValidator(as_list)]
AwareDatetime = Annotated[dt.datetime, AfterValidator(_aware)]


class Targets(Strict):
    """Which units (and which of their platforms) receive a campaign or a post.

    The attribute selectors (kinds, regions, timezones, tags, subtrees) narrow each other
    (AND); values inside one selector widen it (OR). Units listed in ``units`` are added
    whatever their attributes. ``exclude`` removes units together with their subtrees.
    With no selector at all, every active unit is selected. ``platforms`` limits which of
    the selected units' accounts receive it (empty: all). A post's own targets narrow its
    campaign's.
    """

    kinds: Annotated[list[UnitKind], BeforeValidator(as_list)] = Field(default_factory=list)
    regions: StrList = Field(default_factory=list)
    timezones: Annotated[list[Timezone], BeforeValidator(as_list)] = Field(default_factory=list)
    tags: StrList = Field(default_factory=list)
    units: StrList = Field(default_factory=list, description="explicit unit codes")
    subtrees: StrList = Field(default_factory=list, description="a unit and all units below it")
    exclude: StrList = Field(default_factory=list, description="unit codes (with their subtrees)")
    platforms: Annotated[list[Platform], BeforeValidator(as_list)] = Field(default_factory=list)
