"""Time in Counsel is UTC: the current moment, and a stored moment read back as UTC.

A module of its own, importing nothing of Counsel's, because the domain model, the tables,
the repositories and the audit chain's hot path all stamp times, and none of them should
have to load the others to do it.

>>> from datetime import datetime
>>> utcnow().tzinfo
datetime.timezone.utc
>>> as_utc(datetime(2026, 1, 2, 3, 4)).isoformat()
'2026-01-02T03:04:00+00:00'
>>> as_utc(None) is None
True
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

__all__ = ["utcnow", "as_utc"]


def utcnow() -> datetime:
    """The current time in UTC (a function, so defaults are computed per call)."""
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` with its UTC zone restored: SQLite hands back naive datetimes stored as UTC.

    An aware datetime and ``None`` come back unchanged.
    """
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
