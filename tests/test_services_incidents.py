"""Incident use cases on SQLite and PostgreSQL: what each writes (audit entries per changed field,
exactly one feed event), what each refuses (and that a refusal writes nothing), the workflow
through the service, optimistic locking and concurrent writers.

The helpers shared with the other service test modules (`mark`, `written`, `footprint`,
`refused`, `make`, `drive`) live in tests/service_helpers.py.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from itsm_tui.services import incidents
from itsm_tui.services.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from itsm_tui.services.incidents import IncidentChanges, IncidentCreate, IncidentQuery
from itsm_tui.services.records import IncidentRecord
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import Incident, User
from tests.conftest import T0, Desk
from tests.service_helpers import HOLD, RESOLUTION, drive, make, mark, refused, written

T1 = T0 + timedelta(hours=1)

# ---------------------------------------------------------------------------- helpers


def fresh(database: Database, number: str) -> IncidentRecord:
    """The incident as another client would read it now."""
    with database.session() as s:
        return incidents.get_incident(s, number)


def incident_id(database: Database, number: str) -> int:
    with database.session() as s:
        return s.execute(select(Incident.id).where(Incident.number == number)).scalar_one()


def iso(at: Any) -> str:
    return at.isoformat()


STATES = ("new", "in_progress", "on_hold", "resolved", "closed", "cancelled")
# The table, written out independently of domain/workflow.py.
ALLOWED = {
    "new": {"in_progress", "on_hold", "resolved", "cancelled"},
    "in_progress": {"on_hold", "resolved", "cancelled"},
    "on_hold": {"in_progress", "resolved"},
    "resolved": {"in_progress", "closed"},
    "closed": set(),
    "cancelled": set(),
}


# ---------------------------------------------------------------------------- create


def test_create_audits_every_set_field_and_publishes_once(desk: Desk, database: Database) -> None:
    before = mark(database)
    record = make(
        desk,
        "alice",
        title="Mail bounces for sales",
        description="Since 9am",
        caller="Carol Caller",
        service="Email",
        ci="mail-01",
        category="email",
        group="Service Desk",
        assignee="alice",
        impact=1,
        urgency=2,
    )
    assert record.number == "INC0000001"
    assert (record.state, record.priority, record.version) == ("new", 2, 1)
    assert record.opened_at == T0
    assert record.opened_by == "alice"
    assert record.major is False
    assert fresh(database, record.number) == record

    w = written(database, before)
    assert w.fields() == {
        "title": (None, "Mail bounces for sales"),
        "description": (None, "Since 9am"),
        "caller": (None, "Carol Caller"),
        "service": (None, "Email"),
        "ci": (None, "mail-01"),
        "category": (None, "email"),
        "impact": (None, "1"),
        "urgency": (None, "2"),
        "priority": (None, "2"),
        "state": (None, "new"),
        "assignee": (None, "alice"),
        "group": (None, "Service Desk"),
        "major": (None, "false"),
    }
    rid = incident_id(database, record.number)
    for entry in w.audit:
        assert (entry.record_type, entry.record_id) == ("incident", rid)
        assert entry.actor_id == desk["alice"].id
        assert entry.at == T0
    event_ = w.one_event()
    assert (event_.record_type, event_.record_id, event_.record_number, event_.action) == (
        "incident",
        rid,
        "INC0000001",
        "create",
    )
    assert event_.actor_id == desk["alice"].id
    assert event_.at == T0
    assert w.journal == []


def test_create_minimal_derives_service_from_ci_and_numbers_in_order(
    desk: Desk, database: Database
) -> None:
    first = make(desk, "bob", group=None, impact=3, urgency=3)
    before = mark(database)
    second = make(desk, "bob", group=None, ci="vpn-gw-01", impact=3, urgency=1)
    assert (first.number, second.number) == ("INC0000001", "INC0000002")
    assert (second.service, second.ci, second.priority) == ("VPN", "vpn-gw-01", 3)
    assert first.priority == 5
    w = written(database, before)
    # Empty description, no caller, no group: nothing to audit for them.
    assert set(w.fields()) == {
        "title",
        "service",
        "ci",
        "impact",
        "urgency",
        "priority",
        "state",
        "major",
    }
    assert w.one_event().record_number == "INC0000002"


# ---------------------------------------------------------------------------- update fields


def test_update_audits_each_changed_field_with_old_and_new(desk: Desk, database: Database) -> None:
    number = make(
        desk, impact=3, urgency=3, service="Email", ci="mail-01", caller="Carol", category="email"
    ).number
    desk.clock.set(T1)
    before = mark(database)
    record = incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        validate(
            IncidentChanges,
            title="VPN drops",
            description="every 10 minutes",
            caller="",
            category="network",
            impact=1,
            service="VPN",
        ),
    )
    assert (record.title, record.impact, record.urgency, record.priority) == ("VPN drops", 1, 3, 3)
    assert (record.service, record.ci, record.caller) == ("VPN", None, None)
    assert record.version == 2
    assert record.updated_at == T1
    assert fresh(database, number) == record
    w = written(database, before)
    assert w.fields() == {
        "title": ("Mail bounces", "VPN drops"),
        "description": (None, "every 10 minutes"),
        "caller": ("Carol", None),
        "category": ("email", "network"),
        "impact": ("3", "1"),
        "priority": ("5", "3"),
        "service": ("Email", "VPN"),
        "ci": ("mail-01", None),  # the old CI belongs to the old service
    }
    assert all(a.at == T1 and a.actor_id == desk["alice"].id for a in w.audit)
    assert w.one_event().action == "update"


def test_update_ci_moves_the_service_with_it(desk: Desk, database: Database) -> None:
    number = make(desk, service="Email").number
    before = mark(database)
    record = incidents.update_incident(
        desk.session, desk["alice"], desk.clock, number, validate(IncidentChanges, ci="vpn-gw-01")
    )
    assert (record.service, record.ci) == ("VPN", "vpn-gw-01")
    w = written(database, before)
    assert w.fields() == {"service": ("Email", "VPN"), "ci": (None, "vpn-gw-01")}
    w.one_event()


def test_update_that_asks_for_nothing_is_refused(desk: Desk, database: Database) -> None:
    number = make(desk, title="Same").number
    for changes in (validate(IncidentChanges, reason="just because"), validate(IncidentChanges)):
        refused(
            database,
            ValidationFailed,
            lambda c=changes: incidents.update_incident(
                desk.session, desk["alice"], desk.clock, number, c
            ),
            match="nothing to change",
        )
    assert fresh(database, number).version == 1


def test_update_to_values_already_set_is_a_silent_no_op(desk: Desk, database: Database) -> None:
    """Scripts re-asserting a state or assignment succeed and write nothing at all."""
    number = make(desk, title="Same").number
    for changes in (
        validate(IncidentChanges, title="Same"),
        validate(IncidentChanges, impact=2, urgency=2),
        validate(IncidentChanges, group="Service Desk"),
        validate(IncidentChanges, state="new"),
        validate(IncidentChanges, state="new", reason="no journal for a no-op"),
    ):
        before = mark(database)
        record = incidents.update_incident(desk.session, desk["alice"], desk.clock, number, changes)
        assert record.version == 1
        w = written(database, before)
        assert (w.audit, w.journal, w.feed) == ([], [], [])
    assert fresh(database, number).version == 1


# ---------------------------------------------------------------------------- assignment


def test_assign_user_and_group(desk: Desk, database: Database) -> None:
    number = make(desk).number
    before = mark(database)
    record = incidents.assign(
        desk.session, desk["sue"], desk.clock, number, assignee="bob", group="Network"
    )
    assert (record.assignee, record.assignee_name, record.group) == ("bob", "bob", "Network")
    w = written(database, before)
    assert w.fields() == {"group": ("Service Desk", "Network"), "assignee": (None, "bob")}
    assert w.one_event().action == "assign"
    assert w.journal == []


def test_moving_group_drops_an_assignee_who_is_not_a_member(desk: Desk, database: Database) -> None:
    number = make(desk, assignee="alice").number
    before = mark(database)
    record = incidents.assign(desk.session, desk["alice"], desk.clock, number, group="Network")
    assert (record.group, record.assignee) == ("Network", None)
    w = written(database, before)
    assert w.fields() == {"group": ("Service Desk", "Network"), "assignee": ("alice", None)}
    w.one_event()

    # sue is in both groups, so she stays assigned when the incident moves back.
    incidents.assign(desk.session, desk["sue"], desk.clock, number, assignee="sue")
    record = incidents.assign(desk.session, desk["sue"], desk.clock, number, group="Service Desk")
    assert (record.group, record.assignee) == ("Service Desk", "sue")


def test_unassign_and_assign_to_me(desk: Desk, database: Database) -> None:
    number = make(desk, assignee="alice").number
    before = mark(database)
    record = incidents.assign(desk.session, desk["alice"], desk.clock, number, assignee="none")
    assert record.assignee is None
    w = written(database, before)
    assert w.fields() == {"assignee": ("alice", None)}
    w.one_event()

    drive(desk, number, "in_progress")
    desk.clock.set(T1)
    before = mark(database)
    record = incidents.assign_to_me(desk.session, desk["alice"], desk.clock, number)
    assert record.assignee == "alice"
    w = written(database, before)
    # Picking up an in-progress incident is the first response.
    assert w.fields() == {"assignee": (None, "alice"), "responded_at": (None, iso(T1))}
    assert w.one_event().action == "assign"
    assert w.one_event().actor_id == desk["alice"].id


def test_assign_needs_an_assignee_or_a_group(desk: Desk, database: Database) -> None:
    number = make(desk).number
    refused(
        database,
        ValidationFailed,
        lambda: incidents.assign(desk.session, desk["sue"], desk.clock, number),
    )


# ---------------------------------------------------------------------------- workflow


def expected_audit(source: str, target: str) -> dict[str, tuple[str | None, str | None]]:
    """What one transition from `source` (reached at T0) to `target` (at T1) must audit."""
    fields: dict[str, tuple[str | None, str | None]] = {"state": (source, target)}
    if target == "on_hold":
        fields["hold_reason"] = (None, "awaiting_caller")
    if source == "on_hold":
        fields["hold_reason"] = ("awaiting_caller", None)
    if target == "resolved":
        fields["resolution_code"] = (None, "solved_permanently")
        fields["resolution_notes"] = (None, "replaced the disk")
        fields["resolved_at"] = (None, iso(T1))
    if target == "closed":
        fields["closed_at"] = (None, iso(T1))
    if (source, target) == ("resolved", "in_progress"):
        fields["resolution_code"] = ("solved_workaround", None)
        fields["resolution_notes"] = ("restarted", None)
        fields["resolved_at"] = (iso(T0), None)
    return fields


def guards_for(source: str, target: str) -> dict[str, str]:
    """Everything the target needs, so only the table itself can refuse."""
    if target == "on_hold":
        return {"hold_reason": "awaiting_caller"}
    if target == "resolved":
        return {"resolution_code": "solved_permanently", "resolution_notes": "replaced the disk"}
    if (source, target) == ("resolved", "in_progress"):
        return {"reason": "the caller says it is back"}
    return {}


@pytest.mark.parametrize("source", STATES)
def test_every_transition_through_the_service(desk: Desk, database: Database, source: str) -> None:
    """From `source`, try every target state: allowed ones write exactly the expected audit
    rows and one feed event; refused ones raise and write nothing."""
    for target in STATES:
        desk.clock.set(T0)
        number = make(desk, title=f"{source} to {target}").number
        version = drive(desk, number, source).version
        desk.clock.set(T1)

        def attempt(target: str = target, number: str = number) -> IncidentRecord:
            extra = guards_for(source, target) if target != source else {}
            return incidents.transition(
                desk.session, desk["alice"], desk.clock, number, target, **extra
            )

        if target in ALLOWED[source]:
            before = mark(database)
            record = attempt()
            assert record.state == target
            assert record.version == version + 1
            assert fresh(database, number) == record
            w = written(database, before)
            assert w.fields() == expected_audit(source, target), (source, target)
            event_ = w.one_event()
            assert (event_.action, event_.record_number) == ("transition", number)
            if (source, target) == ("resolved", "in_progress"):
                assert [(j.kind, j.body) for j in w.journal] == [
                    ("system", "State resolved -> in_progress: the caller says it is back")
                ]
            else:
                assert w.journal == []
        elif target == source and source in ("new", "in_progress", "resolved"):
            # Asking for the state it is already in is an idempotent no-op: nothing written.
            before = mark(database)
            assert attempt().version == version
            w = written(database, before)
            assert (w.audit, w.journal, w.feed) == ([], [], [])
        elif target == source:
            # on_hold needs a (new) hold reason; closed and cancelled can no longer change.
            refused(database, ValidationFailed, attempt)
        else:
            error = refused(database, InvalidTransition, attempt)
            assert number in str(error)
            assert fresh(database, number).version == version


def test_workflow_guards_through_the_service(desk: Desk, database: Database) -> None:
    in_progress = drive(desk, make(desk).number, "in_progress").number
    resolved = drive(desk, make(desk).number, "resolved").number
    on_hold = drive(desk, make(desk).number, "on_hold").number
    cases: list[tuple[str, str, dict[str, str], type[ServiceError], str]] = [
        (in_progress, "on_hold", {}, InvalidTransition, "hold reason"),
        (in_progress, "resolved", {}, InvalidTransition, "resolution code"),
        (
            in_progress,
            "resolved",
            {"resolution_notes": "done"},
            InvalidTransition,
            "resolution code",
        ),
        (
            in_progress,
            "resolved",
            {"resolution_code": "duplicate"},
            InvalidTransition,
            "resolution notes",
        ),
        (
            in_progress,
            "resolved",
            {"resolution_code": "duplicate", "resolution_notes": "  \n "},
            InvalidTransition,
            "resolution notes",
        ),
        (in_progress, "cancelled", {"hold_reason": "awaiting_vendor"}, ValidationFailed, "hold"),
        (
            in_progress,
            "cancelled",
            {"resolution_code": "duplicate"},
            ValidationFailed,
            "resolution",
        ),
        (on_hold, "in_progress", {"hold_reason": "awaiting_vendor"}, ValidationFailed, "hold"),
        (on_hold, "on_hold", {}, InvalidTransition, "already on_hold"),
        (resolved, "in_progress", {}, InvalidTransition, "reason"),
        (resolved, "in_progress", {"reason": "   "}, InvalidTransition, "reason"),
        (resolved, "closed", {"hold_reason": "awaiting_caller"}, ValidationFailed, "hold"),
        (in_progress, "bogus", {}, ValidationFailed, "state"),
        (in_progress, "on_hold", {"hold_reason": "awaiting_godot"}, ValidationFailed, "hold"),
        (
            in_progress,
            "resolved",
            {"resolution_code": "magic", "resolution_notes": "x"},
            ValidationFailed,
            "resolution_code",
        ),
    ]
    for number, target, extra, error, match in cases:
        raised = refused(
            database,
            error,
            lambda n=number, t=target, e=extra: incidents.transition(
                desk.session, desk["sue"], desk.clock, n, t, **e
            ),
            match=match,
        )
        assert type(raised) is error, (target, extra, raised)


def test_a_refused_state_change_takes_the_field_changes_with_it(
    desk: Desk, database: Database
) -> None:
    number = drive(desk, make(desk).number, "in_progress").number
    refused(
        database,
        InvalidTransition,
        lambda: incidents.update_incident(
            desk.session,
            desk["alice"],
            desk.clock,
            number,
            validate(IncidentChanges, title="Renamed", impact=1, state="resolved"),
        ),
    )
    assert fresh(database, number).title == "Mail bounces"


def test_details_of_the_current_state_can_be_corrected(desk: Desk, database: Database) -> None:
    number = drive(desk, make(desk).number, "on_hold").number
    before = mark(database)
    record = incidents.transition(
        desk.session, desk["alice"], desk.clock, number, "on_hold", hold_reason="awaiting_vendor"
    )
    assert (record.state, record.hold_reason) == ("on_hold", "awaiting_vendor")
    w = written(database, before)
    assert w.fields() == {"hold_reason": ("awaiting_caller", "awaiting_vendor")}
    w.one_event()

    before = mark(database)
    incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        validate(IncidentChanges, hold_reason="awaiting_change"),
    )
    assert written(database, before).fields() == {
        "hold_reason": ("awaiting_vendor", "awaiting_change")
    }

    resolved = drive(desk, make(desk).number, "resolved").number
    before = mark(database)
    record = incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        resolved,
        validate(IncidentChanges, resolution_code="duplicate", resolution_notes="see INC1"),
    )
    assert (record.state, record.resolution_code) == ("resolved", "duplicate")
    w = written(database, before)
    assert w.fields() == {
        "resolution_code": ("solved_workaround", "duplicate"),
        "resolution_notes": ("restarted", "see INC1"),
    }
    w.one_event()
    # ...but only the details of the state the incident is in.
    refused(
        database,
        ValidationFailed,
        lambda: incidents.update_incident(
            desk.session,
            desk["alice"],
            desk.clock,
            resolved,
            validate(IncidentChanges, hold_reason="awaiting_caller"),
        ),
    )
    refused(
        database,
        ValidationFailed,
        lambda: incidents.update_incident(
            desk.session,
            desk["alice"],
            desk.clock,
            resolved,
            validate(IncidentChanges, resolution_notes=" "),
        ),
    )


def test_resolved_and_terminal_incidents_refuse_edits(desk: Desk, database: Database) -> None:
    numbers = {s: drive(desk, make(desk).number, s).number for s in STATES[3:]}
    for state, number in numbers.items():
        for changes in (
            validate(IncidentChanges, title="Renamed"),
            validate(IncidentChanges, group="Network"),
        ):
            error = refused(
                database,
                InvalidTransition,
                lambda n=number, c=changes: incidents.update_incident(
                    desk.session, desk["sue"], desk.clock, n, c
                ),
            )
            assert ("reopen" in str(error)) is (state == "resolved")
    for number in (numbers["closed"], numbers["cancelled"]):
        refused(
            database,
            InvalidTransition,
            lambda n=number: incidents.set_major(desk.session, desk["sue"], desk.clock, n, True),
        )


# ---------------------------------------------------------------------------- reopen


def test_reopen_clears_the_resolution_and_journals_the_reason(
    desk: Desk, database: Database
) -> None:
    number = drive(desk, make(desk, assignee="alice").number, "resolved").number
    desk.clock.set(T1)
    before = mark(database)
    record = incidents.reopen(
        desk.session, desk["alice"], desk.clock, number, reason="still bouncing"
    )
    assert record.state == "in_progress"
    assert (record.resolution_code, record.resolution_notes, record.resolved_at) == (
        None,
        None,
        None,
    )
    w = written(database, before)
    assert w.fields() == {
        "state": ("resolved", "in_progress"),
        "resolution_code": ("solved_workaround", None),
        "resolution_notes": ("restarted", None),
        "resolved_at": (iso(T0), None),
        # The assignee was set before, so reaching in_progress counts as the response.
        "responded_at": (None, iso(T1)),
    }
    assert w.one_event().action == "reopen"
    assert [(j.kind, j.author_id) for j in w.journal] == [("system", desk["alice"].id)]
    assert "still bouncing" in w.journal[0].body


def test_reopen_refusals(desk: Desk, database: Database) -> None:
    for state in ("new", "in_progress", "on_hold", "closed", "cancelled"):
        number = drive(desk, make(desk).number, state).number
        refused(
            database,
            InvalidTransition,
            lambda n=number: incidents.reopen(
                desk.session, desk["sue"], desk.clock, n, reason="again"
            ),
            match="only resolved",
        )
    number = drive(desk, make(desk).number, "resolved").number
    for reason in ("", "   "):
        refused(
            database,
            InvalidTransition,
            lambda r=reason: incidents.reopen(
                desk.session, desk["sue"], desk.clock, number, reason=r
            ),
            match="reason",
        )
    refused(
        database,
        NotFound,
        lambda: incidents.reopen(desk.session, desk["sue"], desk.clock, "INC9999999", reason="x"),
    )


# ---------------------------------------------------------------------------- major


def test_set_major_audits_and_journals(desk: Desk, database: Database) -> None:
    number = make(desk).number
    before = mark(database)
    record = incidents.set_major(
        desk.session, desk["sue"], desk.clock, number, True, reason="whole floor down"
    )
    assert record.major is True
    w = written(database, before)
    assert w.fields() == {"major": ("false", "true")}
    assert w.one_event().action == "major"
    assert [j.kind for j in w.journal] == ["system"]
    assert "whole floor down" in w.journal[0].body

    before = mark(database)
    assert incidents.set_major(desk.session, desk["sue"], desk.clock, number, True).major
    w = written(database, before)
    assert (w.audit, w.journal, w.feed) == ([], [], [])  # already major: nothing written
    before = mark(database)
    assert not incidents.set_major(desk.session, desk["root"], desk.clock, number, False).major
    w = written(database, before)
    assert w.fields() == {"major": ("true", "false")}
    assert w.journal == []  # no reason given, nothing to journal
    w.one_event()


# ---------------------------------------------------------------------------- notes


def test_work_note_is_journaled_and_published(desk: Desk, database: Database) -> None:
    number = make(desk, group="Network").number
    desk.clock.set(T1)
    before = mark(database)
    # Notes go anywhere: alice is not in Network.
    note = incidents.add_note(desk.session, desk["alice"], desk.clock, number, "checked logs")
    assert (note.kind, note.author, note.body, note.created_at) == (
        "work_note",
        "alice",
        "checked logs",
        T1,
    )
    w = written(database, before)
    assert w.audit == []
    assert [(j.kind, j.body, j.author_id, j.record_type) for j in w.journal] == [
        ("work_note", "checked logs", desk["alice"].id, "incident")
    ]
    assert w.one_event().action == "work_note"
    record = fresh(database, number)
    # A note is not an edit: the row (and its version) stays as it was.
    assert (record.updated_at, record.responded_at, record.version) == (T0, None, 1)
    detail = incidents.incident_detail(desk.session, number)
    assert [(j.kind, j.author, j.body) for j in detail.journal] == [
        ("work_note", "alice", "checked logs")
    ]


def test_first_comment_counts_as_the_response(desk: Desk, database: Database) -> None:
    number = make(desk).number
    desk.clock.set(T1)
    before = mark(database)
    note = incidents.add_note(
        desk.session, desk["alice"], desk.clock, number, "We are on it", comment=True
    )
    assert note.kind == "comment"
    w = written(database, before)
    assert w.fields() == {"responded_at": (None, iso(T1))}
    assert [j.kind for j in w.journal] == ["comment"]
    assert w.one_event().action == "comment"

    desk.clock.advance(minutes=5)
    before = mark(database)
    incidents.add_note(desk.session, desk["bob"], desk.clock, number, "Still on it", comment=True)
    w = written(database, before)
    assert w.audit == []  # the response time is kept from the first comment
    assert len(w.journal) == 1
    w.one_event()
    assert fresh(database, number).responded_at == T1


def test_note_refusals(desk: Desk, database: Database) -> None:
    number = make(desk).number
    for text in ("", "  \n\t", "nul \x00 byte"):
        refused(
            database,
            ValidationFailed,
            lambda t=text: incidents.add_note(desk.session, desk["alice"], desk.clock, number, t),
        )
    for state in ("closed", "cancelled"):
        done = drive(desk, make(desk).number, state).number
        refused(
            database,
            ValidationFailed,
            lambda n=done: incidents.add_note(desk.session, desk["sue"], desk.clock, n, "late"),
            match=state,
        )
    refused(
        database,
        NotFound,
        lambda: incidents.add_note(desk.session, desk["sue"], desk.clock, "INC0000099", "x"),
    )
    # Resolved incidents still take notes (the caller may answer before closure).
    resolved = drive(desk, make(desk).number, "resolved").number
    incidents.add_note(desk.session, desk["alice"], desk.clock, resolved, "confirmed fixed")


# ---------------------------------------------------------------------------- escalation


def test_escalate_to_the_escalation_group(desk: Desk, database: Database) -> None:
    number = drive(desk, make(desk, assignee="alice").number, "in_progress").number
    desk.clock.set(T1)
    before = mark(database)
    record = incidents.escalate(
        desk.session, desk["alice"], desk.clock, number, reason="needs a firewall change"
    )
    assert (record.group, record.assignee, record.state) == ("Network", None, "in_progress")
    w = written(database, before)
    assert w.fields() == {"group": ("Service Desk", "Network"), "assignee": ("alice", None)}
    event_ = w.one_event()
    assert (event_.action, event_.actor_id) == ("escalate", desk["alice"].id)
    assert [(j.kind, j.body) for j in w.journal] == [
        ("system", "Escalated from Service Desk to Network: needs a firewall change")
    ]


def test_escalate_to_a_named_group_and_from_no_group(desk: Desk, database: Database) -> None:
    number = make(desk, group=None).number
    before = mark(database)
    record = incidents.escalate(
        desk.session, desk["bob"], desk.clock, number, reason="security issue", to_group="Security"
    )
    assert record.group == "Security"
    w = written(database, before)
    assert w.fields() == {"group": (None, "Security")}
    w.one_event()
    assert "(no group) to Security" in w.journal[0].body


def test_escalate_refusals(desk: Desk, database: Database) -> None:
    def escalate(number: str, **kwargs: Any) -> Callable[[], object]:
        kwargs.setdefault("reason", "help")
        return lambda: incidents.escalate(desk.session, desk["sue"], desk.clock, number, **kwargs)

    top = make(desk, group="Security").number
    loose = make(desk, group=None).number
    desk_incident = make(desk).number
    refused(database, ValidationFailed, escalate(top), match="no escalation group")
    refused(database, ValidationFailed, escalate(loose), match="no group")
    refused(database, ValidationFailed, escalate(desk_incident, to_group="Service Desk"))
    refused(database, ValidationFailed, escalate(desk_incident, to_group="Nowhere"))
    refused(database, ValidationFailed, escalate(desk_incident, reason=""))
    refused(database, ValidationFailed, escalate(desk_incident, reason=" \n "))
    refused(database, NotFound, escalate("INC0000404"))
    for state in ("resolved", "closed", "cancelled"):
        number = drive(desk, make(desk).number, state).number
        refused(database, InvalidTransition, escalate(number), match="only open")


# ---------------------------------------------------------------------------- versions and locking


def test_each_write_moves_the_version_by_exactly_one(desk: Desk, database: Database) -> None:
    """Every edit bumps the version once; notes leave the row alone (a note is not an edit,
    and bumping would turn a colleague's concurrent reassignment into a conflict)."""
    number = make(desk).number
    s, clock = desk.session, desk.clock
    alice, bob = desk["alice"], desk["bob"]
    steps: list[tuple[int, Callable[[], object]]] = [
        (1, lambda: incidents.update_incident(
            s, alice, clock, number, validate(IncidentChanges, impact=1)
        )),
        (1, lambda: incidents.assign_to_me(s, alice, clock, number)),
        (1, lambda: incidents.transition(s, alice, clock, number, "on_hold", **HOLD)),
        (1, lambda: incidents.transition(s, alice, clock, number, "in_progress")),
        (0, lambda: incidents.add_note(s, alice, clock, number, "note")),
        (0, lambda: incidents.add_note(s, alice, clock, number, "hi", comment=True)),
        (1, lambda: incidents.escalate(s, alice, clock, number, reason="r")),
        (1, lambda: incidents.set_major(s, desk["sue"], clock, number, True)),
        (1, lambda: incidents.transition(s, bob, clock, number, "resolved", **RESOLUTION)),
        (1, lambda: incidents.reopen(s, bob, clock, number, reason="back")),
    ]  # fmt: skip
    expected = 1
    for bump, step in steps:
        desk.clock.advance(minutes=1)
        before = mark(database)
        result = step()
        expected += bump
        assert fresh(database, number).version == expected
        if isinstance(result, IncidentRecord):
            assert result.version == expected
        written(database, before).one_event()


def test_stale_expected_version_is_a_conflict_and_writes_nothing(
    desk: Desk, database: Database
) -> None:
    number = make(desk).number
    resolved = drive(desk, make(desk).number, "resolved").number  # at version 2
    incidents.update_incident(
        desk.session, desk["alice"], desk.clock, number, validate(IncidentChanges, title="v2")
    )
    s, clock = desk.session, desk.clock
    stale: dict[str, Callable[[], object]] = {
        "update": lambda: incidents.update_incident(
            s, desk["alice"], clock, number, validate(IncidentChanges, title="x"), expect_version=1
        ),
        "assign": lambda: incidents.assign(
            s, desk["alice"], clock, number, group="Network", expect_version=1
        ),
        "assign_to_me": lambda: incidents.assign_to_me(
            s, desk["alice"], clock, number, expect_version=1
        ),
        "transition": lambda: incidents.transition(
            s, desk["alice"], clock, number, "in_progress", expect_version=1
        ),
        "major": lambda: incidents.set_major(s, desk["sue"], clock, number, True, expect_version=1),
        "escalate": lambda: incidents.escalate(
            s, desk["alice"], clock, number, reason="r", expect_version=1
        ),
        "reopen": lambda: incidents.reopen(
            s, desk["alice"], clock, resolved, reason="r", expect_version=1
        ),
        "future": lambda: incidents.update_incident(
            s, desk["alice"], clock, number, validate(IncidentChanges, title="x"), expect_version=3
        ),
    }
    for name, call in stale.items():
        error = refused(database, Conflict, call)
        assert "version" in str(error), name
        assert error.exit_code == 5
    assert fresh(database, number).title == "v2"

    record = incidents.update_incident(
        s, desk["alice"], clock, number, validate(IncidentChanges, title="v3"), expect_version=2
    )
    assert (record.title, record.version) == ("v3", 3)
    record = incidents.reopen(s, desk["alice"], clock, resolved, reason="r", expect_version=2)
    assert (record.state, record.version) == ("in_progress", 3)


def test_two_sessions_saving_the_same_loaded_incident(desk: Desk, database: Database) -> None:
    """Both load version 1 and both save: the second save is a Conflict, not a lost update."""
    number = make(desk).number
    desk.session.rollback()  # SQLite: do not hold the write lock while the others work
    first, second = database.session(), database.session()
    try:
        # Each read ends its transaction (SQLite: releases the lock); the objects stay loaded.
        mine = first.scalars(select(Incident).where(Incident.number == number)).one()
        first.commit()
        theirs = second.scalars(select(Incident).where(Incident.number == number)).one()
        second.commit()
        assert mine.version == theirs.version == 1

        with transaction(first):
            mine.title = "first writer"
        with pytest.raises(Conflict, match="reload"), transaction(second):
            theirs.title = "second writer"
    finally:
        first.close()
        second.close()
    record = fresh(database, number)
    assert (record.title, record.version) == ("first writer", 2)


def test_a_long_lived_session_sees_other_clients_changes(desk: Desk, database: Database) -> None:
    """A session (say, the app's) still holding an old copy of the incident must read and
    version-check the current row, not its copy: no stale reads, no spurious Conflict."""
    number = make(desk).number
    held = desk.session.scalars(select(Incident).where(Incident.number == number)).one()
    sue_id = desk["sue"].id
    desk.session.commit()  # the copy stays loaded; SQLite's lock is released
    with database.session() as other:
        sue = other.get(User, sue_id)
        incidents.update_incident(
            other, sue, desk.clock, number, validate(IncidentChanges, title="by another client")
        )
    assert held.version == 1  # still the old copy

    record = incidents.get_incident(desk.session, number)
    assert (record.title, record.version) == ("by another client", 2)
    desk.session.commit()
    record = incidents.update_incident(
        desk.session, desk["alice"], desk.clock, number, validate(IncidentChanges, urgency=1)
    )
    assert (record.title, record.urgency, record.version) == ("by another client", 1, 3)
    record = incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        validate(IncidentChanges, urgency=3),
        expect_version=3,
    )
    assert record.version == 4


