"""Change Management rules: every transition and guard per change type, risk from the
questionnaire, overrides, who approves with what quorum, and what may happen after the
approval: material edits, who works a change, and approvers never implementing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise, product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itsm_tui.domain.change_approvals import (
    ApprovalRefused,
    ApprovalRule,
    CabPolicy,
    Vote,
    approval_rule,
    check_may_vote,
    check_not_an_approver,
    outcome,
)
from itsm_tui.domain.change_edits import (
    MATERIAL_FIELDS,
    STANDARD_ALLOWANCES,
    EditEffect,
    MaterialEditRefused,
    material_edit_effect,
)
from itsm_tui.domain.change_risk import (
    RiskAnswers,
    RiskOverrideRefused,
    computed_risk,
    effective_risk,
)
from itsm_tui.domain.change_workflow import (
    CHANGE_TRANSITIONS,
    ChangeFacts,
    allowed_change_targets,
    check_change_transition,
)
from itsm_tui.domain.enums import (
    ApprovalDecision,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
    Criticality,
    Role,
)
from itsm_tui.domain.permissions import ChangeScope as Scope
from itsm_tui.domain.permissions import may_work_change
from itsm_tui.domain.workflow import TransitionRefused

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
C = ChangeState
PLANS = {"implementation_plan": "do it", "backout_plan": "undo it", "test_plan": "check it"}
FUTURE = {"planned_start": NOW + timedelta(days=1), "planned_end": NOW + timedelta(days=1, hours=2)}
EVERYTHING = ChangeFacts(
    **PLANS,
    **FUTURE,
    outcome=ChangeOutcome.SUCCESSFUL,
    review_notes="went fine",
    approved=True,
    reason="because",
)

PATHS = {
    ChangeType.STANDARD: [C.NEW, C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CLOSED],
    ChangeType.NORMAL: [C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CLOSED],
    ChangeType.EMERGENCY: [C.NEW, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CLOSED],
}


def _at(state: ChangeState) -> datetime:
    """Implementing happens inside the window; everything else before it."""
    return FUTURE["planned_start"] + timedelta(minutes=5) if state is C.IMPLEMENT else NOW


@pytest.mark.parametrize("kind", list(ChangeType))
def test_each_type_walks_its_happy_path(kind: ChangeType) -> None:
    path = PATHS[kind]
    for current, target in pairwise(path):
        check_change_transition(kind, current, target, EVERYTHING, _at(target))


@pytest.mark.parametrize(
    ("kind", "current", "target"),
    [
        (kind, current, target)
        for kind, current, target in product(ChangeType, ChangeState, ChangeState)
        if current is not target
    ],
)
def test_every_pair_is_allowed_exactly_when_the_table_says(
    kind: ChangeType, current: ChangeState, target: ChangeState
) -> None:
    allowed = target in CHANGE_TRANSITIONS[kind].get(current, frozenset())
    if allowed:
        check_change_transition(kind, current, target, EVERYTHING, _at(target))
    else:
        with pytest.raises(TransitionRefused, match="cannot go from"):
            check_change_transition(kind, current, target, EVERYTHING, _at(target))


@pytest.mark.parametrize("kind", list(ChangeType))
def test_cancelled_from_every_open_state_and_nothing_leaves_the_end_states(
    kind: ChangeType,
) -> None:
    for state in ChangeState:
        targets = allowed_change_targets(kind, state)
        assert (C.CANCELLED in targets) == state.is_open
        if not state.is_open:
            assert targets == frozenset()


def test_standard_skips_assessment_and_emergency_skips_assess() -> None:
    assert allowed_change_targets(ChangeType.STANDARD, C.NEW) == {C.SCHEDULED, C.CANCELLED}
    assert allowed_change_targets(ChangeType.EMERGENCY, C.NEW) == {C.AUTHORIZE, C.CANCELLED}
    assert C.ASSESS in allowed_change_targets(ChangeType.NORMAL, C.NEW)


@pytest.mark.parametrize("missing", ["implementation_plan", "backout_plan", "test_plan"])
def test_assess_needs_all_three_plans(missing: str) -> None:
    facts = ChangeFacts(**{**PLANS, missing: "   "})
    with pytest.raises(TransitionRefused, match=missing.removesuffix("_plan")):
        check_change_transition(ChangeType.NORMAL, C.NEW, C.ASSESS, facts, NOW)


def test_a_rejection_back_to_new_needs_its_reason() -> None:
    with pytest.raises(TransitionRefused, match="reason"):
        check_change_transition(ChangeType.NORMAL, C.AUTHORIZE, C.NEW, ChangeFacts(), NOW)
    check_change_transition(ChangeType.NORMAL, C.AUTHORIZE, C.NEW, ChangeFacts(reason="no"), NOW)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (None, None, "planned start and end"),
        (NOW + timedelta(hours=2), NOW + timedelta(hours=1), "before the planned end"),
        (NOW + timedelta(hours=2), NOW + timedelta(hours=2), "before the planned end"),
        (NOW, NOW + timedelta(hours=1), "in the future"),
        (NOW - timedelta(hours=1), NOW + timedelta(hours=1), "in the future"),
    ],
)
def test_scheduled_needs_a_future_window_that_ends_after_it_starts(
    start: datetime | None, end: datetime | None, message: str
) -> None:
    facts = ChangeFacts(planned_start=start, planned_end=end, approved=True)
    with pytest.raises(TransitionRefused, match=message):
        check_change_transition(ChangeType.STANDARD, C.NEW, C.SCHEDULED, facts, NOW)


@pytest.mark.parametrize("kind", [ChangeType.NORMAL, ChangeType.EMERGENCY])
def test_scheduled_needs_the_approvals_except_for_standard_changes(kind: ChangeType) -> None:
    facts = ChangeFacts(**FUTURE, approved=False)
    with pytest.raises(TransitionRefused, match="approvals"):
        check_change_transition(kind, C.AUTHORIZE, C.SCHEDULED, facts, NOW)
    check_change_transition(ChangeType.STANDARD, C.NEW, C.SCHEDULED, facts, NOW)


@pytest.mark.parametrize(
    ("offset", "inside"),
    [
        (timedelta(minutes=-1), False),
        (timedelta(0), True),  # the start second is inside
        (timedelta(hours=1), True),
        (timedelta(hours=2), False),  # the end is not (half-open)
    ],
)
def test_implement_only_inside_the_window_or_with_an_override_and_reason(
    offset: timedelta, inside: bool
) -> None:
    at = FUTURE["planned_start"] + offset
    facts = ChangeFacts(**FUTURE)
    if inside:
        check_change_transition(ChangeType.NORMAL, C.SCHEDULED, C.IMPLEMENT, facts, at)
        return
    with pytest.raises(TransitionRefused, match="planned window"):
        check_change_transition(ChangeType.NORMAL, C.SCHEDULED, C.IMPLEMENT, facts, at)
    no_reason = ChangeFacts(**FUTURE, window_override=True)
    with pytest.raises(TransitionRefused, match="planned window"):
        check_change_transition(ChangeType.NORMAL, C.SCHEDULED, C.IMPLEMENT, no_reason, at)
    override = ChangeFacts(**FUTURE, window_override=True, reason="outage now")
    check_change_transition(ChangeType.NORMAL, C.SCHEDULED, C.IMPLEMENT, override, at)


def test_review_needs_an_outcome_and_closed_needs_review_notes() -> None:
    with pytest.raises(TransitionRefused, match="outcome"):
        check_change_transition(ChangeType.NORMAL, C.IMPLEMENT, C.REVIEW, ChangeFacts(), NOW)
    with pytest.raises(TransitionRefused, match="review notes"):
        facts = ChangeFacts(outcome=ChangeOutcome.FAILED, review_notes=" ")
        check_change_transition(ChangeType.NORMAL, C.REVIEW, C.CLOSED, facts, NOW)


def test_staying_put_is_not_a_transition() -> None:
    with pytest.raises(TransitionRefused, match="already"):
        check_change_transition(ChangeType.NORMAL, C.ASSESS, C.ASSESS, EVERYTHING, NOW)


# ---------------------------------------------------------------------------- risk


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        (RiskAnswers(), ChangeRisk.LOW),
        (RiskAnswers(ci_criticality=Criticality.MEDIUM), ChangeRisk.LOW),
        (RiskAnswers(ci_criticality=Criticality.HIGH), ChangeRisk.MODERATE),
        (RiskAnswers(outage_expected=True), ChangeRisk.MODERATE),
        (RiskAnswers(tested=False), ChangeRisk.MODERATE),
        (RiskAnswers(backout_possible=False), ChangeRisk.MODERATE),
        (RiskAnswers(ci_criticality=Criticality.MEDIUM, tested=False), ChangeRisk.MODERATE),
        (RiskAnswers(ci_criticality=Criticality.HIGH, tested=False), ChangeRisk.HIGH),
        (RiskAnswers(outage_expected=True, backout_possible=False), ChangeRisk.HIGH),
        (RiskAnswers(ci_criticality=Criticality.CRITICAL), ChangeRisk.MODERATE),
        (RiskAnswers(ci_criticality=Criticality.CRITICAL, outage_expected=True), ChangeRisk.HIGH),
    ],
)
def test_risk_from_the_questionnaire(answers: RiskAnswers, risk: ChangeRisk) -> None:
    assert computed_risk(answers) is risk


answers_strategy = st.builds(
    RiskAnswers,
    ci_criticality=st.sampled_from(list(Criticality)),
    outage_expected=st.booleans(),
    tested=st.booleans(),
    backout_possible=st.booleans(),
)
RISK_ORDER = [ChangeRisk.LOW, ChangeRisk.MODERATE, ChangeRisk.HIGH]


@given(answers_strategy)
def test_a_worse_answer_never_lowers_the_risk(answers: RiskAnswers) -> None:
    base = RISK_ORDER.index(computed_risk(answers))
    worse = [
        RiskAnswers(
            Criticality.CRITICAL, answers.outage_expected, answers.tested, answers.backout_possible
        ),
        RiskAnswers(answers.ci_criticality, True, answers.tested, answers.backout_possible),
        RiskAnswers(
            answers.ci_criticality, answers.outage_expected, False, answers.backout_possible
        ),
        RiskAnswers(answers.ci_criticality, answers.outage_expected, answers.tested, False),
    ]
    for other in worse:
        assert RISK_ORDER.index(computed_risk(other)) >= base


def test_an_override_needs_a_reason_unless_it_agrees() -> None:
    answers = RiskAnswers(tested=False)  # moderate
    assert effective_risk(answers) is ChangeRisk.MODERATE
    assert effective_risk(answers, ChangeRisk.MODERATE) is ChangeRisk.MODERATE
    with pytest.raises(RiskOverrideRefused, match="needs a reason"):
        effective_risk(answers, ChangeRisk.LOW, "  ")
    assert effective_risk(answers, ChangeRisk.HIGH, "first time on this CI") is ChangeRisk.HIGH


# ---------------------------------------------------------------------------- approvals

POLICY = CabPolicy(moderate_quorum=1, high_quorum=2)


@pytest.mark.parametrize(
    ("kind", "risk", "rule"),
    [
        (ChangeType.STANDARD, ChangeRisk.HIGH, ApprovalRule(False, 0)),
        (ChangeType.EMERGENCY, ChangeRisk.HIGH, ApprovalRule(True, 0)),
        (ChangeType.NORMAL, ChangeRisk.LOW, ApprovalRule(True, 0)),
        (ChangeType.NORMAL, ChangeRisk.MODERATE, ApprovalRule(True, 1)),
        (ChangeType.NORMAL, ChangeRisk.HIGH, ApprovalRule(True, 2)),
    ],
)
def test_who_must_approve_per_type_and_risk(
    kind: ChangeType, risk: ChangeRisk, rule: ApprovalRule
) -> None:
    assert approval_rule(kind, risk, POLICY) == rule


def test_quorums_are_configurable_and_checked() -> None:
    assert approval_rule(ChangeType.NORMAL, ChangeRisk.HIGH, CabPolicy(2, 4)).cab_quorum == 4
    with pytest.raises(ValueError, match="quorums"):
        CabPolicy(moderate_quorum=3, high_quorum=2)


def _vote(who: str, role: Role, decision: str = "approved") -> Vote:
    return Vote(who, role, ApprovalDecision(decision))


def test_votes_add_up_to_the_rule() -> None:
    high = approval_rule(ChangeType.NORMAL, ChangeRisk.HIGH, POLICY)
    carl = _vote("carl", Role.CHANGE_MANAGER)
    sue = _vote("sue", Role.SUPERVISOR)
    root = _vote("root", Role.ADMIN)
    assert outcome(high, []) is ApprovalDecision.PENDING
    assert outcome(high, [sue, root]) is ApprovalDecision.PENDING  # no change manager yet
    assert outcome(high, [carl, sue]) is ApprovalDecision.PENDING  # one CAB vote short
    assert outcome(high, [carl, sue, root]) is ApprovalDecision.APPROVED
    # The change manager's own approval is not counted twice toward the CAB quorum.
    moderate = approval_rule(ChangeType.NORMAL, ChangeRisk.MODERATE, POLICY)
    assert outcome(moderate, [carl]) is ApprovalDecision.PENDING
    assert (
        outcome(moderate, [carl, _vote("dora", Role.CHANGE_MANAGER)]) is ApprovalDecision.APPROVED
    )


def test_any_rejection_rejects_and_the_latest_vote_of_a_person_counts() -> None:
    low = approval_rule(ChangeType.NORMAL, ChangeRisk.LOW, POLICY)
    carl = _vote("carl", Role.CHANGE_MANAGER)
    no = _vote("sue", Role.SUPERVISOR, "rejected")
    assert outcome(low, [carl, no]) is ApprovalDecision.REJECTED
    changed_mind = _vote("sue", Role.SUPERVISOR, "approved")
    assert outcome(low, [carl, no, changed_mind]) is ApprovalDecision.APPROVED
    assert outcome(approval_rule(ChangeType.STANDARD, ChangeRisk.LOW, POLICY), []) is (
        ApprovalDecision.APPROVED
    )


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_agents_and_viewers_never_approve(role: Role) -> None:
    with pytest.raises(ApprovalRefused, match="cannot approve"):
        check_may_vote("alice", role, requested_by="bob", assignee="bob")


@pytest.mark.parametrize("field", ["requested_by", "assignee"])
def test_nobody_approves_their_own_change(field: str) -> None:
    people = {"requested_by": "dora", "assignee": "eve", field: "carl"}
    with pytest.raises(ApprovalRefused, match="they requested or will implement"):
        check_may_vote("carl", Role.CHANGE_MANAGER, **people)
    check_may_vote("carl", Role.CHANGE_MANAGER, requested_by="dora", assignee=None)


# ---------------------------------------------------------------- after the approval (issue 16)


def test_whoever_approved_a_change_does_not_implement_it() -> None:
    with pytest.raises(ApprovalRefused, match="sue approved this change and may not implement"):
        check_not_an_approver("sue", ["carl", "sue"], doing="implement")
    check_not_an_approver("alice", ["carl", "sue"], doing="implement")
    check_not_an_approver("sue", [], doing="take")  # votes cleared: nothing approved any more


EVERY_MATERIAL = sorted(MATERIAL_FIELDS)


@pytest.mark.parametrize("field", EVERY_MATERIAL)
@pytest.mark.parametrize("kind", [ChangeType.NORMAL, ChangeType.EMERGENCY])
def test_a_material_edit_sends_an_approved_change_back_and_restarts_votes_in_authorize(
    kind: ChangeType, field: str
) -> None:
    assert material_edit_effect(kind, ChangeState.SCHEDULED, {field}) is EditEffect.SEND_BACK
    assert material_edit_effect(kind, ChangeState.AUTHORIZE, {field}) is (EditEffect.RESTART_VOTES)
    for state in (ChangeState.NEW, ChangeState.ASSESS):
        assert material_edit_effect(kind, state, {field}) is EditEffect.NONE


@pytest.mark.parametrize("kind", list(ChangeType))
@pytest.mark.parametrize("state", list(ChangeState))
def test_what_was_not_approved_edits_freely(kind: ChangeType, state: ChangeState) -> None:
    for field in ("title", "description", "justification", "assignee", "group", "review_notes"):
        assert material_edit_effect(kind, state, {field}) is EditEffect.NONE


@pytest.mark.parametrize("field", EVERY_MATERIAL)
@pytest.mark.parametrize("kind", list(ChangeType))
@pytest.mark.parametrize(
    "state", [ChangeState.IMPLEMENT, ChangeState.REVIEW, ChangeState.CLOSED, ChangeState.CANCELLED]
)
def test_a_change_in_flight_or_ended_refuses_material_edits(
    state: ChangeState, kind: ChangeType, field: str
) -> None:
    with pytest.raises(MaterialEditRefused, match=state.value):
        material_edit_effect(kind, state, {field})


@pytest.mark.parametrize("field", EVERY_MATERIAL)
def test_a_scheduled_standard_change_moves_only_its_window(field: str) -> None:
    if field in STANDARD_ALLOWANCES:
        effect = material_edit_effect(ChangeType.STANDARD, ChangeState.SCHEDULED, {field})
        assert effect is EditEffect.NONE
        return
    with pytest.raises(MaterialEditRefused, match="standard change runs its template"):
        material_edit_effect(ChangeType.STANDARD, ChangeState.SCHEDULED, {field, "planned_end"})


def test_who_works_a_change() -> None:
    def scope(*, requester: bool = False, assignee: bool = False, group: bool = False) -> Scope:
        return Scope(
            requested_by_actor=requester, assigned_to_actor=assignee, in_change_group=group
        )

    outsider = scope()
    for role in (Role.AGENT, Role.SUPERVISOR, Role.VIEWER):
        assert not may_work_change(role, outsider)
    for role in (Role.CHANGE_MANAGER, Role.ADMIN):
        assert may_work_change(role, outsider)
    for involved in (scope(requester=True), scope(assignee=True), scope(group=True)):
        assert may_work_change(Role.AGENT, involved)
        assert may_work_change(Role.SUPERVISOR, involved)
        assert not may_work_change(Role.VIEWER, involved)
