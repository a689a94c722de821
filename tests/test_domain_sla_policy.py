"""Policy matching, pause rules, and replaying clocks from incident history."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.enums import HoldReason, IncidentState
from itsm_tui.domain.sla import SlaKind, SlaStage, due_at, stage
from itsm_tui.domain.sla_policy import (
    DEFAULT_PAUSE_RULES,
    DEFAULT_POLICIES,
    SlaPolicySpec,
    is_pausing,
    match_policy,
)
from itsm_tui.domain.sla_replay import IncidentSnapshot, replay_clock

S = IncidentState
HOUR = 3600
OFFICE = BusinessCalendar.weekdays("UTC", time(8), time(17))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2026: the 2nd is a Monday."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_defaults_match_the_issue_table() -> None:
    table = {
        p.priority: (p.response_seconds, p.resolution_seconds, p.calendar) for p in DEFAULT_POLICIES
    }
    assert table == {
        1: (15 * 60, 4 * HOUR, "24x7"),
        2: (30 * 60, 8 * HOUR, "Office hours"),
        3: (4 * HOUR, 27 * HOUR, "Office hours"),
        4: (8 * HOUR, 45 * HOUR, "Office hours"),
        5: (18 * HOUR, 90 * HOUR, "Office hours"),
    }


def test_the_most_specific_policy_wins() -> None:
    general = SlaPolicySpec("P2 general", 2, 1800, 8 * HOUR, "Office hours")
    payroll = SlaPolicySpec("P2 payroll", 2, 900, 4 * HOUR, "24x7", service="Payroll")
    other = SlaPolicySpec("P3", 3, 1800, 8 * HOUR, "Office hours")
    policies = [general, payroll, other]
    assert match_policy(policies, 2, "Payroll") is payroll
    assert match_policy(reversed(policies), 2, "Payroll") is payroll
    assert match_policy(policies, 2, "Email") is general
    assert match_policy(policies, 2, None) is general
    assert match_policy(policies, 4, "Payroll") is None


def test_policies_refuse_impossible_targets() -> None:
    with pytest.raises(ValueError, match="positive"):
        SlaPolicySpec("bad", 2, 0, HOUR, "24x7")
    with pytest.raises(ValueError, match="between 0 and 100"):
        SlaPolicySpec("bad", 2, 60, HOUR, "24x7", warnings=(50, 100))


@pytest.mark.parametrize(
    ("state", "reason", "pauses"),
    [
        (S.ON_HOLD, HoldReason.AWAITING_CALLER, True),
        (S.ON_HOLD, HoldReason.AWAITING_VENDOR, True),
        (S.ON_HOLD, HoldReason.AWAITING_CHANGE, False),  # our own change: the clock runs
        (S.ON_HOLD, HoldReason.AWAITING_PROBLEM, False),
        (S.IN_PROGRESS, None, False),
        (S.NEW, None, False),
    ],
)
def test_default_pause_rules(state: IncidentState, reason: HoldReason | None, pauses: bool) -> None:
    assert is_pausing(DEFAULT_PAUSE_RULES, state, reason) is pauses


def replay(kind: SlaKind, target: int, *history: IncidentSnapshot):  # type: ignore[no-untyped-def]
    return replay_clock(
        OFFICE,
        kind,
        target,
        at(2, 9),
        [IncidentSnapshot(at(2, 9), S.NEW), *history],
        DEFAULT_PAUSE_RULES,
    )


def test_resolution_clock_pauses_only_for_pausing_hold_reasons() -> None:
    clock = replay(
        SlaKind.RESOLUTION,
        8 * HOUR,
        IncidentSnapshot(at(2, 10), S.IN_PROGRESS, responded=True),
        IncidentSnapshot(at(2, 11), S.ON_HOLD, HoldReason.AWAITING_CALLER, responded=True),
        IncidentSnapshot(at(2, 14), S.IN_PROGRESS, responded=True),
        IncidentSnapshot(at(2, 15), S.ON_HOLD, HoldReason.AWAITING_CHANGE, responded=True),
    )
    assert clock.paused_seconds == 3 * HOUR and clock.paused_since is None
    assert due_at(OFFICE, clock) == at(3, 11)  # 8 h + 3 h paused from Mon 09:00
    assert stage(OFFICE, clock, at(2, 16)) is SlaStage.IN_PROGRESS


def test_response_clock_stops_at_the_first_response_and_stays_stopped() -> None:
    clock = replay(
        SlaKind.RESPONSE,
        HOUR,
        IncidentSnapshot(at(2, 9, 40), S.IN_PROGRESS, responded=True),
        IncidentSnapshot(at(2, 12), S.RESOLVED, responded=True),
        IncidentSnapshot(at(2, 13), S.IN_PROGRESS, responded=True),  # reopen
    )
    assert clock.stopped_at == at(2, 9, 40)
    assert stage(OFFICE, clock, at(5, 9)) is SlaStage.ACHIEVED


def test_reopen_restarts_the_resolution_clock_with_resolved_time_paused() -> None:
    clock = replay(
        SlaKind.RESOLUTION,
        8 * HOUR,
        IncidentSnapshot(at(2, 12), S.RESOLVED, responded=True),
        IncidentSnapshot(at(3, 10), S.IN_PROGRESS, responded=True),
    )
    assert clock.stopped_at is None
    assert clock.paused_seconds == 7 * HOUR  # Mon 12-17 and Tue 08-10
    assert due_at(OFFICE, clock) == at(3, 15)


def test_cancelling_the_incident_cancels_running_clocks() -> None:
    clock = replay(SlaKind.RESOLUTION, 8 * HOUR, IncidentSnapshot(at(2, 10), S.CANCELLED))
    assert stage(OFFICE, clock, at(9, 9)) is SlaStage.CANCELLED


def test_a_late_resolution_is_a_breach() -> None:
    clock = replay(SlaKind.RESOLUTION, 2 * HOUR, IncidentSnapshot(at(2, 15), S.RESOLVED))
    assert clock.stopped_at == at(2, 15)
    assert stage(OFFICE, clock, at(9, 9)) is SlaStage.BREACHED


def test_a_clock_started_later_takes_the_state_in_force_at_its_start() -> None:
    """An SLA attached later starts where it starts, in whatever state the incident was then:
    on hold since 08:00 means paused from the 09:00 start until work resumed at 10:00."""
    history = [
        IncidentSnapshot(at(2, 7), S.NEW),
        IncidentSnapshot(at(2, 8), S.ON_HOLD, HoldReason.AWAITING_CALLER),
        IncidentSnapshot(at(2, 10), S.IN_PROGRESS),
    ]
    clock = replay_clock(OFFICE, SlaKind.RESOLUTION, HOUR, at(2, 9), history, DEFAULT_PAUSE_RULES)
    assert (clock.paused_seconds, clock.paused_since) == (HOUR, None)
    assert due_at(OFFICE, clock) == at(2, 11)