def test_concurrent_writers_expecting_the_same_version(desk: Desk, database: Database) -> None:
    """Two clients race from the same read: exactly one wins, the other gets Conflict and
    nothing of it is kept."""
    number = make(desk).number
    alice_id = desk["alice"].id
    desk.session.rollback()  # SQLite: do not hold the write lock while the clients race
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def client(name: str, title: str) -> None:
        with database.session() as s:
            actor = s.get(User, alice_id)
            assert actor is not None
            s.rollback()
            barrier.wait()
            try:
                outcomes[name] = incidents.update_incident(
                    s,
                    actor,
                    desk.clock,
                    number,
                    validate(IncidentChanges, title=title),
                    expect_version=1,
                )
            except ServiceError as error:
                outcomes[name] = error

    before = mark(database)
    threads = [threading.Thread(target=client, args=(n, f"by {n}")) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)

    wins = [o for o in outcomes.values() if isinstance(o, IncidentRecord)]
    losses = [o for o in outcomes.values() if not isinstance(o, IncidentRecord)]
    assert len(wins) == 1, outcomes
    assert len(losses) == 1 and isinstance(losses[0], Conflict), outcomes
    record = fresh(database, number)
    assert (record.title, record.version) == (wins[0].title, 2)
    w = written(database, before)
    assert w.fields() == {"title": ("Mail bounces", wins[0].title)}
    w.one_event()


