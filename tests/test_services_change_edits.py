"""Editing changes on both engines: stale writes refused, what each state still lets change,
risk following the questionnaire, approvals restarted by a new plan, moved windows checked for
conflicts, the emergency freeze bypass, and incidents blaming a change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from itsm_tui.services import changes, freeze_windows, incidents
from itsm_tui.services.errors import (
    Conflict,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from itsm_tui.services.incident_changes import changes_of
from itsm_tui.services.validation import validate
from itsm_tui.store.models import JournalEntry
from tests.conftest import Desk
from tests.test_services_changes import _move, _new, _vote


def _edit(
    desk: Desk, user: str, number: str, expect_version: int | None = None, **fields: object
) -> changes.ChangeRecord:
    data = validate(changes.ChangeUpdate, **fields)
    return changes.update_change(
        desk.session, desk[user], desk.clock, number, data, expect_version=expect_version
    )


def _freeze(desk: Desk, hours: int = 20, service: str | None = None) -> None:
    start = desk.clock.now() + timedelta(hours=hours)
    freeze_windows.add_freeze(
        desk.session,
        desk["carl"],
        desk.clock,
        validate(
            freeze_windows.FreezeCreate,
            name="Quarter end",
            starts_at=start,
            ends_at=start + timedelta(days=1),
            service=service,
        ),
    )


def _journal(desk: Desk) -> list[str]:
    return list(desk.session.exec(select(JournalEntry.body)).all())


def test_an_edit_is_refused_when_someone_else_changed_the_change_first(desk: Desk) -> None:
    number = _new(desk)
    version = changes.get_change(desk.session, number).version
    edited = _edit(desk, "alice", number, expect_version=version, title="Patch mail-01 to CU14")
    assert edited.title == "Patch mail-01 to CU14" and edited.version == version + 1
    with pytest.raises(Conflict, match="changed by someone else"):
        _edit(desk, "carl", number, expect_version=version, description="stale")
    assert changes.get_change(desk.session, number).description == ""
    with pytest.raises(ValidationFailed, match="nothing to change"):
        _edit(desk, "alice", number)
    with pytest.raises(PermissionDenied):
        _edit(desk, "vic", number, title="viewer edit")
    with pytest.raises(ValidationFailed, match="nobody"):
        _edit(desk, "alice", number, assignee="nobody")


def test_risk_follows_the_questionnaire_unless_overridden_with_a_reason(desk: Desk) -> None:
    number = _new(desk)
    assert _edit(desk, "alice", number, outage_expected=True).risk == "moderate"
    assert _edit(desk, "alice", number, tested=False).risk == "high"
    with pytest.raises(ValidationFailed, match="reason"):
        _edit(desk, "alice", number, risk_override="low")
    overridden = _edit(
        desk, "alice", number, risk_override="low", risk_override_reason="dry run in staging"
    )
    assert (overridden.risk, overridden.risk_override_reason) == ("low", "dry run in staging")
    assert _edit(desk, "alice", number, backout_possible=False).risk == "low"  # override stands
    recomputed = _edit(desk, "alice", number, recompute_risk=True)
    assert (recomputed.risk, recomputed.risk_override_reason) == ("high", None)


def test_each_state_lets_only_what_can_still_honestly_change(desk: Desk) -> None:
    number = _new(desk, change_type="standard")
    assert _edit(desk, "alice", number, change_type="normal").change_type == "normal"
    _move(desk, "alice", number, "assess")
    with pytest.raises(InvalidTransition, match="type is fixed"):
        _edit(desk, "alice", number, change_type="emergency")
    _move(desk, "alice", number, "cancelled")
    with pytest.raises(InvalidTransition, match="can no longer change"):
        _edit(desk, "alice", number, title="too late")


def test_a_new_plan_in_authorize_restarts_the_approvals(desk: Desk) -> None:
    number = _new(desk, outage_expected=True)  # moderate: change manager plus one CAB vote
    _move(desk, "alice", number, "assess")
    _move(desk, "alice", number, "authorize", approvers=("sue",))
    assert _vote(desk, "carl", number, "approved") == "authorize"
    later = desk.clock.now() + timedelta(days=3)
    record = _edit(
        desk, "alice", number, planned_start=later, planned_end=later + timedelta(hours=1)
    )
    assert {(a.approver, a.decision) for a in record.approvals} == {
        ("carl", "pending"),
        ("sue", "pending"),
    }
    assert "Plan changed in authorize: approvals restarted" in _journal(desk)
    assert _vote(desk, "sue", number, "approved") == "authorize"  # carl must approve again
    assert _vote(desk, "carl", number, "approved") == "scheduled"


def test_moving_a_scheduled_change_onto_another_is_a_conflict(desk: Desk) -> None:
    first = _new(desk, change_type="standard")
    _move(desk, "alice", first, "scheduled")
    second = _new(desk, change_type="standard", hours=48, user="bob")
    _move(desk, "bob", second, "scheduled")
    clash = desk.clock.now() + timedelta(hours=24, minutes=30)
    with pytest.raises(InvalidTransition, match="clashes"):
        _edit(desk, "bob", second, planned_start=clash, planned_end=clash + timedelta(hours=1))
    assert changes.get_change(desk.session, second).planned_start != clash  # nothing written
    with pytest.raises(InvalidTransition, match="future"):
        past = desk.clock.now() - timedelta(hours=1)
        _edit(desk, "bob", second, planned_start=past)
    moved = _edit(
        desk,
        "carl",
        second,
        planned_start=clash,
        planned_end=clash + timedelta(hours=1),
        conflict_override=True,
        reason="vendor slot",
    )
    assert moved.planned_start == clash and moved.state == "scheduled"
    assert any("Scheduled over conflicts" in body for body in _journal(desk))


def test_an_emergency_change_runs_through_a_freeze_with_a_recorded_justification(
    desk: Desk,
) -> None:
    _freeze(desk)
    with pytest.raises(ValidationFailed, match="only emergency"):
        _new(desk, freeze_justification="cannot wait")
    blocked = _new(desk, change_type="emergency", cis=("vpn-gw-01",))
    _move(desk, "alice", blocked, "authorize")
    assert _vote(desk, "carl", blocked, "approved") == "authorize"  # the freeze blocks it
    assert any("conflicts block it" in body for body in _journal(desk))
    justified = _new(
        desk,
        change_type="emergency",
        freeze_justification="payroll VPN down for 4,000 staff",
    )
    _move(desk, "alice", justified, "authorize")
    assert _vote(desk, "carl", justified, "approved") == "scheduled"
    assert any(
        "runs through freeze Quarter end: payroll VPN down" in body for body in _journal(desk)
    )
    record = _edit(desk, "alice", blocked, freeze_justification="security patch, exploited")
    assert record.freeze_justification == "security patch, exploited"
    assert _move(desk, "carl", blocked, "scheduled").state == "scheduled"


def test_incidents_caused_by_a_change_are_listed_on_it(desk: Desk) -> None:
    number = _new(desk)
    opened = incidents.create_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        validate(incidents.IncidentCreate, title="Mail down after patch", impact=2, urgency=2),
    )
    linked = incidents.update_incident(
        desk.session, desk["alice"], desk.clock, opened.number, changes_of(caused_by=number)
    )
    assert linked.caused_by == number
    caused = changes.get_change(desk.session, number).caused_incidents
    assert [(c.number, c.title, c.priority) for c in caused] == [
        (opened.number, "Mail down after patch", opened.priority)
    ]
    with pytest.raises(ValidationFailed, match="no change CHG0009999"):
        incidents.update_incident(
            desk.session,
            desk["alice"],
            desk.clock,
            opened.number,
            changes_of(caused_by="CHG0009999"),
        )
    cleared = incidents.update_incident(
        desk.session, desk["alice"], desk.clock, opened.number, changes_of(caused_by="none")
    )
    assert cleared.caused_by is None
    assert changes.get_change(desk.session, number).caused_incidents == []


def test_changes_list_by_service_group_and_assignee(desk: Desk) -> None:
    mail = _new(desk, group="Network", assignee="bob")
    vpn = _new(desk, cis=("vpn-gw-01",))
    assert [c.number for c in changes.list_changes(desk.session, service="Email")] == [mail]
    assert [c.number for c in changes.list_changes(desk.session, service="VPN")] == [vpn]
    assert [c.number for c in changes.list_changes(desk.session, group="Network")] == [mail]
    assert [c.number for c in changes.list_changes(desk.session, assignee="bob")] == [mail]
    with pytest.raises(ValidationFailed, match="unknown service 'Nope'"):
        changes.list_changes(desk.session, service="Nope")


def test_scheduling_can_book_the_window_in_the_same_step(desk: Desk) -> None:
    number = _new(desk, change_type="standard", planned_start=None, planned_end=None)
    with pytest.raises(InvalidTransition, match="planned start and end"):
        _move(desk, "alice", number, "scheduled")
    start = desk.clock.now() + timedelta(days=2)
    with pytest.raises(ValidationFailed, match="before the planned end"):
        _move(desk, "alice", number, "scheduled", planned_start=start, planned_end=start)
    assert changes.get_change(desk.session, number).planned_start is None  # nothing written
    record = _move(
        desk,
        "alice",
        number,
        "scheduled",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    assert (record.state, record.planned_start) == ("scheduled", start)


def test_who_may_vote_now_is_the_service_s_answer(desk: Desk) -> None:
    number = _new(desk, outage_expected=True)

    def refusal(user: str) -> str | None:
        return changes.vote_refusal(changes.get_change(desk.session, number), desk[user])

    assert refusal("carl") == f"{number} is new; votes are taken in authorize"
    _move(desk, "alice", number, "assess")
    _move(desk, "alice", number, "authorize", approvers=("sue",))
    assert refusal("carl") is None  # change managers vote without being asked
    assert refusal("sue") is None  # asked
    assert refusal("root") == f"root was not asked to approve {number}"
    assert refusal("bob") is not None and "agents" in str(refusal("bob"))
    assert refusal("alice") is not None  # requested it (and an agent)
