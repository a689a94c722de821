"""Change lifecycle per change type, with the guards each step needs.

Like the incident workflow, the rules live here so every entry point (CLI, TUI, import)
refuses the same things for the same reasons. Approvals and conflicts are separate rules
(`change_approvals`, `conflicts`); the service combines them when a change is scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsm_tui.domain.enums import ChangeOutcome, ChangeState, ChangeType
from itsm_tui.domain.workflow import TransitionRefused

C = ChangeState
_OPEN = (C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW)
_DELIVERY = {
    C.SCHEDULED: frozenset({C.IMPLEMENT}),
    C.IMPLEMENT: frozenset({C.REVIEW}),
    C.REVIEW: frozenset({C.CLOSED}),
    C.CLOSED: frozenset(),
    C.CANCELLED: frozenset(),
}

CHANGE_TRANSITIONS: dict[ChangeType, dict[ChangeState, frozenset[ChangeState]]] = {
    # Pre-approved from a template: straight to the calendar.
    ChangeType.STANDARD: {C.NEW: frozenset({C.SCHEDULED})} | _DELIVERY,
    ChangeType.NORMAL: {
        C.NEW: frozenset({C.ASSESS}),
        C.ASSESS: frozenset({C.AUTHORIZE, C.NEW}),
        C.AUTHORIZE: frozenset({C.SCHEDULED, C.NEW}),  # NEW: rejected, back to the requester
    }
    | _DELIVERY,
    # Expedited: no assessment step, one change manager's approval.
    ChangeType.EMERGENCY: {
        C.NEW: frozenset({C.AUTHORIZE}),
        C.AUTHORIZE: frozenset({C.SCHEDULED, C.NEW}),
    }
    | _DELIVERY,
}
for _states in CHANGE_TRANSITIONS.values():  # cancelled is reachable from every open state
    for _state in _OPEN:
        _states[_state] = _states.get(_state, frozenset()) | {C.CANCELLED}


@dataclass(frozen=True)
class ChangeFacts:
    """What the guards read: the change as it would be after the move."""

    implementation_plan: str = ""
    backout_plan: str = ""
    test_plan: str = ""
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    outcome: ChangeOutcome | None = None
    review_notes: str = ""
    approved: bool = False  # the approval rule for its type and risk is satisfied
    reason: str = ""  # for a rejection back to new, or an override
    window_override: bool = False  # implement outside the planned window, with `reason`


def allowed_change_targets(kind: ChangeType, current: ChangeState) -> frozenset[ChangeState]:
    return CHANGE_TRANSITIONS[kind].get(current, frozenset())


def check_change_transition(
    kind: ChangeType,
    current: ChangeState,
    target: ChangeState,
    facts: ChangeFacts,
    now: datetime,
) -> None:
    """Raise `TransitionRefused` unless `current -> target` is allowed for this change type
    with these facts at `now`."""
    if current is target:
        raise TransitionRefused(f"the change is already {target.value}")
    allowed = allowed_change_targets(kind, current)
    if target not in allowed:
        names = ", ".join(sorted(t.value for t in allowed)) or "none"
        raise TransitionRefused(
            f"a {kind.value} change cannot go from {current.value} to {target.value} "
            f"(allowed from {current.value}: {names})"
        )
    if target is C.ASSESS:
        missing = [
            name
            for name, text in (
                ("implementation", facts.implementation_plan),
                ("backout", facts.backout_plan),
                ("test", facts.test_plan),
            )
            if not text.strip()
        ]
        if missing:
            raise TransitionRefused(f"assess needs the {', '.join(missing)} plan(s) filled in")
    if target is C.NEW and current is C.AUTHORIZE and not facts.reason.strip():
        raise TransitionRefused("sending a change back to new needs the reason")
    if target is C.SCHEDULED:
        check_schedule(facts, now)
        if kind is not ChangeType.STANDARD and not facts.approved:
            raise TransitionRefused("scheduled needs the approvals its risk requires")
    if target is C.IMPLEMENT:
        _check_window(facts, now)
    if target is C.REVIEW and facts.outcome is None:
        outcomes = ", ".join(o.value for o in ChangeOutcome)
        raise TransitionRefused(f"review needs the outcome ({outcomes})")
    if target is C.CLOSED and not facts.review_notes.strip():
        raise TransitionRefused("closed needs review notes")


def check_schedule(facts: ChangeFacts, now: datetime) -> None:
    """A booked window: both ends, in order, starting in the future (also when it moves)."""
    start, end = facts.planned_start, facts.planned_end
    if start is None or end is None:
        raise TransitionRefused("scheduled needs a planned start and end")
    if not start < end:
        raise TransitionRefused("the planned start must be before the planned end")
    if start <= now:
        raise TransitionRefused("the planned start must be in the future")


def _check_window(facts: ChangeFacts, now: datetime) -> None:
    start, end = facts.planned_start, facts.planned_end
    inside = start is not None and end is not None and start <= now < end
    if inside:
        return
    if facts.window_override and facts.reason.strip():
        return
    raise TransitionRefused(
        "implement only inside the planned window, or with an override and its reason"
    )