def test_concurrent_writers_without_expected_versions_queue_and_all_land(
    desk: Desk, database: Database
) -> None:
    """Writers that did not ask for a version check must not fail just because someone else
    wrote first: each write locks the row it read (PostgreSQL) or the database (SQLite), so
    they queue, every one lands, and the version counts every write exactly once."""
    number = make(desk).number
    alice_id = desk["alice"].id
    desk.session.rollback()
    writers, writes_each = 4, 5
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            with database.session() as s:
                actor = s.get(User, alice_id)
                assert actor is not None
                s.rollback()
                barrier.wait()
                for n in range(writes_each):
                    incidents.update_incident(
                        s,
                        actor,
                        desk.clock,
                        number,
                        validate(IncidentChanges, title=f"w{index}-{n}"),
                    )
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    before = mark(database)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    total = writers * writes_each
    assert fresh(database, number).version == 1 + total
    w = written(database, before)
    assert len(w.audit) == total and len(w.feed) == total
    # The audit trail chains: each write's old title is the previous write's new title.
    titles = [(a.old_value, a.new_value) for a in w.audit]
    assert all(prev[1] == cur[0] for prev, cur in itertools.pairwise(titles))


# ---------------------------------------------------------------------------- bad input


def test_create_refuses_bad_input_and_writes_nothing(desk: Desk, database: Database) -> None:
    good = {"title": "Printer jam", "impact": 2, "urgency": 2}
    cases: list[dict[str, Any]] = [
        {"title": ""},
        {"title": "   "},
        {"title": "two\nlines"},
        {"title": "carriage\rreturn"},
        {"title": "tab\there"},
        {"title": "bell\x07"},
        {"title": "esc \x1b[31m red"},
        {"title": "line\u2028separator"},
        {"title": "x" * 201},
        {"title": None},
        {"description": "nul \x00 inside"},
        {"description": "lone \ud800 surrogate"},
        {"impact": 7},
        {"impact": 0},
        {"urgency": 4},
        {"impact": "high"},
        {"group": "Nowhere"},
        {"service": "Fax"},
        {"ci": "ghost-01"},
        {"assignee": "nobody"},
        {"assignee": "vic"},  # viewers take no incidents
        {"assignee": "bob", "group": "Service Desk"},  # bob is not in Service Desk
        {"ci": "mail-01", "service": "VPN"},  # mail-01 belongs to Email
        {"caller": "two\nlines"},
        {"category": "c" * 61},
        {"priority": 1},  # derived, never typed in
    ]
    for overrides in cases:
        values = {k: v for k, v in {**good, **overrides}.items() if v is not None}
        error = refused(
            database,
            ValidationFailed,
            lambda v=values: incidents.create_incident(
                desk.session, desk["alice"], desk.clock, validate(IncidentCreate, **v)
            ),
        )
        assert error.exit_code == 2
        assert str(error), overrides
    # The number sequence did not move either: the next incident is the first.
    assert make(desk).number == "INC0000001"


