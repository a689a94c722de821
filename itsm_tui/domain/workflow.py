"""Incident lifecycle: which state changes are allowed and what each one needs.

Guards live here rather than in services so every entry point (CLI, TUI, import, workers)
refuses the same things for the same reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsm_tui.domain.enums import HoldReason, IncidentState, ResolutionCode
from itsm_tui.domain.errors import DomainError

S = IncidentState

INCIDENT_TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    S.NEW: frozenset({S.IN_PROGRESS, S.ON_HOLD, S.RESOLVED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.RESOLVED, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.RESOLVED}),
    S.RESOLVED: frozenset({S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}


class TransitionRefused(DomainError):
    """A state change the workflow does not allow, with a message saying what would allow it."""


@dataclass(frozen=True)
class TransitionRequest:
    """What the caller supplies alongside the target state; guards read it."""

    hold_reason: HoldReason | None = None
    resolution_code: ResolutionCode | None = None
    resolution_notes: str | None = None


def allowed_targets(current: IncidentState) -> frozenset[IncidentState]:
    return INCIDENT_TRANSITIONS[current]


def is_reopen(current: IncidentState, target: IncidentState) -> bool:
    return current is S.RESOLVED and target is S.IN_PROGRESS


def check_incident_transition(
    current: IncidentState, target: IncidentState, request: TransitionRequest
) -> None:
    """Raise `TransitionRefused` unless `current -> target` is allowed with what was supplied."""
    if current is target:
        raise TransitionRefused(f"the incident is already {target.value}")
    if target not in INCIDENT_TRANSITIONS[current]:
        allowed = ", ".join(sorted(t.value for t in INCIDENT_TRANSITIONS[current])) or "none"
        raise TransitionRefused(
            f"cannot go from {current.value} to {target.value} (allowed from {current.value}: "
            f"{allowed})"
        )
    if target is S.ON_HOLD and request.hold_reason is None:
        reasons = ", ".join(r.value for r in HoldReason)
        raise TransitionRefused(f"on_hold needs a hold reason ({reasons})")
    if target is S.RESOLVED:
        if request.resolution_code is None:
            codes = ", ".join(c.value for c in ResolutionCode)
            raise TransitionRefused(f"resolved needs a resolution code ({codes})")
        if not (request.resolution_notes or "").strip():
            raise TransitionRefused("resolved needs resolution notes")
