"""The change detail, its dialogs and the change form through Textual's pilot.

Keys are pressed as a change manager or agent would; what was written is then checked through
the services, so the screen is only trusted once the database agrees. Few app runs, several
steps each: the rules themselves are tested at the service level.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input, Select, TextArea

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import ApprovalDecision, ChangeState
from itsm_tui.screens.change_detail import ChangeDetailScreen
from itsm_tui.screens.change_dialogs import (
    CausedByDialog,
    ChangeConflictDialog,
    ChangeNoteDialog,
    ChangeStateDialog,
    VoteDialog,
)
from itsm_tui.screens.change_form import ChangeFormScreen
from itsm_tui.screens.incident_detail import IncidentDetailScreen
from itsm_tui.services import change_history, changes
from itsm_tui.services.changes import ChangeCreate, ChangeMove, ChangeUpdate
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from tests.conftest import T0, Desk
from tests.tui_helpers import app_for, create, seeded_desk, settle, until

START = T0 + timedelta(days=2, hours=13)  # Wednesday 22:00 UTC


@pytest.fixture
def world(sqlite_url: str, clock: FixedClock) -> Iterator[tuple[Database, Desk]]:
    database, desk = seeded_desk(sqlite_url, clock)
    yield database, desk
    desk.session.close()
    database.dispose()


def request(desk: Desk, title: str, *, day: int = 0, **fields: Any) -> str:
    """A change alice requested, planned `day` days after START, with its plans written."""
    start = START + timedelta(days=day)
    values: dict[str, Any] = {
        "title": title,
        "service": "VPN",
        "cis": ("vpn-gw-01",),
        "planned_start": start,
        "planned_end": start + timedelta(hours=2),
        "implementation_plan": "upgrade",
        "backout_plan": "downgrade",
        "test_plan": "ping",
    }
    values.update(fields)
    data = validate(ChangeCreate, **values)
    return changes.create_change(desk.session, desk["alice"], desk.clock, data).number


def to_authorize(desk: Desk, number: str) -> None:
    for state in (ChangeState.ASSESS, ChangeState.AUTHORIZE):
        changes.move_change(
            desk.session, desk["alice"], desk.clock, number, ChangeMove(state=state)
        )


def state(desk: Desk, number: str) -> str:
    desk.session.rollback()  # a fresh read, not the open transaction's snapshot
    return changes.get_change(desk.session, number).state


def shown(app: ITSMApp, selector: str) -> str:
    """What a widget draws, as plain text (line by line, joined)."""
    widget = app.screen.query_one(selector)
    strips = widget.render_lines(Region(0, 0, *widget.region.size))
    return "\n".join(strip.text.rstrip() for strip in strips).strip()


async def open_change(app: ITSMApp, pilot: Pilot[Any], number: str) -> ChangeDetailScreen:
    app.open_change(number)
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, ChangeDetailScreen) and screen.record is not None
    return screen


async def test_approval_flow(world: tuple[Database, Desk], sqlite_url: str) -> None:
    _database, desk = world
    approve_me = request(desk, "Upgrade VPN gateway")
    reject_me = request(desk, "Patch VPN gateway", day=1)
    for number in (approve_me, reject_me):
        to_authorize(desk, number)

    # An agent is offered no vote: the keys are not bound for them, pressing does nothing.
    agent = app_for(sqlite_url, desk.clock, "bob")
    async with agent.run_test(size=(100, 40)) as pilot:
        screen = await open_change(agent, pilot, approve_me)
        assert "a" not in screen.active_bindings and "r" not in screen.active_bindings
        assert "s" in screen.active_bindings
        await pilot.press("a")
        await settle(pilot)
        assert agent.screen is screen
    assert state(desk, approve_me) == "authorize"

    manager = app_for(sqlite_url, desk.clock, "carl")
    async with manager.run_test(size=(100, 40)) as pilot:
        screen = await open_change(manager, pilot, approve_me)
        assert "a" in screen.active_bindings
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(manager.screen, VoteDialog)
        await pilot.press(*"fine", "enter")
        await settle(pilot)
        assert manager.screen is screen
        assert shown(manager, "#change-state") == "scheduled"
        assert "carl" in shown(manager, "#change-approvals")
        assert "a" not in screen.active_bindings  # nothing left to vote on
        assert state(desk, approve_me) == "scheduled"

        await pilot.press("escape")
        screen = await open_change(manager, pilot, reject_me)
        await pilot.press("r", "enter")  # no comment: refused inline, nothing written
        await settle(pilot)
        dialog = manager.screen
        assert isinstance(dialog, VoteDialog)
        assert "needs a comment" in dialog.error
        assert state(desk, reject_me) == "authorize"
        dialog.query_one("#vote-comment", Input).value = "no tested backout"
        await pilot.press("enter")
        await settle(pilot)
        assert manager.screen is screen
        assert shown(manager, "#change-state") == "new"
    assert state(desk, reject_me) == "new"
    journal = [entry.body for entry in changes_history(desk, reject_me)]
    assert "rejected: no tested backout" in journal


def changes_history(desk: Desk, number: str) -> list[Any]:
    from itsm_tui.services.change_history import change_history

    return change_history(desk.session, number).journal


async def test_state_dialog_shows_the_service_refusal(
    world: tuple[Database, Desk], sqlite_url: str
) -> None:
    _database, desk = world
    bare = request(desk, "No plans yet", implementation_plan="", backout_plan="", test_plan="")
    incident = create(desk.session, desk, desk.clock, title="VPN down after the upgrade")
    app = app_for(sqlite_url, desk.clock, "alice")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_change(app, pilot, bare)
        await pilot.press("s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ChangeStateDialog)
        assert [target.value for target in dialog.targets] == ["assess", "cancelled"]
        await pilot.press("enter")  # assess, without the plans
        await settle(pilot)
        assert app.screen is dialog
        assert "assess needs the implementation, backout, test plan(s)" in dialog.error
        await pilot.press("escape")
        assert app.screen is screen and state(desk, bare) == "new"

        # A work note lands on the change's journal; an empty one is refused in the dialog.
        await pilot.press("n")
        await settle(pilot)
        note = app.screen
        assert isinstance(note, ChangeNoteDialog)
        await pilot.press("ctrl+s")
        assert app.screen is note and "Write something first" in note.error
        note.query_one(TextArea).text = "Vendor sends the [b]plans[/b] Friday"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        desk.session.rollback()  # a fresh read
        journal = change_history.change_history(desk.session, bare).journal
        assert [entry.body for entry in journal] == ["Vendor sends the [b]plans[/b] Friday"]

        # Live: another desk renames the change; the feed brings it to this screen.
        changes.update_change(
            desk.session, desk["carl"], desk.clock, bare, validate(ChangeUpdate, title="Plans due")
        )
        await until(pilot, lambda: "Plans due" in shown(app, "#change-heading"), "the rename")

        # The incident side: link the incident to this change, then follow the link back.
        app.open_incident(incident)
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, CausedByDialog)
        app.screen.query_one(Input).value = bare.lower()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IncidentDetailScreen)
        assert f"Caused by {bare}" in shown(app, "#caused-by")
        await pilot.press("G")
        await settle(pilot)
        assert isinstance(app.screen, ChangeDetailScreen) and app.screen.number == bare
        assert incident in shown(app, "#caused-incidents")


async def test_change_form_creates_and_handles_a_stale_edit(
    world: tuple[Database, Desk], sqlite_url: str
) -> None:
    _database, desk = world
    app = app_for(sqlite_url, desk.clock, "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_change_form()
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChangeFormScreen) and form.loaded
        form.query_one("#field-title", Input).value = "Rotate VPN certificates"
        form.query_one("#field-service", Select).value = "VPN"
        form.query_one("#field-planned_start", Input).value = "2026-03-05 22:00"
        form.query_one("#field-planned_end", Input).value = "tomorrow"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # the bad time is shown under its field, nothing lost
        assert "not a time" in shown(app, "#error-planned_end")
        assert form.query_one("#field-title", Input).value == "Rotate VPN certificates"
        form.query_one("#field-planned_end", Input).value = "2026-03-06 01:00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, ChangeDetailScreen)
        desk.session.rollback()  # a fresh read
        record = changes.get_change(desk.session, detail.number)
        assert (record.title, record.service, record.requested_by) == (
            "Rotate VPN certificates",
            "VPN",
            "alice",
        )
        assert record.planned_start == T0 + timedelta(days=3, hours=13)
        assert record.planned_end == T0 + timedelta(days=3, hours=16)

        # Edit while someone else saves first: the conflict dialog, then reload and reapply.
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChangeFormScreen) and form.number == record.number
        assert form.read_form() == form.base  # opening is not an edit: escape just leaves
        form.query_one("#field-title", Input).value = "Rotate VPN and mail certificates"
        changes.update_change(
            desk.session,
            desk["carl"],
            desk.clock,
            record.number,
            validate(ChangeUpdate, description="their words"),
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ChangeConflictDialog)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is form
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ChangeDetailScreen)
    desk.session.rollback()  # a fresh read, not the open transaction's snapshot
    saved = changes.get_change(desk.session, record.number)
    assert (saved.title, saved.description) == ("Rotate VPN and mail certificates", "their words")


async def test_the_desk_shows_who_may_not_move_a_change_and_an_approved_plan_sent_back(
    world: tuple[Database, Desk], sqlite_url: str
) -> None:
    """Issue 16: the rules are the service's; the screens show its refusal and its send-back."""
    _database, desk = world
    number = request(desk, "Upgrade the VPN gateway")
    to_authorize(desk, number)
    changes.vote(desk.session, desk["carl"], desk.clock, number, ApprovalDecision.APPROVED)
    assert state(desk, number) == "scheduled"
    app = app_for(sqlite_url, desk.clock, "bob")  # an agent of Network: not his change
    async with app.run_test(size=(100, 40)) as pilot:
        await open_change(app, pilot, number)
        await pilot.press("s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ChangeStateDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog and f"may not move {number}" in dialog.error
    assert state(desk, number) == "scheduled"
    app = app_for(sqlite_url, desk.clock, "alice")  # the requester rewrites the backout plan
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_change(app, pilot, number)
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChangeFormScreen) and form.loaded
        form.query_one("#field-backout_plan", TextArea).text = "fail over to the spare"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        await until(
            pilot, lambda: "authorize" in shown(app, "#change-state").lower(), "the send-back"
        )
        assert "sent back to authorize" in shown(app, "Timeline")
    assert state(desk, number) == "authorize"


async def test_the_form_shows_why_an_agent_may_not_file_a_standard_change(
    world: tuple[Database, Desk], sqlite_url: str
) -> None:
    """Issue 16: the form offers every type; filing a standard change is the service's call,
    and its refusal is shown with the typing kept and nothing requested."""
    _database, desk = world
    app = app_for(sqlite_url, desk.clock, "alice")
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_change_form()
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChangeFormScreen) and form.loaded
        form.query_one("#field-title", Input).value = "Skip the CAB"
        form.query_one("#field-change_type", Select).value = "standard"
        await pilot.press("ctrl+s")

        def refusal() -> str:
            return " ".join(shown(app, "#form-error").split())  # unwrapped

        await until(pilot, lambda: "may not" in refusal(), "the refusal")
        assert app.screen is form and not form.saving
        assert "a change manager must raise standard changes" in refusal()
        assert form.query_one("#field-title", Input).value == "Skip the CAB"
    desk.session.rollback()
    assert changes.list_changes(desk.session) == []