def test_update_refuses_bad_input_and_leaves_the_record(desk: Desk, database: Database) -> None:
    number = make(desk, service="Email", assignee="alice").number
    cases: list[dict[str, Any]] = [
        {"title": ""},
        {"title": "two\nlines"},
        {"description": "\x00"},
        {"impact": 7},
        {"urgency": 0},
        {"group": "Nowhere"},
        {"service": "Fax"},
        {"ci": "ghost-01"},
        {"assignee": "nobody"},
        {"assignee": "vic"},
        {"assignee": "bob"},  # not in Service Desk
        {"assignee": "bob", "group": "Security"},  # nor in Security
        {"ci": "vpn-gw-01", "service": "Email"},
        {"state": "reopened"},
        {"major": "maybe"},
        {"owner": "alice"},  # unknown field
    ]
    for values in cases:
        refused(
            database,
            ValidationFailed,
            lambda v=values: incidents.update_incident(
                desk.session, desk["sue"], desk.clock, number, validate(IncidentChanges, **v)
            ),
        )
    assert fresh(database, number).version == 1


def test_list_refuses_bad_queries(desk: Desk, database: Database) -> None:
    make(desk)
    for values in (
        {"limit": 0},
        {"limit": -1},
        {"limit": 1001},
        {"states": ["open"]},
        {"priorities": [6]},
        {"search": "two\nlines"},
    ):
        with pytest.raises(ValidationFailed):
            validate(IncidentQuery, **values)
    for values in ({"group": "Nowhere"}, {"assignee": "nobody"}):
        refused(
            database,
            ValidationFailed,
            lambda v=values: incidents.list_incidents(
                desk.session, desk["vic"], validate(IncidentQuery, **v)
            ),
        )


