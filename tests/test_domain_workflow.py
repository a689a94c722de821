"""Every incident state pair, allowed or refused, and every guard, against the domain rules."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_tui.domain.enums import HoldReason, IncidentState, ResolutionCode
from itsm_tui.domain.workflow import (
    TransitionRefused,
    TransitionRequest,
    allowed_targets,
    check_incident_transition,
    is_reopen,
)

NEW, IN_PROGRESS, ON_HOLD, RESOLVED, CLOSED, CANCELLED = (
    "new",
    "in_progress",
    "on_hold",
    "resolved",
    "closed",
    "cancelled",
)
STATES = (NEW, IN_PROGRESS, ON_HOLD, RESOLVED, CLOSED, CANCELLED)

# The rules as the issue states them, written independently of INCIDENT_TRANSITIONS.
EXPECTED: dict[str, set[str]] = {
    NEW: {IN_PROGRESS, ON_HOLD, RESOLVED, CANCELLED},
    IN_PROGRESS: {ON_HOLD, RESOLVED, CANCELLED},
    ON_HOLD: {IN_PROGRESS, RESOLVED},
    RESOLVED: {IN_PROGRESS, CLOSED},  # in_progress is the reopen
    CLOSED: set(),
    CANCELLED: set(),
}
ALL_PAIRS = list(itertools.product(STATES, STATES))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in EXPECTED[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in EXPECTED[a]]

FULL = TransitionRequest(
    hold_reason=HoldReason.AWAITING_VENDOR,
    resolution_code=ResolutionCode.SOLVED_PERMANENTLY,
    resolution_notes="replaced the failed disk",
)


def satisfied(target: str) -> TransitionRequest:
    """The least a caller must supply to reach `target`."""
    if target == ON_HOLD:
        return TransitionRequest(hold_reason=HoldReason.AWAITING_CALLER)
    if target == RESOLVED:
        return TransitionRequest(
            resolution_code=ResolutionCode.SOLVED_WORKAROUND, resolution_notes="restarted"
        )
    return TransitionRequest()


def test_the_table_is_the_one_the_issue_describes() -> None:
    assert len(ALL_PAIRS) == 36
    assert len(ALLOWED) == 11
    assert set(IncidentState) == {IncidentState(s) for s in STATES}
    for state in STATES:
        assert {t.value for t in allowed_targets(IncidentState(state))} == EXPECTED[state]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_transition_passes_with_its_guards_satisfied(current: str, target: str) -> None:
    check_incident_transition(IncidentState(current), IncidentState(target), satisfied(target))


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_refused_transition_is_refused_whatever_is_supplied(current: str, target: str) -> None:
    for request in (TransitionRequest(), satisfied(target), FULL):
        with pytest.raises(TransitionRefused) as refused:
            check_incident_transition(IncidentState(current), IncidentState(target), request)
        assert target in str(refused.value)


@pytest.mark.parametrize("current", [s for s in STATES if ON_HOLD in EXPECTED[s]])
def test_on_hold_needs_a_hold_reason(current: str) -> None:
    with pytest.raises(TransitionRefused, match="hold reason"):
        check_incident_transition(
            IncidentState(current), IncidentState.ON_HOLD, TransitionRequest()
        )
    # A resolution does not stand in for a hold reason.
    with pytest.raises(TransitionRefused, match="hold reason"):
        check_incident_transition(
            IncidentState(current),
            IncidentState.ON_HOLD,
            TransitionRequest(resolution_code=ResolutionCode.DUPLICATE, resolution_notes="x"),
        )
    for reason in HoldReason:
        check_incident_transition(
            IncidentState(current), IncidentState.ON_HOLD, TransitionRequest(hold_reason=reason)
        )


def test_hold_reasons_are_the_four_the_issue_names() -> None:
    assert {r.value for r in HoldReason} == {
        "awaiting_caller",
        "awaiting_change",
        "awaiting_problem",
        "awaiting_vendor",
    }


def test_resolution_codes_are_the_five_the_issue_names() -> None:
    assert {c.value for c in ResolutionCode} == {
        "solved_permanently",
        "solved_workaround",
        "not_reproducible",
        "duplicate",
        "resolved_by_caller",
    }


@pytest.mark.parametrize("current", [s for s in STATES if RESOLVED in EXPECTED[s]])
def test_resolved_needs_a_code_and_notes(current: str) -> None:
    state = IncidentState(current)
    refused = [
        TransitionRequest(),
        TransitionRequest(resolution_notes="fixed it"),
        TransitionRequest(resolution_code=ResolutionCode.DUPLICATE),
        TransitionRequest(resolution_code=ResolutionCode.DUPLICATE, resolution_notes=""),
        TransitionRequest(resolution_code=ResolutionCode.DUPLICATE, resolution_notes=" \n\t "),
        TransitionRequest(hold_reason=HoldReason.AWAITING_CALLER),
    ]
    for request in refused:
        with pytest.raises(TransitionRefused, match="resolution"):
            check_incident_transition(state, IncidentState.RESOLVED, request)
    for code in ResolutionCode:
        check_incident_transition(
            state,
            IncidentState.RESOLVED,
            TransitionRequest(resolution_code=code, resolution_notes="done"),
        )


@pytest.mark.parametrize("current", STATES)
def test_closed_only_from_resolved(current: str) -> None:
    if current == RESOLVED:
        check_incident_transition(IncidentState(current), IncidentState.CLOSED, TransitionRequest())
    else:
        with pytest.raises(TransitionRefused):
            check_incident_transition(IncidentState(current), IncidentState.CLOSED, FULL)


@pytest.mark.parametrize("current", STATES)
def test_cancelled_only_from_new_or_in_progress(current: str) -> None:
    if current in (NEW, IN_PROGRESS):
        check_incident_transition(
            IncidentState(current), IncidentState.CANCELLED, TransitionRequest()
        )
    else:
        with pytest.raises(TransitionRefused):
            check_incident_transition(IncidentState(current), IncidentState.CANCELLED, FULL)


@pytest.mark.parametrize("current", [CLOSED, CANCELLED])
def test_terminal_states_go_nowhere(current: str) -> None:
    assert allowed_targets(IncidentState(current)) == frozenset()
    for target in STATES:
        with pytest.raises(TransitionRefused):
            check_incident_transition(IncidentState(current), IncidentState(target), FULL)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_only_resolved_to_in_progress_is_a_reopen(current: str, target: str) -> None:
    expected = (current, target) == (RESOLVED, IN_PROGRESS)
    assert is_reopen(IncidentState(current), IncidentState(target)) is expected


def test_refusal_names_the_allowed_targets() -> None:
    with pytest.raises(TransitionRefused) as refused:
        check_incident_transition(IncidentState.ON_HOLD, IncidentState.CLOSED, FULL)
    message = str(refused.value)
    assert "in_progress" in message
    assert "resolved" in message


# ---------------------------------------------------------------------------- random walks

requests = st.builds(
    TransitionRequest,
    hold_reason=st.none() | st.sampled_from(HoldReason),
    resolution_code=st.none() | st.sampled_from(ResolutionCode),
    resolution_notes=st.none() | st.sampled_from(["", "  ", "rebooted the router"]),
)


def model_allows(current: str, target: str, request: TransitionRequest) -> bool:
    if target not in EXPECTED[current]:
        return False
    if target == ON_HOLD:
        return request.hold_reason is not None
    if target == RESOLVED:
        return request.resolution_code is not None and bool(
            (request.resolution_notes or "").strip()
        )
    return True


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STATES), requests), max_size=12))
def test_random_walks_follow_the_rules(steps: list[tuple[str, TransitionRequest]]) -> None:
    current = NEW
    visited = [current]
    for target, request in steps:
        expected = model_allows(current, target, request)
        try:
            check_incident_transition(IncidentState(current), IncidentState(target), request)
        except TransitionRefused:
            assert not expected, f"{current} -> {target} with {request} was refused"
        else:
            assert expected, f"{current} -> {target} with {request} was allowed"
            current = target
            visited.append(current)
    # Once a walk reaches a terminal state it stays there.
    for terminal in (CLOSED, CANCELLED):
        if terminal in visited:
            assert visited[visited.index(terminal) :] == [terminal]
    # Every closed incident went through resolved first.
    if CLOSED in visited:
        assert visited[visited.index(CLOSED) - 1] == RESOLVED
