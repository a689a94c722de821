"""The app shell through Textual's pilot: it opens on the incident queue, loads rows from the
service layer in workers, reports failures, and shows user text literally."""

from __future__ import annotations

import pytest
from rich.text import Text
from sqlalchemy import text as sa_text
from textual.widgets import Static

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.screens.incident_queue import IncidentQueueScreen
from itsm_tui.services import incidents
from itsm_tui.services.demo import DemoOptions, load_demo
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from tests.conftest import copy_of_built, seed_directory
from tests.tui_helpers import app_for, queue_numbers, queue_table, settle, table_lines

MARKUP_TITLE = "[bold]not bold[/bold] [link=https://evil.example]click[/link]"


@pytest.fixture
def seeded_url(sqlite_url: str, clock: FixedClock) -> str:
    """Two open incidents (one titled with markup) and a cancelled one; built once per test
    process and copied."""
    when = clock.now()
    copy_of_built(sqlite_url, ("test_app", when), lambda url: _seed(url, FixedClock(when)))
    return sqlite_url


def _seed(url: str, clock: FixedClock) -> None:
    database = open_database(url)
    with database.session() as session:
        desk = seed_directory(session, clock)
        for title, impact in ((MARKUP_TITLE, 1), ("Printer jam", 3)):
            incidents.create_incident(
                session,
                desk["alice"],
                clock,
                validate(incidents.IncidentCreate, title=title, impact=impact, urgency=1),
            )
        done = incidents.create_incident(
            session,
            desk["alice"],
            clock,
            validate(incidents.IncidentCreate, title="Old and done", impact=3, urgency=3),
        )
        incidents.transition(session, desk["alice"], clock, done.number, "cancelled")
    database.dispose()


async def test_opens_on_the_open_queue_and_filters_by_key(
    seeded_url: str, clock: FixedClock
) -> None:
    app = app_for(seeded_url, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.current_mode == "incidents"
        assert isinstance(app.screen, IncidentQueueScreen)
        assert len(queue_numbers(app)) == 2  # the cancelled one is not open
        assert "alice (agent)" in str(app.screen.query_one("#desk-header").render())
        await pilot.press("m")  # mine: alice created them but nobody is assigned
        await settle(pilot)
        assert queue_numbers(app) == []
        assert "mine" in str(app.screen.query_one("#queue-filters").render())
        await pilot.press("m", "u")  # mine off, unassigned on
        await settle(pilot)
        assert len(queue_numbers(app)) == 2


async def test_user_text_is_shown_literally(seeded_url: str, clock: FixedClock) -> None:
    app = app_for(seeded_url, clock)
    async with app.run_test(size=(200, 30)) as pilot:
        await settle(pilot)
        table = queue_table(app)
        row = next(r for r in table.rows if "not bold" in r.title)
        cells = table.cells_of(row, table.visible_columns())
        title = cells[3]
        assert isinstance(title, Text)
        assert title.plain == MARKUP_TITLE
        assert not title.spans  # no style parsed out of the user's brackets
        assert any(MARKUP_TITLE in line for line in table_lines(app))


async def test_stored_escape_codes_are_shown_escaped(seeded_url: str, clock: FixedClock) -> None:
    """Text that reached the database around validation (an import, an older version) still
    cannot drive the terminal: controls and bidi overrides show as visible escapes."""
    database = open_database(seeded_url)
    with database.engine.begin() as connection:
        connection.execute(
            sa_text("UPDATE incidents SET title = :t WHERE title = 'Printer jam'"),
            {"t": "Printer \x1b]52;c;cHduZWQ=\x07 jam \u202egpj.exe"},
        )
    database.dispose()
    app = app_for(seeded_url, clock)
    async with app.run_test(size=(200, 30)) as pilot:
        await settle(pilot)
        shown = [line for line in table_lines(app) if "Printer" in line]
        assert "Printer \\x1b]52;c;cHduZWQ=\\x07 jam \\u202egpj.exe" in shown[0]
        assert "\x1b" not in "".join(table_lines(app))


async def test_a_failed_load_is_reported_and_the_app_keeps_running(
    seeded_url: str, clock: FixedClock
) -> None:
    app = app_for(seeded_url, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        with app.database.engine.begin() as connection:
            connection.execute(sa_text("ALTER TABLE incidents RENAME TO incidents_gone"))
        await pilot.press("r")
        await settle(pilot)
        status = app.screen.query_one("#queue-status", Static)
        assert status.has_class("error")
        assert "Could not load" in str(status.render())
        assert app.is_running
        with app.database.engine.begin() as connection:
            connection.execute(sa_text("ALTER TABLE incidents_gone RENAME TO incidents"))
        await pilot.press("r")
        await settle(pilot)
        assert len(queue_numbers(app)) == 2 and not status.has_class("error")


def test_demo_snapshot(snap_compare, sqlite_url: str, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    database = open_database(sqlite_url)
    with database.session() as session:
        load_demo(session, clock, DemoOptions(seed=7, incidents=25, acting_user="alice"))
    database.dispose()
    app = app_for(sqlite_url, clock, "sam")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


async def test_the_desk_evaluates_slas_when_no_worker_runs(
    sqlite_url: str, clock: FixedClock
) -> None:
    from sqlmodel import select

    from itsm_tui.services import leases, slas
    from itsm_tui.store.models import JournalEntry

    database = open_database(sqlite_url)
    with database.session() as session:
        slas.ensure_defaults(session, clock, "UTC")
        desk = seed_directory(session, clock)
        data = validate(incidents.IncidentCreate, title="Mail down", impact=1, urgency=1)
        incidents.create_incident(session, desk["alice"], clock, data)
    clock.advance(minutes=16)  # P1 response (15 min, 24x7) is now breached
    app = ITSMApp(database_url=sqlite_url, username="alice", clock=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        with database.session() as session:
            assert leases.holder_of(session, clock, leases.SLA_EVALUATOR) is not None
            notes = session.exec(select(JournalEntry.body).where(JournalEntry.kind == "system"))
            assert any("response breached" in body for body in notes)
    with database.session() as session:  # the lease is given back on exit
        assert leases.holder_of(session, clock, leases.SLA_EVALUATOR) is None
    database.dispose()
