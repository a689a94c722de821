"""The clock: FixedClock moves only when told and refuses naive datetimes (issue item 5).
That no other module reads the wall clock is enforced in test_layering.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from itsm_tui.clock import Clock, FixedClock, SystemClock, ensure_utc

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_fixed_clock_stands_still_until_moved() -> None:
    clock = FixedClock(T0)
    assert clock.now() == T0
    assert clock.now() == T0
    assert clock.now().tzinfo is UTC


def test_advance_by_timedelta_and_by_keywords_returns_the_new_time() -> None:
    clock = FixedClock(T0)
    assert clock.advance(timedelta(hours=2)) == T0 + timedelta(hours=2)
    assert clock.advance(minutes=30, seconds=15) == T0 + timedelta(hours=2, minutes=30, seconds=15)
    assert clock.now() == T0 + timedelta(hours=2, minutes=30, seconds=15)
    assert clock.advance() == clock.now()  # no argument: a zero step, not an error


def test_advance_refuses_a_timedelta_and_keywords_together() -> None:
    clock = FixedClock(T0)
    with pytest.raises(TypeError):
        clock.advance(timedelta(hours=1), minutes=5)
    assert clock.now() == T0


def test_advance_across_a_daylight_saving_change_is_exact_in_utc() -> None:
    # 2026-03-29 01:00 UTC is when Europe/Berlin springs forward; UTC arithmetic must not care.
    clock = FixedClock(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    assert clock.advance(hours=1) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_set_jumps_to_any_instant_even_backwards() -> None:
    clock = FixedClock(T0)
    earlier = T0 - timedelta(days=3)
    clock.set(earlier)
    assert clock.now() == earlier


def test_aware_non_utc_times_are_normalised_to_utc() -> None:
    berlin = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    clock = FixedClock(berlin)
    assert clock.now() == T0
    assert clock.now().utcoffset() == timedelta(0)
    clock.set(datetime(2026, 3, 2, 4, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert clock.now() == T0
    assert clock.now().tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 9, 0)
    with pytest.raises(ValueError, match="no time zone"):
        FixedClock(naive)
    clock = FixedClock(T0)
    with pytest.raises(ValueError, match="no time zone"):
        clock.set(naive)
    assert clock.now() == T0  # a refused set leaves the clock where it was
    with pytest.raises(ValueError):
        ensure_utc(naive)


def test_system_clock_reads_aware_utc_now() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= after
