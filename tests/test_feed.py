"""The change feed as a client reads it: every write appears once, in order, after the
position the client last saw."""

from __future__ import annotations

from itsm_tui.services import incidents
from itsm_tui.services.validation import validate
from itsm_tui.store.feed import events_since, latest_event_id
from tests.conftest import Desk


def test_client_sees_each_write_once_in_order(desk: Desk) -> None:
    session, clock, alice = desk.session, desk.clock, desk["alice"]
    start = latest_event_id(session)
    assert start > 0  # seeding the directory published events too

    created = incidents.create_incident(
        session,
        alice,
        clock,
        validate(incidents.IncidentCreate, title="Disk full", impact=2, urgency=2),
    )
    clock.advance(minutes=5)
    incidents.add_note(session, alice, clock, created.number, "Looking")
    clock.advance(minutes=5)
    incidents.assign_to_me(session, alice, clock, created.number)

    events = events_since(session, start)
    assert [(e.record_number, e.action) for e in events] == [
        (created.number, "create"),
        (created.number, "work_note"),
        (created.number, "assign"),
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events_since(session, events[-1].id) == []
    assert latest_event_id(session) == events[-1].id
    assert len(events_since(session, start, limit=2)) == 2
