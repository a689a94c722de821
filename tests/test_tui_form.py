"""The incident form and the conflict dialog through Textual's pilot, with the database
checked afterwards through the services: what was saved, what was not, and that nothing
typed is lost on a refusal or a conflict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text as sa_text
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static, TextArea

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.screens.conflict_dialog import ConflictDialog
from itsm_tui.screens.incident_form import DiscardChangesDialog, IncidentFormScreen
from itsm_tui.services import directory, incidents
from itsm_tui.services.incident_changes import changes_of
from itsm_tui.services.incident_inputs import IncidentCreate, IncidentQuery
from itsm_tui.services.records import IncidentDetail
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from tests.conftest import copy_of_built, seed_directory
from tests.tui_helpers import settle, until

MARKUP = "[red]x[/red] [link=https://evil.example]y[/link]"
LITERAL_ESCAPE = "\\x1b[2J"  # what a user can type: backslash, x, 1, b ...


@pytest.fixture
def db(sqlite_url: str, clock: FixedClock) -> Iterator[Database]:
    """The small test directory, seeded once per test process and copied."""
    when = clock.now()
    copy_of_built(sqlite_url, ("seed_directory", when), lambda url: _seed(url, FixedClock(when)))
    database = open_database(sqlite_url)
    yield database
    database.dispose()


def _seed(url: str, clock: FixedClock) -> None:
    database = open_database(url)
    with database.session() as session:
        seed_directory(session, clock)
    database.dispose()


@pytest.fixture
def existing(db: Database, clock: FixedClock) -> str:
    """An incident in alice's group, ready to edit."""
    with db.session() as session:
        alice = directory.find_user(session, "alice")
        assert alice is not None
        data = validate(
            IncidentCreate,
            title="Mail slow",
            description="Outlook hangs",
            caller="Carol",
            service="Email",
            ci="mail-01",
            category="email",
            impact=2,
            urgency=2,
            group="Service Desk",
            assignee="alice",
        )
        return incidents.create_incident(session, alice, clock, data).number


def make_app(db: Database, clock: FixedClock) -> ITSMApp:
    return ITSMApp(
        database_url=db.engine.url.render_as_string(hide_password=False),
        username="alice",
        clock=clock,
        run_evaluator=False,
    )


async def open_form(
    app: ITSMApp, pilot: Pilot[Any], number: str | None = None
) -> tuple[IncidentFormScreen, list[str | None]]:
    results: list[str | None] = []
    await settle(pilot)
    form = IncidentFormScreen(number)
    await app.push_screen(form, results.append)
    await settle(pilot)
    assert form.loaded
    return form, results


def detail(db: Database, number: str) -> IncidentDetail:
    with db.session() as session:
        return incidents.incident_detail(session, number)


def incident_count(db: Database) -> int:
    with db.session() as session:
        alice = directory.find_user(session, "alice")
        assert alice is not None
        return len(incidents.list_incidents(session, alice, IncidentQuery()))


def change_behind_its_back(db: Database, clock: FixedClock, number: str, **values: object) -> None:
    with db.session() as session:
        sue = directory.find_user(session, "sue")
        assert sue is not None
        incidents.update_incident(session, sue, clock, number, changes_of(**values))


def error_text(form: IncidentFormScreen, name: str) -> str:
    label = form.query_one(f"#error-{name}", Static)
    return str(label.render()) if label.has_class("-shown") else ""


async def test_create_with_all_fields(db: Database, clock: FixedClock) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot)
        await pilot.press(*"VPN drops")  # the title has focus on open
        form.query_one("#field-description", TextArea).text = "Every 10 minutes\nsince 9:00"
        form.query_one("#field-caller", Input).value = "Dan"
        form.query_one("#field-category", Input).value = "network"
        form.query_one("#field-service", Select).value = "VPN"
        await settle(pilot)
        form.query_one("#field-ci", Select).value = "vpn-gw-01"
        form.query_one("#field-impact", Select).value = 1
        form.query_one("#field-urgency", Select).value = 2
        form.query_one("#field-group", Select).value = "Service Desk"
        form.query_one("#field-assignee", Select).value = "alice"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert results and results[0] is not None
        assert app.screen is not form
    record = detail(db, results[0]).incident
    assert record.title == "VPN drops"
    assert record.description == "Every 10 minutes\nsince 9:00"
    assert (record.caller, record.category) == ("Dan", "network")
    assert (record.service, record.ci) == ("VPN", "vpn-gw-01")
    assert (record.impact, record.urgency, record.priority) == (1, 2, 2)
    assert (record.group, record.assignee) == ("Service Desk", "alice")


