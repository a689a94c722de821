"""Business calendars: table-driven cases worked out by hand, validation, and properties.

Every expected instant below was worked out by hand from the rules in the module docstring and
the zone facts, never by calling the calendar a second way. Zone facts used (2026):

- Europe/London: GMT (UTC+0) until Sun 29 Mar 01:00 GMT -> 02:00 BST (UTC+1);
  BST until Sun 25 Oct 02:00 BST -> 01:00 GMT (wall 01:00-01:59 happens twice).
- America/New_York: EST (UTC-5) until Sun 8 Mar 02:00 EST -> 03:00 EDT (UTC-4);
  EDT until Sun 1 Nov 02:00 EDT -> 01:00 EST.
- England (holidays 'GB'/'ENG'): New Year's Day Thu 1 Jan 2026 and Fri 1 Jan 2027,
  Good Friday 3 Apr 2026, Easter Monday 6 Apr 2026, Christmas Thu 25 Dec 2025,
  Boxing Day Fri 26 Dec 2025.

Expected instants in DST tables are written in UTC because an ambiguous local time compares
unequal to any instant in another zone (PEP 495), and the calendar answers in UTC.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_tui.domain.calendar import (
    BusinessCalendar,
    CalendarError,
    Holidays,
    WorkInterval,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
H = 3600
MIN = 60


def at(zone: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A local wall time in `zone` (only used for times that exist and are unambiguous)."""
    return datetime(y, mo, d, h, mi, s, tzinfo=zone)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def every_day(
    zone: str, *spans: tuple[time, time], holidays: Holidays | None = None
) -> BusinessCalendar:
    return BusinessCalendar(
        zone=zone,
        intervals=tuple(WorkInterval(d, a, b) for d in range(7) for a, b in spans),
        holidays=holidays or Holidays(),
    )


# Mon-Fri 08:00-17:00 in London, no holidays / with English public holidays.
OFFICE = BusinessCalendar.weekdays("Europe/London", time(8), time(17))
OFFICE_ENG = BusinessCalendar.weekdays(
    "Europe/London", time(8), time(17), holidays=Holidays("GB", "ENG")
)
OFFICE_ENG_EXTRA = BusinessCalendar.weekdays(
    "Europe/London",
    time(8),
    time(17),
    holidays=Holidays("GB", "ENG", extra_dates=frozenset({date(2026, 4, 7)})),
)
OFFICE_EXTRA_ONLY = BusinessCalendar.weekdays(
    "Europe/London",
    time(8),
    time(17),
    holidays=Holidays(extra_dates=frozenset({date(2026, 1, 12)})),
)
# Mon-Fri 08:00-12:00 and 13:00-17:00 (lunch is not business time).
SPLIT = BusinessCalendar(
    zone="Europe/London",
    intervals=tuple(
        WorkInterval(d, a, b)
        for d in range(5)
        for a, b in ((time(8), time(12)), (time(13), time(17)))
    ),
)
# Night shifts 22:00-06:00 starting Monday to Friday evening, New York.
NY_NIGHTS = BusinessCalendar.weekdays("America/New_York", time(22), time(6))
# Night shifts 22:00-06:00 every night.
LONDON_EVERY_NIGHT = every_day("Europe/London", (time(22), time(6)))
NY_EVERY_NIGHT = every_day("America/New_York", (time(22), time(6)))
LONDON_EVERY_NIGHT_ENG = every_day(
    "Europe/London", (time(22), time(6)), holidays=Holidays("GB", "ENG")
)
NY_EVERY_NIGHT_EXTRA = every_day(
    "America/New_York",
    (time(22), time(6)),
    holidays=Holidays(extra_dates=frozenset({date(2026, 1, 14)})),  # a Wednesday
)
# 08:00-17:00 every day of the week.
LONDON_EVERY_DAY = every_day("Europe/London", (time(8), time(17)))
NY_EVERY_DAY = every_day("America/New_York", (time(8), time(17)))
ALWAYS_LONDON = BusinessCalendar.twenty_four_seven("Europe/London")
ALWAYS_UTC = BusinessCalendar.twenty_four_seven()


# ---------------------------------------------------------------------------- add

