"""The app shell through Textual's pilot: it opens on the incident list, loads rows from the
service layer in a worker, and shows user text literally."""

from __future__ import annotations

import pytest
from rich.text import Text
from sqlalchemy import text as sa_text
from textual.widgets import DataTable, Static

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.services import incidents
from itsm_tui.services.demo import DemoOptions, load_demo
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from tests.conftest import seed_directory

MARKUP_TITLE = "[bold]not bold[/bold] [link=https://evil.example]click[/link]"


@pytest.fixture
def seeded_url(sqlite_url: str, clock: FixedClock) -> str:
    database = open_database(sqlite_url)
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
    return sqlite_url


async def _loaded(app: ITSMApp, pilot) -> DataTable:  # type: ignore[no-untyped-def]
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen.query_one(DataTable)


async def test_opens_on_open_incidents_and_toggles_all(seeded_url: str, clock: FixedClock) -> None:
    app = ITSMApp(database_url=seeded_url, username="alice", clock=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await _loaded(app, pilot)
        assert table.row_count == 2
        assert "alice (agent)" in app.sub_title
        await pilot.press("a")
        table = await _loaded(app, pilot)
        assert table.row_count == 3
        status = app.screen.query_one("#status-line", Static)
        assert "3 all incidents" in str(status.render())


async def test_user_text_is_shown_literally(seeded_url: str, clock: FixedClock) -> None:
    app = ITSMApp(database_url=seeded_url, username="alice", clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _loaded(app, pilot)
        titles = [table.get_row_at(i)[3] for i in range(table.row_count)]
        cell = next(t for t in titles if "not bold" in t.plain)
        assert isinstance(cell, Text)
        assert cell.plain == MARKUP_TITLE
        assert not cell.spans  # no style parsed out of the user's brackets


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
    app = ITSMApp(database_url=seeded_url, username="alice", clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _loaded(app, pilot)
        titles = [table.get_row_at(i)[3].plain for i in range(table.row_count)]
        shown = next(t for t in titles if t.startswith("Printer"))
        assert shown == "Printer \\x1b]52;c;cHduZWQ=\\x07 jam \\u202egpj.exe"


async def test_a_failed_load_is_reported_and_the_app_keeps_running(
    seeded_url: str, clock: FixedClock
) -> None:
    app = ITSMApp(database_url=seeded_url, username="alice", clock=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(app, pilot)
        with app.database.engine.begin() as connection:
            connection.execute(sa_text("ALTER TABLE incidents RENAME TO incidents_gone"))
        await pilot.press("r")
        await _loaded(app, pilot)
        status = app.screen.query_one("#status-line", Static)
        assert status.has_class("error")
        assert "Could not load incidents" in str(status.render())
        assert app.is_running
        with app.database.engine.begin() as connection:
            connection.execute(sa_text("ALTER TABLE incidents_gone RENAME TO incidents"))
        await pilot.press("r")
        table = await _loaded(app, pilot)
        assert table.row_count == 2 and not status.has_class("error")


def test_demo_snapshot(snap_compare, sqlite_url: str, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    database = open_database(sqlite_url)
    with database.session() as session:
        load_demo(session, clock, DemoOptions(seed=7, incidents=25, acting_user="alice"))
    database.dispose()
    app = ITSMApp(database_url=sqlite_url, username="sam", clock=clock)

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

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
