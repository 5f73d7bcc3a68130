"""The rows every export reads: variants joined to their account, unit, post and campaign.

    query = variant_rows(V.c.id, U.c.code, plain(V.c.status), order_by=[V.c.id])
    for vid, code, status in conn.execution_options(yield_per=2000).execute(query): ...

Exports read 100,000 rows at a time, so enums, JSON and times are best read without their
SQLAlchemy types (``plain``): converting them costs more than writing the file. Times read
that way are text on SQLite and naive; ``aware`` makes them aware UTC ``datetime`` again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from amplifier.models import ACCOUNTS, CAMPAIGNS, POSTS, UNITS, VARIANTS

__all__ = ["aware", "plain", "variant_rows"]

V, A, U, P, C = VARIANTS, ACCOUNTS, UNITS, POSTS, CAMPAIGNS


def plain(column: Any) -> Any:
    """``column`` read as the database gives it (no Enum, JSON or time conversion)."""
    return sa.type_coerce(column, sa.String)


def variant_rows(
    *columns: Any, where: Iterable[Any] = (), order_by: Iterable[Any] = ()
) -> sa.Select[Any]:
    """``SELECT columns`` over variant ⋈ account ⋈ unit ⋈ post ⋈ campaign."""
    return (
        sa.select(*columns)
        .select_from(
            V.join(A, A.c.id == V.c.account_id)
            .join(U, U.c.id == V.c.unit_id)
            .join(P, P.c.id == V.c.post_id)
            .join(C, C.c.id == P.c.campaign_id)
        )
        .where(*where)
        .order_by(*order_by)
    )


def aware(value: dt.datetime | str) -> dt.datetime:
    """A time read with ``plain``: SQLite gives its text, naive and in UTC."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