ADD_CASES = [
    # --- weekends, Mon-Fri 08:00-17:00 London
    pytest.param(OFFICE, at(LONDON, 2026, 1, 9, 16), 2 * H, utc(2026, 1, 12, 9), id="fri16+2h-gmt"),
    pytest.param(OFFICE, at(LONDON, 2026, 6, 5, 16), 2 * H, utc(2026, 6, 8, 8), id="fri16+2h-bst"),
    pytest.param(OFFICE, utc(2026, 6, 5, 15), 2 * H, at(LONDON, 2026, 6, 8, 9), id="start-in-utc"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 10, 12), H, utc(2026, 1, 12, 9), id="saturday-start"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 12, 6), H, utc(2026, 1, 12, 9), id="before-opening"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 9, 16), H, utc(2026, 1, 9, 17), id="exactly-to-close"),
    pytest.param(
        OFFICE, at(LONDON, 2026, 1, 9, 17), 1, utc(2026, 1, 12, 8, 0, 1), id="at-close+1s"
    ),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 12, 8), 45 * H, utc(2026, 1, 16, 17), id="full-week"),
    pytest.param(
        OFFICE, at(LONDON, 2026, 1, 12, 8), 45 * H + 1, utc(2026, 1, 19, 8, 0, 1), id="week+1s"
    ),
    # Fri 27 Mar 16:00 GMT + 1 h to close, Mon 30 Mar 08:00 BST (07:00Z) + 1 h.
    pytest.param(
        OFFICE, at(LONDON, 2026, 3, 27, 16), 2 * H, utc(2026, 3, 30, 8), id="over-spring-weekend"
    ),
    # Fri 23 Oct 16:00 BST + 1 h to close, Mon 26 Oct 08:00 GMT + 1 h.
    pytest.param(
        OFFICE, at(LONDON, 2026, 10, 23, 16), 2 * H, utc(2026, 10, 26, 9), id="over-fall-weekend"
    ),
    # --- holidays (England), Easter 2026: Good Friday 3 Apr, Easter Monday 6 Apr; BST
    pytest.param(
        OFFICE_ENG, at(LONDON, 2026, 4, 2, 16), 2 * H, utc(2026, 4, 7, 8), id="thu16-over-easter"
    ),
    pytest.param(
        OFFICE_ENG, at(LONDON, 2026, 4, 3, 10), H, utc(2026, 4, 7, 8), id="good-friday-start"
    ),
    pytest.param(
        OFFICE_ENG_EXTRA, at(LONDON, 2026, 4, 2, 16), 2 * H, utc(2026, 4, 8, 8), id="easter+extra"
    ),
    pytest.param(
        OFFICE_EXTRA_ONLY, at(LONDON, 2026, 1, 9, 16), 2 * H, utc(2026, 1, 13, 9), id="extra-only"
    ),
    # Without holidays Easter is ordinary: Thu 16:00 + 1 h, Fri 3 Apr 08:00 BST + 1 h.
    pytest.param(OFFICE, at(LONDON, 2026, 4, 2, 16), 2 * H, utc(2026, 4, 3, 8), id="no-holidays"),
    # --- year end: Wed 31 Dec 2025 -> Thu 1 Jan holiday -> Fri 2 Jan
    pytest.param(
        OFFICE_ENG, at(LONDON, 2025, 12, 31, 16), 2 * H, utc(2026, 1, 2, 9), id="year-end-2025"
    ),
    # Thu 31 Dec 2026 -> Fri 1 Jan 2027 holiday, weekend -> Mon 4 Jan 2027
    pytest.param(
        OFFICE_ENG, at(LONDON, 2026, 12, 31, 16), 2 * H, utc(2027, 1, 4, 9), id="year-end-2026"
    ),
    # --- several intervals a day: 08-12 and 13-17, January (GMT = UTC)
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 11), 2 * H, utc(2026, 1, 12, 14), id="over-lunch"),
    pytest.param(
        SPLIT, at(LONDON, 2026, 1, 12, 11, 30), 30 * MIN, utc(2026, 1, 12, 12), id="to-lunch"
    ),
    pytest.param(
        SPLIT, at(LONDON, 2026, 1, 12, 12, 30), 1, utc(2026, 1, 12, 13, 0, 1), id="in-lunch+1s"
    ),
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 8), 8 * H, utc(2026, 1, 12, 17), id="split-day"),
    pytest.param(
        SPLIT, at(LONDON, 2026, 1, 12, 8), 8 * H + 1, utc(2026, 1, 13, 8, 0, 1), id="split-day+1s"
    ),
    pytest.param(SPLIT, at(LONDON, 2026, 1, 9, 16), 2 * H, utc(2026, 1, 12, 9), id="split-weekend"),
    # --- overnight shifts 22:00-06:00 starting Mon-Fri evenings, New York, January (EST)
    pytest.param(
        NY_NIGHTS, at(NEW_YORK, 2026, 1, 12, 23), 2 * H, at(NEW_YORK, 2026, 1, 13, 1), id="night"
    ),
    pytest.param(
        NY_NIGHTS,
        at(NEW_YORK, 2026, 1, 13, 5),
        2 * H,
        at(NEW_YORK, 2026, 1, 13, 23),
        id="night-to-next-night",
    ),
    pytest.param(
        NY_NIGHTS,
        at(NEW_YORK, 2026, 1, 17, 5),  # Saturday 05:00, inside Friday's shift
        2 * H,
        at(NEW_YORK, 2026, 1, 19, 23),
        id="friday-night-to-monday-night",
    ),
    pytest.param(
        NY_NIGHTS, at(NEW_YORK, 2026, 1, 12, 12), H, at(NEW_YORK, 2026, 1, 12, 23), id="noon"
    ),
    pytest.param(
        NY_NIGHTS,
        at(NEW_YORK, 2026, 1, 11, 23),  # Sunday night: no shift starts on Sunday
        H,
        at(NEW_YORK, 2026, 1, 12, 23),
        id="sunday-night",
    ),
    pytest.param(
        NY_NIGHTS,
        at(NEW_YORK, 2026, 1, 12, 22),
        8 * H,
        at(NEW_YORK, 2026, 1, 13, 6),
        id="whole-shift",
    ),
    pytest.param(
        NY_NIGHTS,
        at(NEW_YORK, 2026, 1, 12, 22),
        8 * H + 1,
        at(NEW_YORK, 2026, 1, 13, 22, 0, 1),
        id="whole-shift+1s",
    ),
    # --- DST, London nights: Sat 28 Mar 22:00 GMT = 22:00Z, shift ends 06:00 BST = 05:00Z
    pytest.param(
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 3, 28, 22), 2 * H, utc(2026, 3, 29, 0), id="lsp+2h"
    ),
    # 01:00Z is the instant the clocks jump: wall time 02:00 BST.
    pytest.param(
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 3, 28, 22), 3 * H, utc(2026, 3, 29, 1), id="lsp+3h"
    ),
    pytest.param(
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 3, 28, 22), 7 * H, utc(2026, 3, 29, 5), id="lsp+7h"
    ),
    # next shift: Sun 29 Mar 22:00 BST = 21:00Z
    pytest.param(
        LONDON_EVERY_NIGHT,
        at(LONDON, 2026, 3, 28, 22),
        7 * H + 1,
        utc(2026, 3, 29, 21, 0, 1),
        id="lsp+7h1s",
    ),
    # 03:00 BST (02:00Z) is inside Saturday's shift, 3 h left until 06:00 BST (05:00Z).
    pytest.param(
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 3, 29, 3), 3 * H, utc(2026, 3, 29, 5), id="lsp-mid"
    ),
    # --- DST, London nights: Sat 24 Oct 22:00 BST = 21:00Z, shift ends 06:00 GMT = 06:00Z
    pytest.param(  # 00:00Z = 01:00 BST, first 01:00
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 10, 24, 22), 3 * H, utc(2026, 10, 25, 0), id="lfb+3h"
    ),
    pytest.param(  # 01:00Z = 01:00 GMT, second 01:00
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 10, 24, 22), 4 * H, utc(2026, 10, 25, 1), id="lfb+4h"
    ),
    pytest.param(  # 8 h of a 9 h shift: 05:00 GMT, not 06:00
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 10, 24, 22), 8 * H, utc(2026, 10, 25, 5), id="lfb+8h"
    ),
    pytest.param(
        LONDON_EVERY_NIGHT, at(LONDON, 2026, 10, 24, 22), 9 * H, utc(2026, 10, 25, 6), id="lfb+9h"
    ),
    pytest.param(
        LONDON_EVERY_NIGHT,
        at(LONDON, 2026, 10, 24, 22),
        9 * H + 1,
        utc(2026, 10, 25, 22, 0, 1),
        id="lfb+9h1s",
    ),
    # --- DST, New York nights: Sat 7 Mar 22:00 EST = 03:00Z, ends 06:00 EDT = 10:00Z
    pytest.param(  # 07:00Z = 03:00 EDT (02:00 EST never shows)
        NY_EVERY_NIGHT, at(NEW_YORK, 2026, 3, 7, 22), 4 * H, utc(2026, 3, 8, 7), id="nysp+4h"
    ),
    pytest.param(
        NY_EVERY_NIGHT, at(NEW_YORK, 2026, 3, 7, 22), 7 * H, utc(2026, 3, 8, 10), id="nysp+7h"
    ),
    pytest.param(  # next shift Sun 8 Mar 22:00 EDT = 02:00Z on the 9th
        NY_EVERY_NIGHT,
        at(NEW_YORK, 2026, 3, 7, 22),
        7 * H + 1,
        utc(2026, 3, 9, 2, 0, 1),
        id="nysp+7h1s",
    ),
    # --- DST, New York nights: Sat 31 Oct 22:00 EDT = 02:00Z, ends 06:00 EST = 11:00Z
    pytest.param(  # 05:00Z = 01:00 EDT
        NY_EVERY_NIGHT, at(NEW_YORK, 2026, 10, 31, 22), 3 * H, utc(2026, 11, 1, 5), id="nyfb+3h"
    ),
    pytest.param(  # 06:00Z = 01:00 EST
        NY_EVERY_NIGHT, at(NEW_YORK, 2026, 10, 31, 22), 4 * H, utc(2026, 11, 1, 6), id="nyfb+4h"
    ),
    pytest.param(
        NY_EVERY_NIGHT, at(NEW_YORK, 2026, 10, 31, 22), 9 * H, utc(2026, 11, 1, 11), id="nyfb+9h"
    ),
    pytest.param(  # next shift Sun 1 Nov 22:00 EST = 03:00Z on the 2nd
        NY_EVERY_NIGHT,
        at(NEW_YORK, 2026, 10, 31, 22),
        9 * H + 1,
        utc(2026, 11, 2, 3, 0, 1),
        id="nyfb+9h1s",
    ),
    # --- Christmas nights, England: the 24 Dec shift runs, 25 and 26 Dec shifts do not.
    pytest.param(
        LONDON_EVERY_NIGHT_ENG,
        at(LONDON, 2025, 12, 24, 22),
        8 * H + 1,
        utc(2025, 12, 27, 22, 0, 1),
        id="christmas-nights",
    ),
    # --- 24x7: wall time, also over the spring-forward night
    pytest.param(
        ALWAYS_LONDON, at(LONDON, 2026, 3, 28, 22), 24 * H, utc(2026, 3, 29, 22), id="24x7-spring"
    ),
    pytest.param(
        ALWAYS_UTC, utc(2025, 12, 31, 23, 59, 59), 2, utc(2026, 1, 1, 0, 0, 1), id="24x7-year"
    ),
    # --- zero: start itself, even outside working time
    pytest.param(OFFICE, at(LONDON, 2026, 1, 10, 12), 0, utc(2026, 1, 10, 12), id="zero-saturday"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 12, 10), 0, utc(2026, 1, 12, 10), id="zero-working"),
    pytest.param(ALWAYS_UTC, utc(2026, 1, 10, 12), 0, utc(2026, 1, 10, 12), id="zero-24x7"),
]


