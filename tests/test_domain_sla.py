"""SLA clock maths on fixed instants: due times, pauses, reopen, thresholds and stages."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.sla import (
    ClockState,
    SlaClockError,
    SlaStage,
    cancel,
    crossed_thresholds,
    due_at,
    elapsed_seconds,
    next_threshold,
    pause,
    percent_used,
    restart,
    resume,
    stage,
    stop,
    threshold_at,
)

HOUR = 3600
# Mon-Fri 08:00-17:00 in UTC keeps the arithmetic by hand simple.
OFFICE = BusinessCalendar.weekdays("UTC", time(8), time(17))
ALWAYS = BusinessCalendar.twenty_four_seven()
MON_9 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2026: the 2nd is a Monday."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_due_follows_business_hours() -> None:
    exact = ClockState(started_at=MON_9, target_seconds=8 * HOUR)
    assert due_at(OFFICE, exact) == at(2, 17)  # uses Monday up to closing, not Tuesday 08:00
    clock = ClockState(started_at=MON_9, target_seconds=9 * HOUR)
    assert due_at(OFFICE, clock) == at(3, 9)  # 8 h on Monday, 1 h on Tuesday
    friday = ClockState(started_at=at(6, 16), target_seconds=2 * HOUR)
    assert due_at(OFFICE, friday) == at(9, 9)  # 1 h on Friday, 1 h on Monday


def test_pause_shifts_due_by_exactly_the_paused_business_time() -> None:
    clock = ClockState(started_at=MON_9, target_seconds=4 * HOUR)
    assert due_at(OFFICE, clock) == at(2, 13)
    paused = pause(clock, at(2, 10))
    assert stage(OFFICE, paused, at(2, 15)) is SlaStage.PAUSED
    assert elapsed_seconds(OFFICE, paused, at(3, 12)) == HOUR  # frozen while paused
    # Paused Mon 10:00 to Tue 09:00: 7 business hours Monday + 1 Tuesday = 8 h.
    resumed = resume(OFFICE, paused, at(3, 9))
    assert resumed.paused_seconds == 8 * HOUR
    assert due_at(OFFICE, resumed) == at(3, 12)  # 3 h left from Tue 09:00
    assert elapsed_seconds(OFFICE, resumed, at(3, 10)) == 2 * HOUR


def test_a_pause_outside_business_hours_costs_nothing() -> None:
    clock = ClockState(started_at=MON_9, target_seconds=4 * HOUR)
    resumed = resume(OFFICE, pause(clock, at(2, 18)), at(3, 7))
    assert resumed.paused_seconds == 0
    assert due_at(OFFICE, resumed) == due_at(OFFICE, clock)


def test_thresholds_fire_in_order_at_the_right_second() -> None:
    clock = ClockState(started_at=MON_9, target_seconds=4 * HOUR)
    assert threshold_at(OFFICE, clock, 50) == at(2, 11)
    assert threshold_at(OFFICE, clock, 75) == at(2, 12)
    assert threshold_at(OFFICE, clock, 90) == at(2, 12, 36)
    assert next_threshold(OFFICE, clock, set()) == (50, at(2, 11))
    assert next_threshold(OFFICE, clock, {50, 75}) == (90, at(2, 12, 36))
    assert next_threshold(OFFICE, clock, {50, 75, 90}) == (100, at(2, 13))
    assert next_threshold(OFFICE, clock, {50, 75, 90, 100}) is None
    one_second_early = at(2, 11) - timedelta(seconds=1)
    assert crossed_thresholds(OFFICE, clock, set(), one_second_early) == []
    assert crossed_thresholds(OFFICE, clock, set(), at(2, 11)) == [50]
    # An evaluator that ran late fires everything crossed, lowest first, but nothing twice.
    assert crossed_thresholds(OFFICE, clock, {50}, at(3, 9)) == [75, 90, 100]


def test_odd_targets_round_thresholds_up_to_the_whole_second() -> None:
    clock = ClockState(started_at=MON_9, target_seconds=7)  # 50% = 3.5 s -> 4 s
    assert threshold_at(ALWAYS, clock, 50) == MON_9 + timedelta(seconds=4)


def test_stages() -> None:
    clock = ClockState(started_at=MON_9, target_seconds=HOUR)
    assert stage(OFFICE, clock, at(2, 9, 30)) is SlaStage.IN_PROGRESS
    assert stage(OFFICE, clock, at(2, 10)) is SlaStage.BREACHED
    met = stop(OFFICE, clock, at(2, 9, 59))
    assert stage(OFFICE, met, at(5, 12)) is SlaStage.ACHIEVED
    assert percent_used(OFFICE, met, at(5, 12)) == pytest.approx(100 * 59 / 60)
    late = stop(OFFICE, clock, at(2, 10, 30))
    assert stage(OFFICE, late, at(5, 12)) is SlaStage.BREACHED
    cancelled = cancel(OFFICE, clock, at(2, 9, 30))
    assert stage(OFFICE, cancelled, at(5, 12)) is SlaStage.CANCELLED
    assert percent_used(OFFICE, cancelled, at(5, 12)) == 50  # frozen where it was cancelled
    assert next_threshold(OFFICE, met, set()) is None
    assert crossed_thresholds(OFFICE, cancelled, set(), at(5, 12)) == []


def test_reopen_counts_the_resolved_time_as_paused() -> None:
    clock = ClockState(started_at=MON_9, target_seconds=8 * HOUR)
    resolved = stop(OFFICE, clock, at(2, 12))  # 3 h used
    reopened = restart(OFFICE, resolved, at(3, 10))  # stood stopped Mon 12-17 + Tue 08-10
    assert reopened.paused_seconds == 7 * HOUR
    assert elapsed_seconds(OFFICE, reopened, at(3, 11)) == 4 * HOUR
    assert due_at(OFFICE, reopened) == at(3, 15)


def test_stopping_a_paused_clock_closes_the_pause_first() -> None:
    clock = pause(ClockState(started_at=MON_9, target_seconds=8 * HOUR), at(2, 10))
    stopped = stop(OFFICE, clock, at(2, 12))
    assert (stopped.paused_since, stopped.paused_seconds) == (None, 2 * HOUR)
    assert elapsed_seconds(OFFICE, stopped, at(9, 9)) == HOUR


def test_events_that_do_not_fit_are_refused() -> None:
    clock = ClockState(started_at=MON_9, target_seconds=HOUR)
    with pytest.raises(SlaClockError):
        resume(OFFICE, clock, at(2, 10))
    with pytest.raises(SlaClockError):
        pause(pause(clock, at(2, 10)), at(2, 11))
    with pytest.raises(SlaClockError):
        restart(OFFICE, clock, at(2, 10))
    with pytest.raises(SlaClockError):
        stop(OFFICE, stop(OFFICE, clock, at(2, 10)), at(2, 11))
    with pytest.raises(SlaClockError, match="positive"):
        ClockState(started_at=MON_9, target_seconds=0)


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=100, deadline=None)
@given(
    start=instants,
    target=st.integers(1, 60 * HOUR),
    pause_after=st.integers(0, 30 * HOUR),
    pause_for=st.integers(0, 200 * HOUR),
)
def test_due_minus_pauses_always_leaves_exactly_the_target(
    start: datetime, target: int, pause_after: int, pause_for: int
) -> None:
    """Whatever the pause, business time from start to due, less the paused part, is the
    target: a pause moves the due time by exactly the business time it lasted. (That much
    holds for any paused amount, so the amount itself is checked against the calendar, and
    the time used on resuming is the time used when the pause began: to the second, since
    the calendar counts whole seconds of each span, so instants with sub-second parts can
    leave a one-second remainder across a pause.)"""
    clock = ClockState(started_at=start, target_seconds=target)
    pause_at = start + timedelta(seconds=pause_after)
    resume_at = pause_at + timedelta(seconds=pause_for)
    resumed = resume(OFFICE, pause(clock, pause_at), resume_at)
    assert resumed.paused_seconds == OFFICE.seconds_between(pause_at, resume_at)
    used_at_pause = OFFICE.seconds_between(start, pause_at)
    assert 0 <= elapsed_seconds(OFFICE, resumed, resume_at) - used_at_pause <= 1
    due = due_at(OFFICE, resumed)
    assert OFFICE.seconds_between(start, due) - resumed.paused_seconds == target
    assert due >= due_at(OFFICE, clock)