async def test_priority_follows_impact_and_urgency_live(db: Database, clock: FixedClock) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, _ = await open_form(app, pilot)
        display = form.query_one("#priority-display", Static)
        assert str(display.render()).startswith("P5")
        # By keyboard: open the impact list, move to "1 high", pick it.
        form.query_one("#field-impact", Select).focus()
        await pilot.press("enter", "home", "enter")
        await pilot.pause()
        assert form.query_one("#field-impact", Select).value == 1
        assert str(display.render()).startswith("P3")
        form.query_one("#field-urgency", Select).value = 1
        await pilot.pause()
        assert str(display.render()).startswith("P1")
        assert display.has_class("-p1")


async def test_blank_title_is_refused_inline_and_keeps_the_rest(
    db: Database, clock: FixedClock
) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot)
        form.query_one("#field-caller", Input).value = "Dan"
        form.query_one("#field-description", TextArea).text = "typed with care"
        form.query_one("#field-group", Select).value = "Network"
        form.query_one("#field-impact", Select).value = 2
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form and results == []
        assert "may not be empty" in error_text(form, "title")
        assert error_text(form, "caller") == ""
        assert form.focused is form.query_one("#field-title", Input)
        values = form.read_form()
        assert (values.caller, values.description, values.group, values.impact) == (
            "Dan",
            "typed with care",
            "Network",
            2,
        )
        # Typing a title clears the message as soon as it is valid.
        await pilot.press("x")
        assert error_text(form, "title") == ""
    assert incident_count(db) == 0


async def test_a_refused_save_keeps_everything(db: Database, clock: FixedClock) -> None:
    """bob is not in Service Desk: the service refuses, the message sits under assignee."""
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot)
        form.query_one("#field-title", Input).value = "Printer on fire"
        form.query_one("#field-group", Select).value = "Service Desk"
        form.query_one("#field-assignee", Select).value = "bob"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form and results == []
        assert "not a member" in error_text(form, "assignee")
        assert form.read_form().title == "Printer on fire"
        assert form.read_form().assignee == "bob"
    assert incident_count(db) == 0


async def test_service_change_refilters_the_cis(db: Database, clock: FixedClock) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, _ = await open_form(app, pilot)
        ci = form.query_one("#field-ci", Select)
        form.query_one("#field-service", Select).value = "Email"
        await settle(pilot)
        ci.value = "mail-01"
        form.query_one("#field-service", Select).value = "VPN"
        await settle(pilot)
        assert [value for _, value in ci._options if value != Select.NULL] == ["vpn-gw-01"]
        assert ci.is_blank()  # mail-01 belongs to Email


async def test_edit_sends_only_changed_fields(
    db: Database, clock: FixedClock, existing: str
) -> None:
    before = detail(db, existing)
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot, existing)
        assert form.read_form().title == "Mail slow"
        assert form.read_form().ci == "mail-01"
        assert form.version == before.incident.version
        caller = form.query_one("#field-caller", Input)
        caller.value = "Carol Jones"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert results == [existing]
    after = detail(db, existing)
    new_rows = after.audit[len(before.audit) :]
    assert [(row.field, row.new_value) for row in new_rows] == [("caller", "Carol Jones")]
    assert after.incident.version == before.incident.version + 1
    assert after.incident.title == "Mail slow" and after.incident.ci == "mail-01"


async def test_conflict_reload_and_reapply(db: Database, clock: FixedClock, existing: str) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot, existing)
        form.query_one("#field-title", Input).value = "Mail down for sales"
        form.query_one("#field-impact", Select).value = 1
        change_behind_its_back(db, clock, existing, title="Mail slow (sue)", caller="Sue's caller")
        await pilot.press("ctrl+s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConflictDialog)
        rows = {row.field: row for row in dialog.rows}
        assert (rows["Title"].theirs, rows["Title"].yours) == (
            "Mail slow (sue)",
            "Mail down for sales",
        )
        assert rows["Impact"].edited and rows["Impact"].theirs == "2 (medium)"
        assert not rows["Caller"].edited and rows["Caller"].theirs == "Sue's caller"
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is form
        values = form.read_form()
        assert (values.title, values.impact, values.caller) == (
            "Mail down for sales",
            1,
            "Sue's caller",
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert results == [existing]
    record = detail(db, existing).incident
    assert (record.title, record.impact, record.priority) == ("Mail down for sales", 1, 2)
    assert record.caller == "Sue's caller"  # theirs, untouched by my save


async def test_conflict_keep_mine_as_note(db: Database, clock: FixedClock, existing: str) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot, existing)
        form.query_one("#field-title", Input).value = f"Mine {MARKUP}"
        form.query_one("#field-urgency", Select).value = 1
        change_behind_its_back(db, clock, existing, title="Theirs")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConflictDialog)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is form and results == []
        assert form.read_form().title == "Theirs"  # the form now shows the saved version
        assert form.read_form().urgency == 2
        assert form.read_form().changed_from(form.base) == ()
    saved = detail(db, existing)
    assert saved.incident.title == "Theirs" and saved.incident.urgency == 2
    notes = [entry.body for entry in saved.journal if entry.kind == "work_note"]
    assert len(notes) == 1
    assert f"title: Mine {MARKUP}" in notes[0]
    assert "urgency: 1 (high)" in notes[0]


