"""Which SLA applies to an incident, when its clocks pause, and the shipped defaults.

Pure rules: the store keeps policies as rows; services turn rows into these specs and ask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from itsm_tui.domain.calendar import BusinessCalendar, Unreachable
from itsm_tui.domain.enums import HoldReason, IncidentState
from itsm_tui.domain.sla import DEFAULT_WARNINGS

HOUR = 3600
MINUTE = 60
CALENDAR_24X7 = "24x7"
CALENDAR_OFFICE = "Office hours"
# A policy's longest target must be met within five years of its calendar's time from the day
# it is saved: half the calendar's ten-year horizon, so clocks started later (other holidays,
# paused time) still find their deadline. 365 days on office hours needs about 3.7 years.
REACH = timedelta(days=1826)


class EscalationAction(StrEnum):
    NOTIFY_ASSIGNEE = "notify_assignee"
    NOTIFY_GROUP = "notify_group"
    NOTIFY_SUPERVISORS = "notify_supervisors"
    REASSIGN_TO_ESCALATION_GROUP = "reassign_to_escalation_group"
    SET_MAJOR = "set_major"


# As ServiceNow ships them: 50% tells the assignee; 75% and the breach also the supervisors.
DEFAULT_ACTIONS: dict[int, tuple[EscalationAction, ...]] = {
    50: (EscalationAction.NOTIFY_ASSIGNEE,),
    75: (EscalationAction.NOTIFY_ASSIGNEE, EscalationAction.NOTIFY_SUPERVISORS),
    100: (EscalationAction.NOTIFY_ASSIGNEE, EscalationAction.NOTIFY_SUPERVISORS),
}


@dataclass(frozen=True)
class PauseRule:
    """Clocks pause in `state`; for on_hold, only for these hold reasons (None: any)."""

    state: IncidentState
    hold_reasons: frozenset[HoldReason] | None = None

    def applies(self, state: IncidentState, hold_reason: HoldReason | None) -> bool:
        if state is not self.state:
            return False
        return self.hold_reasons is None or hold_reason in self.hold_reasons


DEFAULT_PAUSE_RULES: tuple[PauseRule, ...] = (
    PauseRule(
        IncidentState.ON_HOLD,
        frozenset({HoldReason.AWAITING_CALLER, HoldReason.AWAITING_VENDOR}),
    ),
)


def is_pausing(
    rules: Iterable[PauseRule], state: IncidentState, hold_reason: HoldReason | None
) -> bool:
    return any(rule.applies(state, hold_reason) for rule in rules)


@dataclass(frozen=True)
class SlaPolicySpec:
    name: str
    priority: int
    response_seconds: int
    resolution_seconds: int
    calendar: str
    service: str | None = None
    pause_rules: tuple[PauseRule, ...] = DEFAULT_PAUSE_RULES
    warnings: tuple[int, ...] = DEFAULT_WARNINGS
    actions: dict[int, tuple[EscalationAction, ...]] = field(
        default_factory=lambda: dict(DEFAULT_ACTIONS)
    )

    def __post_init__(self) -> None:
        if self.response_seconds <= 0 or self.resolution_seconds <= 0:
            raise ValueError("SLA targets must be positive")
        if not 1 <= self.priority <= 5:
            raise ValueError("priority must be 1 to 5")
        if any(not 0 < w < 100 for w in self.warnings):
            raise ValueError("warning thresholds must lie between 0 and 100 percent")


def check_reachable(spec: SlaPolicySpec, calendar: BusinessCalendar, since: datetime) -> None:
    """Raise `Unreachable` when the policy's longest target cannot be met on `calendar` within
    `REACH` of `since` (too little working time: one minute a week, or holidays covering it)."""
    longest = max(spec.response_seconds, spec.resolution_seconds)
    kind = "resolution" if longest == spec.resolution_seconds else "response"
    try:
        calendar.add(since, longest, within=REACH)
    except Unreachable as error:
        raise Unreachable(f"its {kind} target cannot be met: {error}") from None


def match_policy(
    policies: Iterable[SlaPolicySpec], priority: int, service: str | None
) -> SlaPolicySpec | None:
    """The policy for an incident: same priority, and the service-specific one over the
    general one (the most specific match wins); ties go to the first by name, so the choice
    never depends on storage order."""
    candidates = [p for p in policies if p.priority == priority and p.service in (None, service)]
    if not candidates:
        return None
    return min(candidates, key=lambda p: (p.service is None, p.name))


DEFAULT_POLICIES: tuple[SlaPolicySpec, ...] = (
    SlaPolicySpec("P1 critical", 1, 15 * MINUTE, 4 * HOUR, CALENDAR_24X7),
    SlaPolicySpec("P2 high", 2, 30 * MINUTE, 8 * HOUR, CALENDAR_OFFICE),
    SlaPolicySpec("P3 moderate", 3, 4 * HOUR, 27 * HOUR, CALENDAR_OFFICE),
    SlaPolicySpec("P4 low", 4, 8 * HOUR, 45 * HOUR, CALENDAR_OFFICE),
    SlaPolicySpec("P5 planning", 5, 18 * HOUR, 90 * HOUR, CALENDAR_OFFICE),
)