@pytest.mark.parametrize(("calendar", "start", "seconds", "expected"), ADD_CASES)
def test_add(calendar: BusinessCalendar, start: datetime, seconds: int, expected: datetime) -> None:
    result = calendar.add(start, seconds)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("calendar", "start", "seconds", "expected"), ADD_CASES)
def test_seconds_between_matches_the_add_table(
    calendar: BusinessCalendar, start: datetime, seconds: int, expected: datetime
) -> None:
    # Each add case, read the other way, is a hand-worked seconds_between case too.
    assert calendar.seconds_between(start, expected) == seconds


# ---------------------------------------------------------------------------- seconds_between

# 01:30-03:00 every day: on the spring-forward day 01:30 does not exist in London and reads
# as 02:30 BST (01:30Z) -> 03:00 BST (02:00Z) = 30 min; on the fall-back day 01:30 is the
# first one (BST, 00:30Z) -> 03:00 GMT (03:00Z) = 2 h 30.
LONDON_SMALL_HOURS = every_day("Europe/London", (time(1, 30), time(3)))
# New York's gap is 02:00-02:59: 02:30 reads as 02:30 EST = 03:30 EDT (07:30Z) -> 04:00 EDT.
NY_IN_GAP = every_day("America/New_York", (time(2, 30), time(4)))
# 01:30 on 1 Nov is first the EDT one (05:30Z) -> 03:00 EST (08:00Z) = 2 h 30.
NY_SMALL_HOURS = every_day("America/New_York", (time(1, 30), time(3)))
# 01:30-02:00 in London: on 29 Mar the start reads as 02:30 BST, after the 02:00 BST end.
LONDON_SWALLOWED = every_day("Europe/London", (time(1, 30), time(2)))
# Two 15-minute slots on Sundays. On 29 Mar 2026 01:30-01:45 reads as 02:30-02:45 BST
# (01:30Z-01:45Z) and 02:00-02:15 BST is 01:00Z-01:15Z: disjoint, 30 minutes in total.
LONDON_SUNDAY_SLOTS = BusinessCalendar(
    zone="Europe/London",
    intervals=(WorkInterval(6, time(1, 30), time(1, 45)), WorkInterval(6, time(2), time(2, 15))),
)

