"""Known errors in the TUI, one app run at 80x24: the incident detail suggests a known error
with its workaround, K and enter link the incident to it (the workaround lands as a work
note, proven in the database), and the new-incident form shows the known error once a
matching title is typed."""

from __future__ import annotations

from textual.widgets import Input

from itsm_tui.clock import FixedClock
from itsm_tui.screens.incident_detail import IncidentDetailScreen
from itsm_tui.screens.incident_form import IncidentFormScreen
from itsm_tui.screens.known_error_dialogs import KnownErrorDialog
from itsm_tui.services import incidents, problems
from itsm_tui.services.validation import validate
from itsm_tui.widgets.known_errors import KnownErrorPanel
from tests.tui_helpers import app_for, create, seeded_desk, settle

WORKAROUND = "Flush the queue on mail-01 [bold]now[/bold]"


def _panel_text(panel: KnownErrorPanel) -> str:
    return "" if panel.has_class("-empty") else str(panel.render())


async def test_suggest_link_and_see_it_in_the_form(sqlite_url: str, clock: FixedClock) -> None:
    database, desk = seeded_desk(sqlite_url, clock)
    with desk.session as session:
        known = problems.create_problem(
            session,
            desk["alice"],
            clock,
            validate(
                problems.ProblemCreate,
                title="Mail queue stuck",
                cis=("mail-01",),
                root_cause="queue disk fills",
                workaround=WORKAROUND,
            ),
        ).number
        number = create(session, desk, clock, title="Mail queue stuck again", ci="mail-01")
    database.dispose()

    app = app_for(sqlite_url, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_incident(number)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IncidentDetailScreen)
        panel = screen.query_one("#known-errors", KnownErrorPanel)
        shown = _panel_text(panel)
        assert known in shown and "same CI mail-01" in shown
        assert WORKAROUND in shown  # typed text, shown literally
        assert "K" in screen.active_bindings  # in the footer while there is something to link

        await pilot.press("K")
        await settle(pilot)
        assert isinstance(app.screen, KnownErrorDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert _panel_text(panel) == ""  # the one it is linked to is no longer suggested
        assert "K" not in screen.active_bindings

        with database.session() as session:
            detail = incidents.incident_detail(session, number, clock.now())
        assert detail.incident.problem == known
        notes = [e.body for e in detail.journal if e.kind == "work_note"]
        assert notes == [f"Known error {known} workaround: {WORKAROUND}"]

        await pilot.press("escape")
        app.open_incident_form()
        await settle(pilot)
        form = app.screen
        assert isinstance(form, IncidentFormScreen)
        form_panel = form.query_one("#form-known-errors", KnownErrorPanel)
        assert _panel_text(form_panel) == ""
        form.query_one("#field-title", Input).focus()
        await pilot.press(*"queue stuck on mail")
        await settle(pilot)  # the debounce is a worker: settling waits it out
        shown = _panel_text(form_panel)
        assert known in shown and "similar text" in shown and WORKAROUND in shown
        assert "after saving" in shown
    database.dispose()
