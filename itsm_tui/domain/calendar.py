"""Business calendars: when the SLA clock runs.

A calendar is a time zone, weekly working intervals (several per day, overnight shifts such as
22:00-06:00 allowed), public holidays from the `holidays` package plus extra dates, or simply
24x7. Working time is turned into concrete UTC windows day by day in the calendar's zone, so
DST changes come out right by construction: the 22:00-06:00 shift is 7 hours long on the
spring-forward night and 9 on the fall-back night, and 08:00-17:00 stays 9 hours every day.

Rules worth knowing:
- An interval belongs to the local date on which it starts; if that date is a holiday the
  whole interval is skipped (an overnight shift starting on Christmas Eve still runs, the one
  starting on Christmas Day does not).
- A local start or end time that does not exist (inside a spring-forward gap) is read with the
  offset before the change, i.e. one hour later in wall time; an ambiguous one (fall-back) is
  read as its first occurrence (`fold=0`), as zoneinfo does.
- Times are exact to the second: amounts are whole seconds.
- Business time has an end: `add` finds no deadline more than `HORIZON` (ten years) after its
  start and raises `Unreachable`, instead of walking day by day to the year 9999 (issue 16: a
  one-minute-a-week calendar under a 365-day target spun 4-17 s, then OverflowError). SLA
  policies are checked against the tighter `sla_policy.REACH` when saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itsm_tui.domain.errors import DomainError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar whose working time is further apart than this is treated as having none: it
# would otherwise make `add` search forever (e.g. every working day is a holiday).
MAX_GAP_DAYS = 366 * 2
# The end of business time. The longest target a policy may set (365 days of business time)
# takes about 3.7 years on 9h x 5d office hours; ten years is room for that and holidays, and
# bounds a search at ~3,650 local days (milliseconds) where year 9999 took seconds.
HORIZON = timedelta(days=3653)


_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class CalendarError(DomainError):
    """A calendar definition that cannot work (unknown zone or country, no working time)."""


class Unreachable(CalendarError):
    """So much business time that the calendar does not have it within the horizon."""


@dataclass(frozen=True, order=True)
class WorkInterval:
    """Working time on one weekday (0 = Monday): `start` to `end`, local wall time.

    `end <= start` means the interval runs overnight into the next day; `end == start`
    would be 24 hours and is refused (use two intervals or a 24x7 calendar).
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise CalendarError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if self.start == self.end:
            raise CalendarError("an interval needs a start and an end that differ")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise CalendarError("interval times are local wall times, without a zone")

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Holidays:
    """Public holidays of a country (and subdivision) plus extra dates of the organisation."""

    country: str | None = None
    subdivision: str | None = None
    extra_dates: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.country is None:
            if self.subdivision is not None:
                raise CalendarError("a holiday subdivision needs a country")
            return
        import holidays as holiday_data  # see _public_holidays

        supported = holiday_data.list_supported_countries()
        if self.country not in supported:
            known = ", ".join(sorted(supported))
            raise CalendarError(f"unknown holiday country '{self.country}'; known: {known}")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            known = ", ".join(supported[self.country]) or "none"
            raise CalendarError(
                f"unknown subdivision '{self.subdivision}' for {self.country}; known: {known}"
            )

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        if day in self.extra_dates:
            return True
        if self.country is None:
            return False
        return day in _public_holidays(self.country, self.subdivision, day.year)


@lru_cache(maxsize=256)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # Imported here and in `Holidays`: 0.06 s that only a calendar with a holiday country
    # needs, not every command that opens the desk.
    import holidays as holiday_data

    return frozenset(holiday_data.country_holidays(country, subdiv=subdivision, years=year))