BETWEEN_CASES = [
    # --- weekends
    pytest.param(
        OFFICE, at(LONDON, 2026, 1, 9, 16), at(LONDON, 2026, 1, 12, 9), 2 * H, id="fri16-mon09"
    ),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 10, 12), at(LONDON, 2026, 1, 11, 12), 0, id="weekend"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 12), at(LONDON, 2026, 1, 19), 45 * H, id="a-week"),
    pytest.param(
        OFFICE, at(LONDON, 2026, 3, 27, 12), at(LONDON, 2026, 3, 30, 12), 9 * H, id="spring-wkend"
    ),
    # --- holidays
    pytest.param(
        OFFICE_ENG, at(LONDON, 2026, 4, 2, 12), at(LONDON, 2026, 4, 7, 12), 9 * H, id="easter"
    ),
    pytest.param(
        OFFICE_ENG, at(LONDON, 2026, 4, 3), at(LONDON, 2026, 4, 7), 0, id="easter-weekend-only"
    ),
    pytest.param(
        OFFICE_ENG_EXTRA, at(LONDON, 2026, 4, 2, 12), at(LONDON, 2026, 4, 8, 12), 9 * H, id="extra"
    ),
    pytest.param(
        OFFICE, at(LONDON, 2026, 4, 2, 12), at(LONDON, 2026, 4, 7, 12), 27 * H, id="easter-no-hols"
    ),
    # --- year end: Wed 31 Dec 12-17 (5 h), Thu 1 Jan holiday, Fri 2 Jan 08-12 (4 h)
    pytest.param(
        OFFICE_ENG, at(LONDON, 2025, 12, 31, 12), at(LONDON, 2026, 1, 2, 12), 9 * H, id="year-end"
    ),
    pytest.param(
        OFFICE, at(LONDON, 2025, 12, 31, 12), at(LONDON, 2026, 1, 2, 12), 18 * H, id="ye-no-hols"
    ),
    pytest.param(
        OFFICE_ENG, at(LONDON, 2026, 12, 31), at(LONDON, 2027, 1, 5), 18 * H, id="year-end-2026"
    ),
    # --- several intervals a day
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 8), at(LONDON, 2026, 1, 12, 17), 8 * H, id="split"),
    pytest.param(
        SPLIT, at(LONDON, 2026, 1, 12, 11), at(LONDON, 2026, 1, 12, 14), 2 * H, id="lunch"
    ),
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 12), at(LONDON, 2026, 1, 12, 13), 0, id="in-lunch"),
    # --- overnight shifts (Mon-Fri evenings, New York)
    pytest.param(
        NY_NIGHTS, at(NEW_YORK, 2026, 1, 12, 12), at(NEW_YORK, 2026, 1, 13, 12), 8 * H, id="1-night"
    ),
    pytest.param(
        NY_NIGHTS, at(NEW_YORK, 2026, 1, 12, 23), at(NEW_YORK, 2026, 1, 13, 1), 2 * H, id="midnight"
    ),
    pytest.param(
        NY_NIGHTS, at(NEW_YORK, 2026, 1, 16, 12), at(NEW_YORK, 2026, 1, 19, 12), 8 * H, id="nwkend"
    ),
    pytest.param(
        NY_NIGHTS, at(NEW_YORK, 2026, 1, 12), at(NEW_YORK, 2026, 1, 19), 40 * H, id="nights-week"
    ),
    # --- DST nights: 7 h on spring-forward night, 9 h on fall-back night, 8 h otherwise
    pytest.param(
        LONDON_EVERY_NIGHT,
        at(LONDON, 2026, 3, 21, 12),
        at(LONDON, 2026, 3, 22, 12),
        8 * H,
        id="london-normal-night",
    ),
    pytest.param(
        LONDON_EVERY_NIGHT,
        at(LONDON, 2026, 3, 28, 12),
        at(LONDON, 2026, 3, 29, 12),
        7 * H,
        id="london-spring-night",
    ),
    pytest.param(
        LONDON_EVERY_NIGHT,
        at(LONDON, 2026, 10, 24, 12),
        at(LONDON, 2026, 10, 25, 12),
        9 * H,
        id="london-fall-night",
    ),
    pytest.param(
        NY_EVERY_NIGHT,
        at(NEW_YORK, 2026, 3, 7, 12),
        at(NEW_YORK, 2026, 3, 8, 12),
        7 * H,
        id="ny-spring-night",
    ),
    pytest.param(
        NY_EVERY_NIGHT,
        at(NEW_YORK, 2026, 10, 31, 12),
        at(NEW_YORK, 2026, 11, 1, 12),
        9 * H,
        id="ny-fall-night",
    ),
    # --- 08:00-17:00 stays 9 h on the change days (midnight to midnight, local)
    pytest.param(
        LONDON_EVERY_DAY, at(LONDON, 2026, 3, 29), at(LONDON, 2026, 3, 30), 9 * H, id="l-spr-day"
    ),
    pytest.param(
        LONDON_EVERY_DAY, at(LONDON, 2026, 10, 25), at(LONDON, 2026, 10, 26), 9 * H, id="l-fb-day"
    ),
    pytest.param(
        NY_EVERY_DAY, at(NEW_YORK, 2026, 3, 8), at(NEW_YORK, 2026, 3, 9), 9 * H, id="ny-spr-day"
    ),
    pytest.param(
        NY_EVERY_DAY, at(NEW_YORK, 2026, 11, 1), at(NEW_YORK, 2026, 11, 2), 9 * H, id="ny-fb-day"
    ),
    # --- local times inside the gap / the repeated hour
    pytest.param(
        LONDON_SMALL_HOURS, at(LONDON, 2026, 3, 22), at(LONDON, 2026, 3, 23), 90 * MIN, id="l-0130"
    ),
    pytest.param(
        LONDON_SMALL_HOURS,
        at(LONDON, 2026, 3, 29),
        at(LONDON, 2026, 3, 30),
        30 * MIN,
        id="london-0130-in-gap",
    ),
    pytest.param(
        LONDON_SMALL_HOURS,
        at(LONDON, 2026, 10, 25),
        at(LONDON, 2026, 10, 26),
        150 * MIN,
        id="london-0130-ambiguous",
    ),
    pytest.param(
        NY_IN_GAP, at(NEW_YORK, 2026, 3, 8), at(NEW_YORK, 2026, 3, 9), 30 * MIN, id="ny-0230-in-gap"
    ),
    pytest.param(
        NY_SMALL_HOURS,
        at(NEW_YORK, 2026, 11, 1),
        at(NEW_YORK, 2026, 11, 2),
        150 * MIN,
        id="ny-0130-ambiguous",
    ),
    pytest.param(
        LONDON_SWALLOWED, at(LONDON, 2026, 3, 28), at(LONDON, 2026, 3, 29), 30 * MIN, id="l-normal"
    ),
    pytest.param(
        LONDON_SWALLOWED, at(LONDON, 2026, 3, 29), at(LONDON, 2026, 3, 30), 0, id="l-swallowed"
    ),
    pytest.param(
        LONDON_SUNDAY_SLOTS,
        at(LONDON, 2026, 3, 22),
        at(LONDON, 2026, 3, 23),
        30 * MIN,
        id="sunday-slots-normal",
    ),
    pytest.param(
        LONDON_SUNDAY_SLOTS,
        at(LONDON, 2026, 3, 29),
        at(LONDON, 2026, 3, 30),
        30 * MIN,
        id="sunday-slots-spring-forward",
    ),
    # --- holiday on an overnight shift's start date skips it; on its end date it does not
    pytest.param(
        LONDON_EVERY_NIGHT_ENG,
        at(LONDON, 2025, 12, 24, 12),
        at(LONDON, 2025, 12, 28, 12),
        16 * H,  # 24th night (8 h) and 27th night (8 h); 25th and 26th skipped
        id="christmas-nights",
    ),
    pytest.param(
        NY_EVERY_NIGHT_EXTRA,
        at(NEW_YORK, 2026, 1, 13, 12),
        at(NEW_YORK, 2026, 1, 15, 12),
        8 * H,  # Tue 13 night runs into the Wed 14 holiday; Wed 14 night skipped
        id="extra-date-night",
    ),
    # --- 24x7: wall time
    pytest.param(
        ALWAYS_LONDON, at(LONDON, 2026, 3, 28, 12), at(LONDON, 2026, 3, 29, 12), 23 * H, id="24-sp"
    ),
    pytest.param(
        ALWAYS_LONDON, at(LONDON, 2026, 10, 24, 12), at(LONDON, 2026, 10, 25, 12), 25 * H, id="24-f"
    ),
    pytest.param(ALWAYS_UTC, utc(2025, 12, 31), utc(2026, 1, 2), 48 * H, id="24x7-year-end"),
    pytest.param(
        ALWAYS_UTC,
        utc(2026, 1, 1),
        utc(2026, 1, 1, 0, 0, 1) + timedelta(microseconds=999_999),
        1,
        id="24x7-whole-seconds",
    ),
    # --- end <= start
    pytest.param(OFFICE, at(LONDON, 2026, 1, 12, 10), at(LONDON, 2026, 1, 12, 10), 0, id="equal"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 13, 10), at(LONDON, 2026, 1, 12, 10), 0, id="reverse"),
    pytest.param(ALWAYS_UTC, utc(2026, 1, 2), utc(2026, 1, 1), 0, id="24x7-reverse"),
]


