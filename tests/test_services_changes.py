"""Change use cases on both engines: requesting (risk from the questionnaire), the normal
and emergency approval paths, rejection, who may vote, and scheduling around conflicts and
freezes with a change manager's override."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from itsm_tui.domain.enums import ApprovalDecision, ChangeState
from itsm_tui.services import changes, freeze_windows
from itsm_tui.services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from itsm_tui.services.validation import validate
from itsm_tui.store.models import JournalEntry
from tests.conftest import Desk

PLANS = {"implementation_plan": "do", "backout_plan": "undo", "test_plan": "check"}


def _new(desk: Desk, user: str = "alice", hours: int = 24, **fields: object) -> str:
    start = desk.clock.now() + timedelta(hours=hours)
    values: dict[str, object] = {
        "title": "Patch mail-01",
        "cis": ("mail-01",),
        "planned_start": start,
        "planned_end": start + timedelta(hours=2),
        **PLANS,
    } | fields
    data = validate(changes.ChangeCreate, **values)
    return changes.create_change(desk.session, desk[user], desk.clock, data).number


def _move(desk: Desk, user: str, number: str, state: str, **fields: object) -> changes.ChangeRecord:
    move = validate(changes.ChangeMove, state=state, **fields)
    return changes.move_change(desk.session, desk[user], desk.clock, number, move)


def _vote(desk: Desk, user: str, number: str, decision: str, comment: str = "") -> str:
    record = changes.vote(
        desk.session, desk[user], desk.clock, number, ApprovalDecision(decision), comment=comment
    )
    return record.state


def test_a_request_gets_a_number_and_its_risk_from_the_questionnaire(desk: Desk) -> None:
    low = changes.get_change(desk.session, _new(desk))
    assert (low.number, low.state, low.risk, low.service, low.cis) == (
        "CHG0000001", "new", "low", "Email", ["mail-01"],
    )  # fmt: skip
    risky = changes.get_change(desk.session, _new(desk, outage_expected=True, tested=False))
    assert risky.risk == "high"
    with pytest.raises(ValidationFailed, match="needs a reason"):
        _new(desk, risk_override="low", outage_expected=True)
    with pytest.raises(PermissionDenied):
        _new(desk, user="vic")


def test_a_normal_change_is_assessed_authorised_by_votes_and_scheduled(desk: Desk) -> None:
    number = _new(desk, outage_expected=True)  # moderate: change manager plus one CAB vote
    _move(desk, "alice", number, "assess")
    _move(desk, "alice", number, "authorize", approvers=("sue",))
    assert _vote(desk, "carl", number, "approved") == "authorize"  # one CAB vote still due
    assert _vote(desk, "sue", number, "approved") == "scheduled"
    record = changes.get_change(desk.session, number)
    assert {(a.approver, a.decision) for a in record.approvals} == {
        ("carl", "approved"),
        ("sue", "approved"),
    }


def test_any_rejection_returns_the_change_to_new_with_the_reason(desk: Desk) -> None:
    number = _new(desk)
    _move(desk, "alice", number, "assess")
    _move(desk, "alice", number, "authorize")
    with pytest.raises(ValidationFailed, match="comment"):
        _vote(desk, "carl", number, "rejected")
    assert _vote(desk, "carl", number, "rejected", "backout plan is a guess") == "new"
    assert changes.get_change(desk.session, number).approvals == []
    bodies = desk.session.exec(select(JournalEntry.body)).all()
    assert any("backout plan is a guess" in body for body in bodies)


def test_agents_cannot_vote_and_nobody_approves_their_own_change(desk: Desk) -> None:
    number = _new(desk, user="carl")
    _move(desk, "carl", number, "assess")
    _move(desk, "carl", number, "authorize")
    with pytest.raises(PermissionDenied, match="cannot approve"):
        _vote(desk, "alice", number, "approved")
    with pytest.raises(PermissionDenied, match="requested or will implement"):
        _vote(desk, "carl", number, "approved")
    with pytest.raises(PermissionDenied, match="not asked"):
        _vote(desk, "sue", number, "approved")  # a supervisor votes only when asked


def test_an_emergency_change_needs_one_change_manager(desk: Desk) -> None:
    number = _new(desk, change_type="emergency", hours=1)
    _move(desk, "alice", number, "authorize")
    assert _vote(desk, "carl", number, "approved") == "scheduled"


def test_conflicts_block_scheduling_until_a_change_manager_overrides_with_a_reason(
    desk: Desk,
) -> None:
    # Standard changes: the change manager raises them (issue 16), the assignee books them.
    first = _new(desk, "carl", change_type="standard", assignee="alice")
    _move(desk, "alice", first, "scheduled")
    second = _new(desk, "carl", change_type="standard", hours=25, assignee="bob")  # on mail-01
    assert [c.kind for c in changes.change_conflicts(desk.session, second)] == ["same_ci"]
    with pytest.raises(InvalidTransition, match="clashes"):
        _move(desk, "bob", second, "scheduled")
    with pytest.raises(PermissionDenied, match="change managers"):
        _move(desk, "bob", second, "scheduled", conflict_override=True, reason="urgent")
    with pytest.raises(ValidationFailed, match="reason"):
        _move(desk, "carl", second, "scheduled", conflict_override=True)
    record = _move(desk, "carl", second, "scheduled", conflict_override=True, reason="urgent")
    assert record.state == ChangeState.SCHEDULED.value
    bodies = desk.session.exec(select(JournalEntry.body)).all()
    assert any("Scheduled over conflicts" in body and "urgent" in body for body in bodies)


def test_a_freeze_window_blocks_a_change_on_its_service(desk: Desk) -> None:
    start = desk.clock.now() + timedelta(hours=20)
    freeze_windows.add_freeze(
        desk.session,
        desk["carl"],
        desk.clock,
        validate(
            freeze_windows.FreezeCreate,
            name="Mail freeze",
            starts_at=start,
            ends_at=start + timedelta(days=1),
            service="Email",
        ),
    )
    number = _new(desk, "carl", change_type="standard", assignee="alice")
    with pytest.raises(InvalidTransition, match="Mail freeze"):
        _move(desk, "alice", number, "scheduled")
    vpn = _new(desk, "carl", change_type="standard", assignee="alice", cis=("vpn-gw-01",))
    assert _move(desk, "alice", vpn, "scheduled").state == "scheduled"


def test_the_lifecycle_guards_come_from_the_domain(desk: Desk) -> None:
    number = _new(desk, implementation_plan="")
    with pytest.raises(InvalidTransition, match="implementation"):
        _move(desk, "alice", number, "assess")
    with pytest.raises(InvalidTransition, match="cannot go from new to scheduled"):
        _move(desk, "alice", number, "scheduled")
    assert _move(desk, "alice", number, "cancelled").state == "cancelled"