def test_unknown_incident_is_not_found(desk: Desk, database: Database) -> None:
    s, clock, sue = desk.session, desk.clock, desk["sue"]
    calls: list[Callable[[], object]] = [
        lambda: incidents.get_incident(s, "INC0000042"),
        lambda: incidents.incident_detail(s, "INC0000042"),
        lambda: incidents.update_incident(
            s, sue, clock, "INC0000042", validate(IncidentChanges, title="x")
        ),
        lambda: incidents.assign_to_me(s, sue, clock, "INC0000042"),
        lambda: incidents.transition(s, sue, clock, "INC0000042", "in_progress"),
        lambda: incidents.set_major(s, sue, clock, "INC0000042", True),
    ]
    for call in calls:
        error = refused(database, NotFound, call)
        assert error.exit_code == 3


# ---------------------------------------------------------------------------- reading


def test_list_filters(desk: Desk, database: Database) -> None:
    a = make(desk, title="Mail 100% down", impact=1, urgency=1, assignee="alice").number
    desk.clock.advance(minutes=1)
    b = make(desk, title="VPN slow_ish", group="Network").number
    desk.clock.advance(minutes=1)
    c = make(desk, title="Printer", group=None, impact=3, urgency=3).number
    drive(desk, b, "in_progress")

    def numbers(actor: str = "alice", **query: Any) -> list[str]:
        found = incidents.list_incidents(
            desk.session, desk[actor], validate(IncidentQuery, **query)
        )
        return [r.number for r in found]

    assert numbers() == [c, b, a]  # newest first
    assert numbers(limit=2) == [c, b]
    assert numbers(states=["in_progress"]) == [b]
    assert numbers(priorities=[1, 5]) == [c, a]
    assert numbers(group="Network") == [b]
    assert numbers(assignee="me") == [a]
    assert numbers("bob", assignee="me") == []
    assert numbers(assignee="alice") == [a]
    assert numbers(assignee="none") == [c, b]
    assert numbers(search="100%") == [a]  # LIKE wildcards are matched literally
    assert numbers(search="slow_") == [b]
    assert numbers(search="%") == [a]
    assert numbers(search=a.lower()) == [a]
    assert numbers("vic") == [c, b, a]  # viewers read everything