@pytest.mark.parametrize(("calendar", "start", "end", "expected"), BETWEEN_CASES)
def test_seconds_between(
    calendar: BusinessCalendar, start: datetime, end: datetime, expected: int
) -> None:
    result = calendar.seconds_between(start, end)
    assert type(result) is int
    assert result == expected


# ---------------------------------------------------------------------------- is_working

WORKING_CASES = [
    pytest.param(OFFICE, at(LONDON, 2026, 1, 9, 16, 59, 59), True, id="fri-16:59:59"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 9, 17), False, id="fri-17:00-end-exclusive"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 12, 8), True, id="mon-08:00-start-inclusive"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 12, 7, 59, 59), False, id="mon-07:59:59"),
    pytest.param(OFFICE, at(LONDON, 2026, 1, 10, 12), False, id="saturday"),
    pytest.param(OFFICE, utc(2026, 6, 8, 7, 30), True, id="bst-08:30-given-in-utc"),
    pytest.param(OFFICE_ENG, at(LONDON, 2026, 4, 3, 10), False, id="good-friday"),
    pytest.param(OFFICE_ENG, at(LONDON, 2026, 4, 6, 10), False, id="easter-monday"),
    pytest.param(OFFICE_ENG, at(LONDON, 2026, 4, 7, 10), True, id="easter-tuesday"),
    pytest.param(OFFICE_ENG_EXTRA, at(LONDON, 2026, 4, 7, 10), False, id="extra-date"),
    pytest.param(OFFICE_ENG, at(LONDON, 2026, 1, 1, 10), False, id="new-years-day"),
    pytest.param(OFFICE_ENG, at(LONDON, 2026, 1, 2, 10), True, id="2-jan"),
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 11, 59, 59), True, id="before-lunch"),
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 12), False, id="lunch-starts"),
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 12, 30), False, id="lunch"),
    pytest.param(SPLIT, at(LONDON, 2026, 1, 12, 13), True, id="after-lunch"),
    pytest.param(NY_NIGHTS, at(NEW_YORK, 2026, 1, 12, 22), True, id="mon-22:00"),
    pytest.param(NY_NIGHTS, at(NEW_YORK, 2026, 1, 13, 3), True, id="tue-03:00-monday-shift"),
    pytest.param(NY_NIGHTS, at(NEW_YORK, 2026, 1, 12, 3), False, id="mon-03:00-no-sunday-shift"),
    pytest.param(NY_NIGHTS, at(NEW_YORK, 2026, 1, 13, 6), False, id="tue-06:00"),
    pytest.param(NY_NIGHTS, at(NEW_YORK, 2026, 1, 17, 3), True, id="sat-03:00-friday-shift"),
    pytest.param(NY_NIGHTS, at(NEW_YORK, 2026, 1, 18, 3), False, id="sun-03:00"),
    pytest.param(LONDON_EVERY_NIGHT_ENG, at(LONDON, 2025, 12, 25, 3), True, id="xmas-eve-shift"),
    pytest.param(LONDON_EVERY_NIGHT_ENG, at(LONDON, 2025, 12, 25, 23), False, id="xmas-day-shift"),
    pytest.param(LONDON_EVERY_NIGHT_ENG, at(LONDON, 2025, 12, 26, 23), False, id="boxing-shift"),
    pytest.param(LONDON_EVERY_NIGHT_ENG, at(LONDON, 2025, 12, 27, 23), True, id="27-dec-shift"),
    pytest.param(NY_EVERY_NIGHT_EXTRA, at(NEW_YORK, 2026, 1, 14, 3), True, id="ends-on-holiday"),
    pytest.param(NY_EVERY_NIGHT_EXTRA, at(NEW_YORK, 2026, 1, 14, 23), False, id="holiday-night"),
    pytest.param(NY_EVERY_NIGHT_EXTRA, at(NEW_YORK, 2026, 1, 15, 3), False, id="holiday-night-2"),
    pytest.param(ALWAYS_LONDON, at(LONDON, 2026, 1, 10, 3), True, id="24x7"),
]