async def test_conflict_back_to_my_edit_changes_nothing(
    db: Database, clock: FixedClock, existing: str
) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot, existing)
        version = form.version
        form.query_one("#field-title", Input).value = "Mine"
        change_behind_its_back(db, clock, existing, category="theirs")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConflictDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is form and results == []
        assert form.read_form().title == "Mine" and form.version == version
    record = detail(db, existing).incident
    assert (record.title, record.category) == ("Mail slow", "theirs")


async def test_typed_markup_is_stored_exactly(db: Database, clock: FixedClock) -> None:
    title = f"{MARKUP} {LITERAL_ESCAPE}"
    description = f"{MARKUP}\n{LITERAL_ESCAPE}\n[/]"
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot)
        # A real escape character cannot be typed into a one-line field: refused inline.
        form.query_one("#field-title", Input).value = "bad \x1b[2J"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "control characters" in error_text(form, "title")
        form.query_one("#field-title", Input).value = title
        form.query_one("#field-description", TextArea).text = description
        form.query_one("#field-caller", Input).value = "[b]Dan[/b]"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert results and results[0]
    record = detail(db, results[0]).incident
    assert (record.title, record.description, record.caller) == (title, description, "[b]Dan[/b]")


async def test_escape_asks_before_discarding(db: Database, clock: FixedClock) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot)
        await pilot.press(*"half typed")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiscardChangesDialog)
        await pilot.press("escape")  # a second escape keeps the work
        await pilot.pause()
        assert app.screen is form and form.read_form().title == "half typed"
        await pilot.press("escape", "d")
        await pilot.pause()
        assert results == [None] and app.screen is not form
    assert incident_count(db) == 0


async def test_q_never_quits_with_typing_on_the_form(db: Database, clock: FixedClock) -> None:
    """The app quits on a bare "q"; on the form it types into fields, or asks first."""
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot)
        await pilot.press(*"quiet queue")
        assert form.read_form().title == "quiet queue"
        form.query_one("#field-group", Select).focus()
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, DiscardChangesDialog)
        await pilot.press("q")  # the dialog's safe choice
        await pilot.pause()
        assert app.screen is form and results == []


async def test_escape_on_an_untouched_form_just_closes(db: Database, clock: FixedClock) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        _form, results = await open_form(app, pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert results == [None]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_fits_small_and_large_terminals(
    db: Database, clock: FixedClock, existing: str, size: tuple[int, int]
) -> None:
    app = make_app(db, clock)
    async with app.run_test(size=size) as pilot:
        form, _ = await open_form(app, pilot, existing)
        width, height = size
        for widget_id in ("#field-title", "#field-caller", "#field-category"):
            region = form.query_one(widget_id).region
            assert region.right <= width, widget_id
        # The last field is reachable by tab: the body scrolls it into view.
        assignee = form.query_one("#field-assignee", Select).focus()
        await until(pilot, lambda: assignee.region.bottom <= height, "assignee scrolled in")
        form.query_one("#field-title", Input).value = "Mine"
        change_behind_its_back(db, clock, existing, title="Theirs")
        await pilot.press("ctrl+s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConflictDialog)
        for button in dialog.query(Button):
            assert button.region.right <= width and button.region.bottom <= height, button.id
            assert button.region.width >= len(str(button.label)), button.id


async def test_stored_control_characters_are_shown_escaped_and_left_alone(
    db: Database, clock: FixedClock, existing: str
) -> None:
    """Text that reached the database around validation must not drive the terminal from
    an Input; editing another field leaves it exactly as stored."""
    raw = "Mail \x1b]52;c;cHduZWQ=\x07 slow"
    with db.engine.begin() as connection:
        connection.execute(
            sa_text("UPDATE incidents SET title = :t WHERE number = :n"), {"t": raw, "n": existing}
        )
    app = make_app(db, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        form, results = await open_form(app, pilot, existing)
        title = form.query_one("#field-title", Input).value
        assert title == "Mail \\x1b]52;c;cHduZWQ=\\x07 slow"
        form.query_one("#field-category", Input).value = "mail"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert results == [existing]
    record = detail(db, existing).incident
    assert (record.title, record.category) == (raw, "mail")