# ---------------------------------------------------------------------------- random walks


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.sampled_from(STATES), st.booleans()), min_size=1, max_size=6))
def test_random_walks_through_the_service(
    desk: Desk, database: Database, steps: list[tuple[str, bool]]
) -> None:
    """Each example walks a fresh incident; after every step the stored incident, its audit
    and the feed agree with a model of the rules."""
    number = make(desk).number
    state = "new"
    version = 1
    for target, with_guards in steps:
        if target == state:
            continue
        extra = guards_for(state, target) if with_guards else {}
        needs_guard = target in ("on_hold", "resolved") or (state, target) == (
            "resolved",
            "in_progress",
        )
        allowed = target in ALLOWED[state] and (with_guards or not needs_guard)
        before = mark(database)
        if allowed:
            record = incidents.transition(
                desk.session, desk["sue"], desk.clock, number, target, **extra
            )
            w = written(database, before)
            assert w.fields()["state"] == (state, target)
            w.one_event()
            state, version = target, version + 1
        else:
            refused(
                database,
                InvalidTransition,
                lambda t=target, e=extra: incidents.transition(
                    desk.session, desk["sue"], desk.clock, number, t, **e
                ),
            )
        record = fresh(database, number)
        assert (record.state, record.version) == (state, version)
        assert (record.hold_reason is not None) is (state == "on_hold")
        assert (record.resolution_code is not None) is (state in ("resolved", "closed"))
        assert (record.resolved_at is not None) is (state in ("resolved", "closed"))
        assert (record.closed_at is not None) is (state == "closed")