@pytest.mark.parametrize(("calendar", "instant", "expected"), WORKING_CASES)
def test_is_working(calendar: BusinessCalendar, instant: datetime, expected: bool) -> None:
    assert calendar.is_working(instant) is expected


# ---------------------------------------------------------------------------- windows


def test_windows_are_utc_in_order_from_the_one_containing_since() -> None:
    first_three = list(islice(OFFICE.windows(at(LONDON, 2026, 1, 9, 12)), 3))
    assert first_three == [
        (utc(2026, 1, 9, 8), utc(2026, 1, 9, 17)),
        (utc(2026, 1, 12, 8), utc(2026, 1, 12, 17)),
        (utc(2026, 1, 13, 8), utc(2026, 1, 13, 17)),
    ]
    assert all(w.tzinfo is UTC for pair in first_three for w in pair)


def test_windows_are_ordered_and_never_overlap() -> None:
    """Touching intervals come back as consecutive pieces (so round-the-clock shifts still
    make progress); overlapping ones are clipped so no second is counted twice."""
    touching = BusinessCalendar(
        zone="Europe/London",
        intervals=(WorkInterval(0, time(12), time(17)), WorkInterval(0, time(8), time(12))),
    )
    windows = touching.windows(at(LONDON, 2026, 1, 12, 7))
    assert next(windows) == (utc(2026, 1, 12, 8), utc(2026, 1, 12, 12))
    assert next(windows) == (utc(2026, 1, 12, 12), utc(2026, 1, 12, 17))
    assert next(windows) == (utc(2026, 1, 19, 8), utc(2026, 1, 19, 12))
    overlapping = BusinessCalendar(
        zone="Europe/London",
        intervals=(WorkInterval(0, time(8), time(13)), WorkInterval(0, time(12), time(17))),
    )
    windows = overlapping.windows(at(LONDON, 2026, 1, 12, 7))
    assert next(windows) == (utc(2026, 1, 12, 8), utc(2026, 1, 12, 13))
    assert next(windows) == (utc(2026, 1, 12, 13), utc(2026, 1, 12, 17))
    assert overlapping.seconds_between(utc(2026, 1, 12, 0), utc(2026, 1, 13, 0)) == 9 * 3600


