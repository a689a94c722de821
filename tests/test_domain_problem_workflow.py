"""Problem lifecycle rules: every allowed and refused step, the guards, known errors."""

from __future__ import annotations

import pytest

from itsm_tui.domain.enums import ChangeOutcome, ChangeState, ProblemState
from itsm_tui.domain.problem_workflow import (
    FORWARD,
    PROBLEM_TRANSITIONS,
    FixChange,
    ProblemFacts,
    check_problem_transition,
    is_known_error,
)
from itsm_tui.domain.workflow import TransitionRefused

P = ProblemState
GOOD_FIX = FixChange("CHG0000001", ChangeState.CLOSED, ChangeOutcome.SUCCESSFUL)
READY = ProblemFacts(root_cause="disk firmware bug", fix_change=GOOD_FIX, resolution_notes="ok")
ALL_PAIRS = [(a, b) for a in P for b in P if a is not b]


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_only_listed_steps_are_allowed(current: ProblemState, target: ProblemState) -> None:
    facts = ProblemFacts(
        root_cause="cause", fix_change=GOOD_FIX, reason="because", resolution_notes="done"
    )
    if target in PROBLEM_TRANSITIONS[current]:
        check_problem_transition(current, target, facts)
    else:
        with pytest.raises(TransitionRefused, match="cannot go from"):
            check_problem_transition(current, target, facts)


def test_the_forward_path_is_all_allowed_and_ends_closed() -> None:
    state = P.NEW
    while state in FORWARD:
        check_problem_transition(state, FORWARD[state], READY)
        state = FORWARD[state]
    assert state is P.CLOSED and PROBLEM_TRANSITIONS[P.CLOSED] == frozenset()


def test_fix_in_progress_needs_a_root_cause() -> None:
    with pytest.raises(TransitionRefused, match="root cause"):
        check_problem_transition(P.ROOT_CAUSE_ANALYSIS, P.FIX_IN_PROGRESS, ProblemFacts())


@pytest.mark.parametrize(
    "fix",
    [
        None,
        FixChange("CHG0000002", ChangeState.IMPLEMENT, None),
        FixChange("CHG0000003", ChangeState.CLOSED, ChangeOutcome.FAILED),
        FixChange("CHG0000004", ChangeState.CLOSED, ChangeOutcome.BACKED_OUT),
    ],
)
def test_resolved_needs_a_successful_fix_change_or_a_reason(fix: FixChange | None) -> None:
    facts = ProblemFacts(root_cause="c", fix_change=fix, resolution_notes="notes")
    with pytest.raises(TransitionRefused, match="fix change closed successfully, or a reason"):
        check_problem_transition(P.FIX_IN_PROGRESS, P.RESOLVED, facts)
    reasoned = ProblemFacts(root_cause="c", fix_change=fix, reason="vendor fixed it upstream")
    with pytest.raises(TransitionRefused, match="resolution notes"):
        check_problem_transition(P.FIX_IN_PROGRESS, P.RESOLVED, reasoned)
    check_problem_transition(
        P.FIX_IN_PROGRESS,
        P.RESOLVED,
        ProblemFacts(fix_change=fix, reason="vendor fixed it upstream", resolution_notes="n"),
    )


def test_with_issues_counts_as_a_successful_fix() -> None:
    fix = FixChange("CHG0000005", ChangeState.CLOSED, ChangeOutcome.SUCCESSFUL_WITH_ISSUES)
    check_problem_transition(
        P.FIX_IN_PROGRESS, P.RESOLVED, ProblemFacts(fix_change=fix, resolution_notes="fixed")
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.ASSESS, P.NEW),
        (P.ROOT_CAUSE_ANALYSIS, P.ASSESS),
        (P.FIX_IN_PROGRESS, P.ROOT_CAUSE_ANALYSIS),
        (P.RESOLVED, P.ROOT_CAUSE_ANALYSIS),
        (P.NEW, P.CANCELLED),
        (P.FIX_IN_PROGRESS, P.CANCELLED),
    ],
)
def test_going_back_or_cancelling_needs_a_reason(
    current: ProblemState, target: ProblemState
) -> None:
    with pytest.raises(TransitionRefused, match="needs a reason"):
        check_problem_transition(current, target, READY)
    check_problem_transition(current, target, ProblemFacts(reason="incidents came back"))


def test_a_known_error_has_both_a_root_cause_and_a_workaround() -> None:
    assert is_known_error("firmware bug", "restart the service") is True
    assert is_known_error("firmware bug", "  ") is False
    assert is_known_error("", "restart the service") is False