@dataclass(frozen=True)
class BusinessCalendar:
    """When SLA time runs. `always_on` is the 24x7 calendar: every second counts."""

    zone: str
    intervals: tuple[WorkInterval, ...] = ()
    holidays: Holidays = field(default_factory=Holidays)
    always_on: bool = False

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise CalendarError(f"unknown time zone '{self.zone}'") from error
        if not self.always_on and not self.intervals:
            raise CalendarError("a calendar needs working time: intervals, or 24x7")
        object.__setattr__(self, "intervals", tuple(sorted(self.intervals)))

    @classmethod
    def twenty_four_seven(cls, zone: str = "UTC") -> BusinessCalendar:
        return cls(zone=zone, always_on=True)

    @classmethod
    def weekdays(
        cls,
        zone: str,
        start: time,
        end: time,
        *,
        days: Iterable[int] = range(5),
        holidays: Holidays | None = None,
    ) -> BusinessCalendar:
        """The same hours on each of `days` (default Monday to Friday)."""
        return cls(
            zone=zone,
            intervals=tuple(WorkInterval(d, start, end) for d in days),
            holidays=holidays or Holidays(),
        )

    # ------------------------------------------------------------------ the two operations

    def add(self, start: datetime, seconds: int, *, within: timedelta = HORIZON) -> datetime:
        """The instant at which `seconds` of business time have passed since `start`.

        With `seconds == 0` this is `start` itself. Otherwise the result always lies inside
        working time (or at the end of a window), never in a gap. A result more than `within`
        after `start` is not searched for: `Unreachable` says so.
        """
        start = _utc(start)
        if seconds < 0:
            raise ValueError("business seconds to add must not be negative")
        if seconds == 0 or self.always_on:
            if timedelta(seconds=seconds) > within:
                raise self._unreachable(seconds, within)
            return _later(start, timedelta(seconds=seconds))
        remaining = timedelta(seconds=seconds)
        limit = min(within, _END_OF_TIME - start) + start
        for window_start, window_end in self.windows(start):
            if window_start >= limit:
                raise self._unreachable(seconds, within)
            begin = max(start, window_start)
            available = window_end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: windows() never ends")  # pragma: no cover

    @staticmethod
    def _unreachable(seconds: int, within: timedelta) -> Unreachable:
        hours = seconds / 3600
        years = within.days / 365.25
        return Unreachable(
            f"{hours:g} hours of business time do not fit in this calendar's working time "
            f"within {years:.0f} years"
        )

    def seconds_between(self, start: datetime, end: datetime) -> int:
        """Business seconds in [start, end); 0 when `end` is not after `start`."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0
        if self.always_on:
            return _whole_seconds(end - start)
        total = timedelta()
        for window_start, window_end in self.windows(start):
            if window_start >= end:
                break
            overlap = min(end, window_end) - max(start, window_start)
            if overlap > timedelta():
                total += overlap
        return _whole_seconds(total)

    def is_working(self, at: datetime) -> bool:
        at = _utc(at)
        if self.always_on:
            return True
        window_start, window_end = next(self.windows(at))
        return window_start <= at < window_end

    # ------------------------------------------------------------------ windows

    def windows(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows as (start, end) UTC instants, in order and never overlapping
        (overlaps are clipped, touching windows stay separate pieces), starting with the one
        that contains `since` or comes after it. Endless, even for round-the-clock shifts."""
        since = _utc(since)
        if self.always_on:
            yield since, _END_OF_TIME
            return
        covered_until: datetime | None = None
        for begin, finish in self._raw_windows(since):
            if covered_until is not None:
                begin = max(begin, covered_until)
            if finish <= begin:
                continue  # wholly inside time already yielded
            covered_until = finish
            if finish > since:
                yield begin, finish

    def _raw_windows(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        zone = ZoneInfo(self.zone)
        # Start a day early: an overnight shift that began yesterday may still be running.
        day = since.astimezone(zone).date() - timedelta(days=1)
        quiet_days = 0
        while True:
            todays: list[tuple[datetime, datetime]] = []
            if day not in self.holidays:
                for interval in self.intervals:
                    if interval.weekday != day.weekday():
                        continue
                    end_day = day + timedelta(days=1) if interval.overnight else day
                    begin = datetime.combine(day, interval.start, tzinfo=zone).astimezone(UTC)
                    finish = datetime.combine(end_day, interval.end, tzinfo=zone).astimezone(UTC)
                    if finish > begin:  # a window swallowed whole by a DST gap has no time
                        todays.append((begin, finish))
            # Local order is not always UTC order: a start in a spring-forward gap reads an
            # hour later and can overtake the next interval.
            yield from sorted(todays)
            quiet_days = 0 if todays else quiet_days + 1
            if quiet_days > MAX_GAP_DAYS:
                raise CalendarError(
                    f"no working time within {MAX_GAP_DAYS} days of {day}: check the "
                    "calendar's intervals and holidays"
                )
            try:
                day += timedelta(days=1)
            except OverflowError:  # the year 9999: a domain error, not a crash
                raise CalendarError("no working time before the end of the year 9999") from None


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"datetime {at.isoformat()} has no time zone")
    return at.astimezone(UTC)


def _later(at: datetime, delta: timedelta) -> datetime:
    """`at + delta`, where passing the year 9999 is a domain error rather than a crash."""
    try:
        return at + delta
    except OverflowError:
        raise CalendarError("no working time before the end of the year 9999") from None


def _whole_seconds(delta: timedelta) -> int:
    return delta.days * 86_400 + delta.seconds
