"""Rebuilding an SLA clock from an incident's history.

The same function serves three needs: attaching an SLA added after the fact, re-targeting on a
priority change (replay the new target over the same history), and `itsm sla verify`, which
compares every stored clock with its replay. Because it is the single source of truth for
"what the clock should say", live event handling can be checked against it at any time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.enums import HoldReason, IncidentState
from itsm_tui.domain.sla import ClockState, SlaKind, cancel, pause, restart, resume, stop
from itsm_tui.domain.sla_policy import PauseRule, is_pausing

ENDED = frozenset({IncidentState.RESOLVED, IncidentState.CLOSED})


@dataclass(frozen=True)
class IncidentSnapshot:
    """How the incident stood from `at` until the next snapshot."""

    at: datetime
    state: IncidentState
    hold_reason: HoldReason | None = None
    responded: bool = False


def replay_clock(
    calendar: BusinessCalendar,
    kind: SlaKind,
    target_seconds: int,
    started_at: datetime,
    history: Iterable[IncidentSnapshot],
    pause_rules: Iterable[PauseRule],
) -> ClockState:
    """The clock as the history dictates.

    Response clocks stop at the first response (or at resolution, if nobody responded) and
    never restart. Resolution clocks stop at resolution and restart on reopen, the time spent
    resolved counting as paused. Both pause while the incident sits in a pausing state, and are
    cancelled if the incident is cancelled while they run.
    """
    rules = tuple(pause_rules)
    clock = ClockState(started_at=started_at, target_seconds=target_seconds)
    for snapshot in _from_start(history, started_at):
        if clock.cancelled:
            break
        ends = snapshot.state in ENDED or (kind is SlaKind.RESPONSE and snapshot.responded)
        if clock.stopped_at is not None:
            if kind is SlaKind.RESPONSE or ends:
                continue
            clock = restart(calendar, clock, snapshot.at)  # a reopen
        if snapshot.state is IncidentState.CANCELLED:
            clock = cancel(calendar, clock, snapshot.at)
            continue
        if ends:
            clock = stop(calendar, clock, snapshot.at)
            continue
        pausing = is_pausing(rules, snapshot.state, snapshot.hold_reason)
        if pausing and clock.running:
            clock = pause(clock, snapshot.at)
        elif not pausing and clock.paused_since is not None:
            clock = resume(calendar, clock, snapshot.at)
    return clock


def _from_start(
    history: Iterable[IncidentSnapshot], started_at: datetime
) -> list[IncidentSnapshot]:
    """Snapshots from the clock's start on; the state in force at the start (the last earlier
    snapshot) counts as if it began then."""
    ordered = sorted(history, key=lambda s: s.at)
    earlier = [s for s in ordered if s.at <= started_at]
    later = [s for s in ordered if s.at > started_at]
    if earlier:
        last = earlier[-1]
        later.insert(
            0,
            IncidentSnapshot(started_at, last.state, last.hold_reason, last.responded),
        )
    return later
