"""The one place that reads the wall clock.

Every other module takes a `Clock` so SLA maths, demo data and snapshots are deterministic:
production passes `SystemClock`, tests pass `FixedClock` and move it by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current instant as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock, always in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; for tests, snapshots and demo generation."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by `delta` or by timedelta keyword arguments (`seconds=30`)."""
        if delta is not None and kwargs:
            raise TypeError("advance() takes a timedelta or keyword arguments, not both")
        self._at += delta if delta is not None else timedelta(**kwargs)
        return self._at


def ensure_utc(at: datetime) -> datetime:
    """Refuse naive datetimes: an instant without a zone is ambiguous, and SLA maths needs exact."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"datetime {at.isoformat()} has no time zone")
    return at.astimezone(UTC)
