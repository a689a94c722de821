"""SLA clock maths: due time, business time used, pause and resume, thresholds.

A clock is a start instant, a target in business seconds and the business time it has spent
paused. Everything else follows from the calendar:

    due_at          = add(started_at, target + paused)
    threshold p%    = add(started_at, ceil(target * p / 100) + paused)
    elapsed at t    = seconds_between(started_at, t) - paused  (t frozen while paused/stopped)

so a pause shifts the due time by exactly the business time it lasted, and nothing needs
rewriting as time passes: stored instants change only on events (start, pause, resume, stop),
and the percentage on screen is computed from them and the current time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.errors import DomainError

BREACH_PERCENT = 100
DEFAULT_WARNINGS: tuple[int, ...] = (50, 75, 90)


class SlaKind(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"


class SlaStage(StrEnum):
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    ACHIEVED = "achieved"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class SlaClockError(DomainError):
    """An event that does not fit the clock's state (pausing a paused clock, ...)."""


@dataclass(frozen=True)
class ClockState:
    """What is stored for a clock; all instants aware UTC, all amounts business seconds."""

    started_at: datetime
    target_seconds: int
    paused_seconds: int = 0
    paused_since: datetime | None = None
    stopped_at: datetime | None = None
    cancelled: bool = False

    def __post_init__(self) -> None:
        if self.target_seconds <= 0:
            raise SlaClockError("an SLA target must be positive")
        if self.paused_seconds < 0:
            raise SlaClockError("paused time cannot be negative")

    @property
    def running(self) -> bool:
        return self.paused_since is None and self.stopped_at is None and not self.cancelled


def due_at(calendar: BusinessCalendar, clock: ClockState) -> datetime:
    """When the target is reached if the clock keeps running from now on."""
    return calendar.add(clock.started_at, clock.target_seconds + clock.paused_seconds)


def threshold_at(calendar: BusinessCalendar, clock: ClockState, percent: int) -> datetime:
    """The instant `percent` of the target has been used (rounded up to the whole second)."""
    used = math.ceil(clock.target_seconds * percent / 100)
    return calendar.add(clock.started_at, used + clock.paused_seconds)


def elapsed_seconds(calendar: BusinessCalendar, clock: ClockState, now: datetime) -> int:
    """Business seconds counted against the target at `now` (frozen while paused/stopped)."""
    until = min(t for t in (now, clock.paused_since, clock.stopped_at) if t is not None)
    return max(0, calendar.seconds_between(clock.started_at, until) - clock.paused_seconds)


def percent_used(calendar: BusinessCalendar, clock: ClockState, now: datetime) -> float:
    return 100 * elapsed_seconds(calendar, clock, now) / clock.target_seconds


def stage(calendar: BusinessCalendar, clock: ClockState, now: datetime) -> SlaStage:
    if clock.cancelled:
        return SlaStage.CANCELLED
    if elapsed_seconds(calendar, clock, now) >= clock.target_seconds:
        return SlaStage.BREACHED  # at the due second itself, as the breach threshold fires
    if clock.stopped_at is not None:
        return SlaStage.ACHIEVED
    return SlaStage.PAUSED if clock.paused_since is not None else SlaStage.IN_PROGRESS


def next_threshold(
    calendar: BusinessCalendar,
    clock: ClockState,
    fired: frozenset[int] | set[int],
    warnings: tuple[int, ...] = DEFAULT_WARNINGS,
) -> tuple[int, datetime] | None:
    """The lowest threshold (warnings, then the breach at 100%) not yet fired, with the
    instant it is reached; None when the clock is not running or every threshold fired."""
    if not clock.running:
        return None
    for percent in sorted({*warnings, BREACH_PERCENT}):
        if percent not in fired:
            return percent, threshold_at(calendar, clock, percent)
    return None


def crossed_thresholds(
    calendar: BusinessCalendar,
    clock: ClockState,
    fired: frozenset[int] | set[int],
    now: datetime,
    warnings: tuple[int, ...] = DEFAULT_WARNINGS,
) -> list[int]:
    """Thresholds reached by `now` and not yet fired, lowest first: what an evaluator pass
    must fire (several at once if it ran late)."""
    if clock.cancelled:
        return []
    used = elapsed_seconds(calendar, clock, now)
    return [
        p
        for p in sorted({*warnings, BREACH_PERCENT})
        if p not in fired and used >= math.ceil(clock.target_seconds * p / 100)
    ]


# ---------------------------------------------------------------------------- events


def pause(clock: ClockState, at: datetime) -> ClockState:
    if not clock.running:
        raise SlaClockError("only a running clock can pause")
    return replace(clock, paused_since=max(at, clock.started_at))


def resume(calendar: BusinessCalendar, clock: ClockState, at: datetime) -> ClockState:
    """Resume a paused clock: the business time it spent paused moves the due time on."""
    if clock.paused_since is None or clock.stopped_at is not None or clock.cancelled:
        raise SlaClockError("only a paused clock can resume")
    spent = calendar.seconds_between(clock.paused_since, at)
    return replace(clock, paused_since=None, paused_seconds=clock.paused_seconds + spent)


def stop(calendar: BusinessCalendar, clock: ClockState, at: datetime) -> ClockState:
    """Stop the clock (target met or missed for good); a paused clock resumes first."""
    if clock.stopped_at is not None or clock.cancelled:
        raise SlaClockError("the clock has already stopped")
    if clock.paused_since is not None:
        clock = resume(calendar, clock, at)
    return replace(clock, stopped_at=at)


def restart(calendar: BusinessCalendar, clock: ClockState, at: datetime) -> ClockState:
    """Reopen: a stopped clock runs again and the time it stood stopped counts as paused."""
    if clock.stopped_at is None or clock.cancelled:
        raise SlaClockError("only a stopped clock can restart")
    spent = calendar.seconds_between(clock.stopped_at, at)
    return replace(clock, stopped_at=None, paused_seconds=clock.paused_seconds + spent)


def cancel(calendar: BusinessCalendar, clock: ClockState, at: datetime) -> ClockState:
    """The clock no longer applies (incident cancelled): it stops counting at `at`, so what
    it had used stays on record instead of growing forever."""
    if clock.stopped_at is None:
        clock = stop(calendar, clock, at)
    return replace(clock, cancelled=True)