# ---------------------------------------------------------------------------- edge cases


def test_search_folds_case_beyond_ascii(desk: Desk) -> None:
    number = make(desk, title="Drucker im Büro ÜBERHITZT").number
    make(desk, title="Unrelated")
    for text in ("ÜBERHITZT", "überhitzt", "büro"):
        query = validate(incidents.IncidentQuery, search=text)
        found = incidents.list_incidents(desk.session, desk["alice"], query)
        assert [r.number for r in found] == [number], text


def test_resolution_details_are_refused_when_staying_on_hold(
    desk: Desk, database: Database
) -> None:
    number = drive(desk, make(desk).number, "on_hold").number
    changes = validate(
        IncidentChanges,
        state="on_hold",
        hold_reason="awaiting_vendor",
        resolution_code="duplicate",
        resolution_notes="x",
    )
    refused(
        database,
        ValidationFailed,
        lambda: incidents.update_incident(desk.session, desk["alice"], desk.clock, number, changes),
        match="only apply with --state resolved",
    )


def test_assignee_me_means_the_acting_user(desk: Desk) -> None:
    created = make(desk, assignee="me")
    assert created.assignee == "alice"
    other = make(desk, group="Network", actor="bob")
    changed = incidents.update_incident(
        desk.session,
        desk["bob"],
        desk.clock,
        other.number,
        validate(IncidentChanges, assignee="me"),
    )
    assert changed.assignee == "bob"