def test_windows_include_the_overnight_shift_still_running() -> None:
    # Tue 03:00 EST: Monday's 22:00-06:00 shift (03:00Z-11:00Z) is running.
    assert next(NY_NIGHTS.windows(at(NEW_YORK, 2026, 1, 13, 3))) == (
        utc(2026, 1, 13, 3),
        utc(2026, 1, 13, 11),
    )


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail instead of hanging the suite if the code under test loops forever."""

    def _raise(signum: int, frame: object) -> None:
        raise TimeoutError(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_round_the_clock_in_two_shifts_counts_wall_time() -> None:
    # WorkInterval refuses start == end and says "use two intervals or a 24x7 calendar":
    # a day shift 08:00-20:00 and a night shift 20:00-08:00 every day is working time without
    # a gap, so business time is wall time.
    shifts = every_day("Europe/London", (time(8), time(20)), (time(20), time(8)))
    start = at(LONDON, 2026, 1, 12, 10)
    with time_limit(2):
        assert shifts.is_working(start)
        assert shifts.add(start, H) == utc(2026, 1, 12, 11)
        assert shifts.seconds_between(start, at(LONDON, 2026, 1, 13, 10)) == 24 * H


# ---------------------------------------------------------------------------- refusals


def test_add_refuses_negative_seconds() -> None:
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add(at(LONDON, 2026, 1, 12, 10), -1)
    with pytest.raises(ValueError, match="negative"):
        ALWAYS_UTC.add(utc(2026, 1, 12, 10), -1)


NAIVE = datetime(2026, 1, 12, 10)
AWARE = utc(2026, 1, 12, 10)


@pytest.mark.parametrize("calendar", [OFFICE, ALWAYS_UTC], ids=["office", "24x7"])
def test_naive_datetimes_are_refused(calendar: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        calendar.add(NAIVE, H)
    with pytest.raises(ValueError, match="no time zone"):
        calendar.add(NAIVE, 0)
    with pytest.raises(ValueError, match="no time zone"):
        calendar.seconds_between(NAIVE, AWARE)
    with pytest.raises(ValueError, match="no time zone"):
        calendar.seconds_between(AWARE, NAIVE)
    with pytest.raises(ValueError, match="no time zone"):
        calendar.is_working(NAIVE)
    with pytest.raises(ValueError, match="no time zone"):
        next(calendar.windows(NAIVE))


def test_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "Europe/"])
def test_unknown_zone(zone: str) -> None:
    with pytest.raises(CalendarError, match="unknown time zone"):
        BusinessCalendar(zone=zone, always_on=True)


def test_unknown_country_lists_known_codes() -> None:
    with pytest.raises(CalendarError, match="unknown holiday country 'XX'") as raised:
        Holidays("XX")
    message = str(raised.value)
    known = message.split("known:", 1)[1]
    assert {"GB", "US", "DE", "FR"} <= {code.strip() for code in known.split(",")}


def test_unknown_subdivision_lists_known_ones() -> None:
    with pytest.raises(CalendarError, match="unknown subdivision 'XYZ' for GB") as raised:
        Holidays("GB", "XYZ")
    assert "ENG" in str(raised.value)
    assert "SCT" in str(raised.value)


def test_subdivision_without_country() -> None:
    with pytest.raises(CalendarError, match="needs a country"):
        Holidays(subdivision="ENG")


def test_no_working_time_refused() -> None:
    with pytest.raises(CalendarError, match="working time"):
        BusinessCalendar(zone="Europe/London")
    with pytest.raises(CalendarError, match="working time"):
        BusinessCalendar(zone="Europe/London", intervals=())


def test_interval_start_equal_end_refused() -> None:
    with pytest.raises(CalendarError, match="differ"):
        WorkInterval(0, time(8), time(8))
    with pytest.raises(CalendarError, match="differ"):
        BusinessCalendar.weekdays("Europe/London", time(0), time(0))


@pytest.mark.parametrize("weekday", [-1, 7, 100])
def test_weekday_out_of_range(weekday: int) -> None:
    with pytest.raises(CalendarError, match="weekday"):
        WorkInterval(weekday, time(8), time(17))


def test_interval_times_with_zone_refused() -> None:
    with pytest.raises(CalendarError, match="wall times"):
        WorkInterval(0, time(8, tzinfo=UTC), time(17))


def test_calendar_whose_every_working_day_is_a_holiday_raises() -> None:
    # Mondays only, and every Monday from 2026 to 2028 is an extra holiday (157 dates):
    # more than the two-year search limit without working time.
    first_monday = date(2026, 1, 5)
    mondays = frozenset(first_monday + timedelta(weeks=k) for k in range(157))
    never = BusinessCalendar.weekdays(
        "Europe/London",
        time(8),
        time(17),
        days=[0],
        holidays=Holidays(extra_dates=mondays),
    )
    start = at(LONDON, 2026, 1, 1, 12)
    with time_limit(5):
        with pytest.raises(CalendarError, match="no working time"):
            never.add(start, 1)
        with pytest.raises(CalendarError, match="no working time"):
            never.is_working(start)
        with pytest.raises(CalendarError, match="no working time"):
            never.seconds_between(start, at(LONDON, 2028, 1, 1))


def test_holidays_membership() -> None:
    england = Holidays("GB", "ENG", extra_dates=frozenset({date(2026, 7, 1)}))
    assert date(2026, 4, 3) in england
    assert date(2026, 4, 6) in england
    assert date(2026, 7, 1) in england
    assert date(2026, 4, 7) not in england
    assert "2026-04-03" not in england
    assert date(2026, 4, 3) not in Holidays()


# ---------------------------------------------------------------------------- properties

PROPERTY_CALENDARS = [
    pytest.param(OFFICE_ENG, id="london-weekdays-eng"),
    pytest.param(
        BusinessCalendar.weekdays(
            "America/New_York", time(22), time(6), holidays=Holidays("US", "NY")
        ),
        id="new-york-nights-us",
    ),
    pytest.param(ALWAYS_LONDON, id="24x7"),
]

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([UTC, LONDON, NEW_YORK]),
)
amounts = st.integers(min_value=0, max_value=400 * H)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize("calendar", PROPERTY_CALENDARS)
@PROPERTY_SETTINGS
@given(start=starts, n=amounts)
def test_counting_back_what_add_added(calendar: BusinessCalendar, start: datetime, n: int) -> None:
    assert calendar.seconds_between(start, calendar.add(start, n)) == n


@pytest.mark.parametrize("calendar", PROPERTY_CALENDARS)
@PROPERTY_SETTINGS
@given(start=starts, n1=amounts, n2=amounts)
def test_add_is_monotonic(calendar: BusinessCalendar, start: datetime, n1: int, n2: int) -> None:
    n1, n2 = sorted((n1, n2))
    assert calendar.add(start, n1) <= calendar.add(start, n2)


@pytest.mark.parametrize("calendar", PROPERTY_CALENDARS)
@PROPERTY_SETTINGS
@given(start=starts, a=st.integers(min_value=1, max_value=200 * H), b=st.integers(0, 200 * H))
def test_add_is_additive(calendar: BusinessCalendar, start: datetime, a: int, b: int) -> None:
    assert calendar.add(calendar.add(start, a), b) == calendar.add(start, a + b)


@pytest.mark.parametrize("calendar", PROPERTY_CALENDARS)
@PROPERTY_SETTINGS
@given(start=starts, n=st.integers(min_value=1, max_value=400 * H))
def test_add_ends_inside_working_time(calendar: BusinessCalendar, start: datetime, n: int) -> None:
    # "the result always lies inside working time (or at the end of a window)"
    result = calendar.add(start, n)
    assert result > start
    assert calendar.is_working(result - timedelta(microseconds=1))


@pytest.mark.parametrize("calendar", [ALWAYS_LONDON, ALWAYS_UTC], ids=["london", "utc"])
@PROPERTY_SETTINGS
@given(a=starts, b=starts, n=amounts)
def test_24x7_is_wall_time(calendar: BusinessCalendar, a: datetime, b: datetime, n: int) -> None:
    # Aware subtraction/addition within one tzinfo is wall-clock arithmetic, so go via UTC.
    a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
    wall = max(b_utc - a_utc, timedelta(0))
    assert calendar.seconds_between(a, b) == wall // timedelta(seconds=1)
    assert calendar.add(a, n) == a_utc + timedelta(seconds=n)
