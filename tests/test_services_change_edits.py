"""Editing changes on both engines: stale writes refused, what each state still lets change,
risk following the questionnaire, approvals restarted by a new plan, moved windows checked for
conflicts, the emergency freeze bypass, incidents blaming a change, and what may happen after
the approval (issue 16): material edits sent back or refused, who works a change, approvers
never implementing, no re-booking of an approved window in a move."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

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
from itsm_tui.store.database import Database
from itsm_tui.store.models import JournalEntry
from tests.conftest import Desk
from tests.service_helpers import mark, refused, written
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
    number = _new(desk, "carl", change_type="standard", assignee="alice")
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
    first = _new(desk, "carl", change_type="standard", assignee="alice")
    _move(desk, "alice", first, "scheduled")
    second = _new(desk, "carl", change_type="standard", hours=48, assignee="bob")
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
    # carl approved it without a justification: the requester cannot write one after the
    # vote and schedule it through the freeze; carl is asked again and sees it.
    assert {(a.approver, a.decision) for a in record.approvals} == {("carl", "pending")}
    with pytest.raises(InvalidTransition, match="approvals its risk requires"):
        _move(desk, "alice", blocked, "scheduled")
    assert _vote(desk, "carl", blocked, "approved") == "scheduled"


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
    number = _new(
        desk, "carl", change_type="standard", assignee="alice", planned_start=None, planned_end=None
    )
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


# ---------------------------------------------------------------- after the approval (issue 16)


def _approved(desk: Desk, **fields: object) -> str:
    """A moderate normal change alice requests, approved by carl and sue: scheduled."""
    number = _new(desk, outage_expected=True, **fields)
    _move(desk, "alice", number, "assess")
    _move(desk, "alice", number, "authorize", approvers=("sue",))
    _vote(desk, "carl", number, "approved")
    assert _vote(desk, "sue", number, "approved") == "scheduled"
    return number


def _later(desk: Desk, days: int = 3) -> dict[str, object]:
    start = desk.clock.now() + timedelta(days=days)
    return {"planned_start": start, "planned_end": start + timedelta(hours=1)}


MATERIAL_EDITS: dict[str, dict[str, object]] = {
    "risk raised": {"tested": False},
    "risk overridden": {"risk_override": "high", "risk_override_reason": "payroll week"},
    "plan rewritten": {"implementation_plan": "do it differently"},
    "backout rewritten": {"backout_plan": "hope"},
    "CIs cleared": {"cis": ()},
    "service moved": {"service": "VPN"},
}


@pytest.mark.parametrize("edit", [*MATERIAL_EDITS, "window moved"])
def test_a_material_edit_sends_an_approved_change_back_to_authorize_in_one_write(
    desk: Desk, database: Database, edit: str
) -> None:
    number = _approved(desk)
    fields = _later(desk) if edit == "window moved" else MATERIAL_EDITS[edit]
    since = mark(database)
    record = _edit(desk, "alice", number, **fields)
    assert record.state == "authorize"
    assert {(a.approver, a.decision) for a in record.approvals} == {
        ("carl", "pending"),
        ("sue", "pending"),
    }
    rows = written(database, since)
    assert rows.fields()["state"] == ("scheduled", "authorize")
    assert rows.one_event().action == "transition"
    assert any("sent back to authorize, approvals cleared" in e.body for e in rows.journal)
    with pytest.raises(InvalidTransition, match="authorize to implement"):
        _move(desk, "alice", number, "implement", window_override=True, reason="now")
    _vote(desk, "carl", number, "approved")
    again = _vote(desk, "sue", number, "approved")  # the same approvers are asked again
    # High risk needs a second CAB member: the raised risk gets the approval it needs.
    assert again == ("authorize" if edit.startswith("risk") else "scheduled")


def test_what_was_not_approved_edits_without_a_send_back(desk: Desk) -> None:
    number = _approved(desk)
    record = changes.get_change(desk.session, number)
    same = _edit(
        desk,
        "alice",
        number,
        title="Patch mail-01 (CU14)",
        description="as agreed",
        implementation_plan=record.implementation_plan,  # a form sends every field
        planned_start=record.planned_start,
        planned_end=record.planned_end,
        cis=tuple(record.cis),
    )
    assert same.state == "scheduled"
    assert {a.decision for a in same.approvals} == {"approved"}


def test_material_edits_are_refused_while_the_change_is_implemented(
    desk: Desk, database: Database
) -> None:
    number = _approved(desk)
    _move(desk, "alice", number, "implement", window_override=True, reason="early slot")
    end = desk.clock.now() + timedelta(days=5)
    for fields in ({"planned_end": end}, {"backout_plan": "hope"}, {"test_plan": "none"}):
        refused(
            database,
            InvalidTransition,
            partial(_edit, desk, "alice", number, **fields),
            match="in implement: what was approved",
        )
    assert _edit(desk, "alice", number, description="half done").state == "implement"


def test_a_scheduled_standard_change_moves_its_window_but_keeps_its_template(
    desk: Desk, database: Database
) -> None:
    number = _new(desk, "carl", change_type="standard", assignee="alice")
    _move(desk, "alice", number, "scheduled")
    for fields in ({"backout_plan": "hope"}, {"cis": ()}, {"outage_expected": True}):
        refused(
            database,
            InvalidTransition,
            partial(_edit, desk, "alice", number, **fields),
            match="standard change runs its template",
        )
    moved = _edit(desk, "alice", number, **_later(desk))
    assert (moved.state, moved.planned_start) == ("scheduled", _later(desk)["planned_start"])


def test_only_the_requester_assignee_group_and_change_managers_work_a_change(
    desk: Desk, database: Database
) -> None:
    number = _new(desk)  # alice's, in no group
    for who in ("bob", "sue"):  # an agent of another group; a supervisor outside it
        for attempt in (
            partial(_edit, desk, who, number, title="mine now"),
            partial(_move, desk, who, number, "assess"),
            partial(_move, desk, who, number, "cancelled"),
        ):
            refused(database, PermissionDenied, attempt, match="requester, its assignee")
    assert _edit(desk, "carl", number, title="by the change manager").version == 2
    assert _edit(desk, "root", number, group="Network").group == "Network"
    assert _edit(desk, "bob", number, title="by Network").title == "by Network"
    assert _move(desk, "sue", number, "assess").state == "assess"


def test_whoever_approved_a_change_never_takes_or_implements_it(
    desk: Desk, database: Database
) -> None:
    number = _approved(desk, group="Service Desk")  # sue's group; carl and sue approved
    for who in ("carl", "sue"):
        refused(
            database,
            PermissionDenied,
            partial(_edit, desk, "alice", number, assignee=who),
            match=f"{who} approved this change and may not take it",
        )
        refused(
            database,
            PermissionDenied,
            partial(_edit, desk, who, number, assignee=who),
            match="may not take it",
        )
    early = {"window_override": True, "reason": "early slot"}
    refused(
        database,
        PermissionDenied,
        partial(_move, desk, "sue", number, "implement", **early),
        match="sue approved this change and may not implement it",
    )
    _edit(desk, "alice", number, assignee="bob")  # someone who did not approve
    assert _move(desk, "alice", number, "implement", **early).state == "implement"
    refused(
        database,
        PermissionDenied,
        partial(_move, desk, "carl", number, "review", outcome="successful"),
        match="carl approved this change and may not complete it",
    )
    assert _move(desk, "bob", number, "review", outcome="successful").state == "review"
    assert _move(desk, "carl", number, "closed", review_notes="fine").state == "closed"


def test_a_move_does_not_rebook_a_window_the_approvers_agreed_to(
    desk: Desk, database: Database
) -> None:
    _freeze(desk, hours=20)
    number = _new(desk, change_type="emergency", cis=("vpn-gw-01",))
    _move(desk, "alice", number, "authorize")
    assert _vote(desk, "carl", number, "approved") == "authorize"  # approved, the freeze blocks
    refused(
        database,
        InvalidTransition,
        partial(_move, desk, "alice", number, "scheduled", **_later(desk)),
        match="approvers agreed to its booked window",
    )
    approved = _approved(desk, cis=("vpn-gw-01",), hours=24 * 5)
    refused(
        database,
        InvalidTransition,
        partial(_move, desk, "alice", approved, "implement", **_later(desk, 6)),
        match="approvers agreed to its booked window",
    )


def test_a_scheduled_standard_change_cannot_rebook_its_window_while_it_starts(
    desk: Desk, database: Database
) -> None:
    number = _new(desk, "carl", change_type="standard", assignee="alice", hours=24 * 5)
    _move(desk, "alice", number, "scheduled")
    _freeze(desk, hours=-1)  # a freeze in force now: an edit to this window would clash
    now = desk.clock.now()
    refused(
        database,
        InvalidTransition,
        partial(
            _move,
            desk,
            "alice",
            number,
            "implement",
            planned_start=now - timedelta(minutes=5),
            planned_end=now + timedelta(hours=1),
        ),
        match="move its window as an edit",
    )
    with pytest.raises(InvalidTransition, match="clashes"):
        _edit(desk, "alice", number, planned_start=now + timedelta(minutes=5))
