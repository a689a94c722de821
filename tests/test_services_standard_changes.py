"""Who may raise a standard change, on both engines (issue 16, review of point 3).

A standard change goes from new straight to scheduled with no CAB vote: its approval is the
template change management agreed to. Until there is a catalogue of such templates, the change
manager is the template: only change managers and admins file a standard change, make a change
standard, or change a standard change's plan. Anyone else is refused (nothing written) and
told to file it as a normal change for CAB approval; without this an agent could skip the CAB
by filing any plan, even one the CAB just rejected, as standard.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from itsm_tui.services import changes
from itsm_tui.services.errors import PermissionDenied
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from tests.conftest import Desk
from tests.service_helpers import refused
from tests.test_services_changes import _move, _new, _vote

RAISE = "a change manager must raise standard changes"


def _edit(desk: Desk, user: str, number: str, **fields: object) -> changes.ChangeRecord:
    data = validate(changes.ChangeUpdate, **fields)
    return changes.update_change(desk.session, desk[user], desk.clock, number, data)


@pytest.mark.parametrize("who", ["alice", "sue"])
def test_only_change_managers_and_admins_file_a_standard_change(
    desk: Desk, database: Database, who: str
) -> None:
    error = refused(
        database, PermissionDenied, partial(_new, desk, who, change_type="standard"), match=RAISE
    )
    assert "file it as a normal change for CAB approval" in str(error)
    assert error.exit_code == 4
    for manager in ("carl", "root"):
        record = changes.get_change(desk.session, _new(desk, manager, change_type="standard"))
        assert (record.change_type, record.requested_by) == ("standard", manager)


def test_a_plan_the_cab_rejected_cannot_be_refiled_or_retyped_as_standard(
    desk: Desk, database: Database
) -> None:
    """The review's path: the CAB rejects alice's plan; she may neither turn that change
    standard nor file the same plan again as a new standard change."""
    number = _new(desk, "alice")
    _move(desk, "alice", number, "assess")
    _move(desk, "alice", number, "authorize")
    assert _vote(desk, "carl", number, "rejected", "no tested backout") == "new"
    refused(
        database,
        PermissionDenied,
        partial(_edit, desk, "alice", number, change_type="standard"),
        match=RAISE,
    )
    refused(database, PermissionDenied, partial(_new, desk, "alice", change_type="standard"))
    assert changes.get_change(desk.session, number).change_type == "normal"
    # A change manager may make it standard, taking the template's place.
    assert _edit(desk, "carl", number, change_type="standard").change_type == "standard"


def test_the_assignee_books_a_standard_change_but_does_not_rewrite_its_plan(
    desk: Desk, database: Database
) -> None:
    """carl raises it for alice: she may reword it, move its window and schedule it (the
    template lets it be booked where it fits), but its plan, CIs and risk are carl's; making
    it normal is hers to do, since that only adds the CAB."""
    number = _new(desk, "carl", change_type="standard", assignee="alice")
    for plan in (
        {"implementation_plan": "something else entirely"},
        {"cis": ("vpn-gw-01",)},
        {"outage_expected": True},
    ):
        refused(
            database,
            PermissionDenied,
            partial(_edit, desk, "alice", number, **plan),
            match="a standard change's plan is its change manager's",
        )
    later = desk.clock.now() + timedelta(days=2)
    edited = _edit(
        desk,
        "alice",
        number,
        title="Patch mail-01 (CU14)",
        planned_start=later,
        planned_end=later + timedelta(hours=1),
    )
    assert (edited.title, edited.planned_start) == ("Patch mail-01 (CU14)", later)
    assert _move(desk, "alice", number, "scheduled").state == "scheduled"

    other = _new(desk, "carl", change_type="standard", assignee="alice")
    made_normal = _edit(desk, "alice", other, change_type="normal", implementation_plan="mine")
    assert (made_normal.change_type, made_normal.implementation_plan) == ("normal", "mine")
