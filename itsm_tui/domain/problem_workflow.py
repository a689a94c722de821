"""Problem lifecycle and its guards, and when a problem counts as a known error.

new -> assess -> root_cause_analysis -> fix_in_progress -> resolved -> closed, cancelled from
any open state. Analysis can step back (assess -> new, root_cause_analysis -> assess,
fix_in_progress -> root_cause_analysis when the fix shows the cause was wrong), and a resolved
problem reopens to root_cause_analysis when the incidents come back; both need a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsm_tui.domain.enums import ChangeOutcome, ChangeState, ProblemState
from itsm_tui.domain.workflow import TransitionRefused

P = ProblemState
PROBLEM_TRANSITIONS: dict[ProblemState, frozenset[ProblemState]] = {
    P.NEW: frozenset({P.ASSESS, P.CANCELLED}),
    P.ASSESS: frozenset({P.ROOT_CAUSE_ANALYSIS, P.NEW, P.CANCELLED}),
    P.ROOT_CAUSE_ANALYSIS: frozenset({P.FIX_IN_PROGRESS, P.ASSESS, P.CANCELLED}),
    P.FIX_IN_PROGRESS: frozenset({P.RESOLVED, P.ROOT_CAUSE_ANALYSIS, P.CANCELLED}),
    P.RESOLVED: frozenset({P.CLOSED, P.ROOT_CAUSE_ANALYSIS}),
    P.CLOSED: frozenset(),
    P.CANCELLED: frozenset(),
}
# The usual next step, for a board's "move on" key.
FORWARD: dict[ProblemState, ProblemState] = {
    P.NEW: P.ASSESS,
    P.ASSESS: P.ROOT_CAUSE_ANALYSIS,
    P.ROOT_CAUSE_ANALYSIS: P.FIX_IN_PROGRESS,
    P.FIX_IN_PROGRESS: P.RESOLVED,
    P.RESOLVED: P.CLOSED,
}
BOARD_ORDER: tuple[ProblemState, ...] = (
    P.NEW,
    P.ASSESS,
    P.ROOT_CAUSE_ANALYSIS,
    P.FIX_IN_PROGRESS,
    P.RESOLVED,
    P.CLOSED,
)
SUCCESSFUL_OUTCOMES = frozenset({ChangeOutcome.SUCCESSFUL, ChangeOutcome.SUCCESSFUL_WITH_ISSUES})


@dataclass(frozen=True)
class FixChange:
    """The linked fix change as the guard needs it."""

    number: str
    state: ChangeState
    outcome: ChangeOutcome | None


@dataclass(frozen=True)
class ProblemFacts:
    """What the guards read: the problem as it would be after the move."""

    root_cause: str = ""
    fix_change: FixChange | None = None
    reason: str = ""  # why it steps back, or resolves without a successful fix change
    resolution_notes: str = ""


def allowed_problem_targets(current: ProblemState) -> frozenset[ProblemState]:
    return PROBLEM_TRANSITIONS[current]


def is_known_error(root_cause: str, workaround: str) -> bool:
    """A known error is a problem whose root cause and workaround are both written down."""
    return bool(root_cause.strip()) and bool(workaround.strip())


def fix_succeeded(fix: FixChange | None) -> bool:
    return (
        fix is not None
        and fix.state is ChangeState.CLOSED
        and fix.outcome is not None
        and fix.outcome in SUCCESSFUL_OUTCOMES
    )


def check_problem_transition(
    current: ProblemState, target: ProblemState, facts: ProblemFacts
) -> None:
    """Raise `TransitionRefused` unless `current -> target` is allowed with these facts."""
    if current is target:
        raise TransitionRefused(f"the problem is already {target.value}")
    allowed = PROBLEM_TRANSITIONS[current]
    if target not in allowed:
        names = ", ".join(sorted(t.value for t in allowed)) or "none"
        raise TransitionRefused(
            f"a problem cannot go from {current.value} to {target.value} "
            f"(allowed from {current.value}: {names})"
        )
    backwards = target is not P.CANCELLED and (
        BOARD_ORDER.index(target) < BOARD_ORDER.index(current)
    )
    if (backwards or target is P.CANCELLED) and not facts.reason.strip():
        what = "cancelling" if target is P.CANCELLED else f"going back to {target.value}"
        raise TransitionRefused(f"{what} needs a reason")
    if target is P.FIX_IN_PROGRESS and not facts.root_cause.strip():
        raise TransitionRefused("fix_in_progress needs the root cause written down")
    if target is P.RESOLVED:
        if not fix_succeeded(facts.fix_change) and not facts.reason.strip():
            fix = facts.fix_change
            status = (
                "has no fix change"
                if fix is None
                else f"its fix change {fix.number} is {fix.state.value}"
                + (f" ({fix.outcome.value})" if fix.outcome else "")
            )
            raise TransitionRefused(
                f"resolved needs a fix change closed successfully, or a reason; the problem "
                f"{status}"
            )
        if not facts.resolution_notes.strip():
            raise TransitionRefused("resolved needs resolution notes")
