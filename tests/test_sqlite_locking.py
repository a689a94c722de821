"""SQLite write-lock hygiene: a session that read or wrote and then sits idle (the TUI keeps
one open all day) must not block other clients' writes."""

from __future__ import annotations

from itsm_tui.services import incidents
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import User
from tests.conftest import Desk


def _new(desk: Desk, title: str) -> str:
    data = validate(incidents.IncidentCreate, title=title, impact=3, urgency=3)
    return incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number


def test_idle_session_after_a_write_does_not_block_another_writer(
    desk: Desk, database: Database
) -> None:
    number = _new(desk, "first")  # desk.session wrote, then read the record back; now idle
    incidents.get_incident(desk.session, number)  # and read again, leaving a transaction open
    assert desk.session.in_transaction()

    with database.session() as other:
        sue = other.get(User, desk["sue"].id)
        assert sue is not None
        record = incidents.add_note(other, sue, desk.clock, number, "from another client")
    assert record.body == "from another client"
    # ...and the idle session can still write afterwards.
    assert _new(desk, "second").endswith("2")
