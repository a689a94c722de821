"""The problem board, the problem detail and its dialogs through Textual's pilot.

Keys are pressed as a problem manager would; what was written is then checked through the
services, so the screen is only trusted once the database agrees. Two app runs, many steps
each: the rules themselves are tested at the service level.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import Footer, Input, OptionList, Static, TextArea
from textual.widgets._footer import FooterKey

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import ProblemState
from itsm_tui.screens.change_detail import ChangeDetailScreen
from itsm_tui.screens.change_dialogs import ChangeConflictDialog
from itsm_tui.screens.dialogs import ConfirmDialog
from itsm_tui.screens.incident_detail import IncidentDetailScreen
from itsm_tui.screens.problem_board import ProblemBoardScreen
from itsm_tui.screens.problem_detail import ProblemDetailScreen
from itsm_tui.screens.problem_dialogs import LinkIncidentsDialog, ProblemMoveDialog
from itsm_tui.screens.problem_form import ProblemFormScreen
from itsm_tui.screens.queue_dialogs import BulkSummaryDialog
from itsm_tui.services import incidents, problems
from itsm_tui.services.problems import ProblemCreate, ProblemMove, ProblemUpdate
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.widgets.problem_board import ProblemBoard
from tests.conftest import Desk
from tests.test_snapshots_problems import seed_problems
from tests.tui_helpers import app_for, create, seeded_desk, settle, until


@pytest.fixture
def world(sqlite_url: str, clock: FixedClock) -> Iterator[tuple[Database, Desk]]:
    database, desk = seeded_desk(sqlite_url, clock)
    yield database, desk
    desk.session.close()
    database.dispose()


def fresh(desk: Desk, number: str) -> problems.ProblemRecord:
    desk.session.rollback()  # a fresh read, not the open transaction's snapshot
    return problems.get_problem(desk.session, number)


def board(app: ITSMApp) -> ProblemBoard:
    return app.screen.query_one(ProblemBoard)


def cursor(app: ITSMApp) -> tuple[str | None, str | None]:
    widget = board(app)
    column, card = widget.current_column, widget.current
    return (column.key if column else None, card.key if card else None)


async def test_a_card_moves_through_the_states(
    world: tuple[Database, Desk], sqlite_url: str
) -> None:
    _database, desk = world
    seeded = seed_problems(desk)
    urgent = problems.create_problem(
        desk.session,
        desk["alice"],
        desk.clock,
        validate(ProblemCreate, title="Payroll export fails", impact=1, urgency=1),
    ).number
    app = app_for(sqlite_url, desk.clock, "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, ProblemBoardScreen)
        # The P1 problem leads the New column; up/down and left/right walk the board.
        assert cursor(app) == ("new", urgent)
        await pilot.press("down")
        assert cursor(app) == ("new", seeded["new"])
        await pilot.press("right", "right")
        assert cursor(app) == ("root_cause_analysis", seeded["rca"])
        await pilot.press("left", "left", "up")
        assert cursor(app) == ("new", urgent)

        # new -> assess -> root cause analysis: nothing needed, no dialog; the cursor follows.
        for target in ("assess", "root_cause_analysis"):
            await pilot.press("m")
            await settle(pilot)
            assert app.screen.is_current and isinstance(app.screen, ProblemBoardScreen)
            assert fresh(desk, urgent).state == target
            assert cursor(app) == (target, urgent)

        # fix_in_progress needs the root cause: the dialog asks, the guard's refusal shows.
        await pilot.press("m")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ProblemMoveDialog)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog
        assert "needs the root cause" in dialog.error
        dialog.query_one("#move-root-cause-text", TextArea).text = "Export job [runs] as root"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProblemBoardScreen)
        record = fresh(desk, urgent)
        assert (record.state, record.root_cause) == ("fix_in_progress", "Export job [runs] as root")
        assert cursor(app) == ("fix_in_progress", urgent)

        # resolved needs notes, and a reason without a successful fix change.
        await pilot.press("m")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ProblemMoveDialog)
        dialog.query_one("#move-resolution-notes", TextArea).text = "Job runs as its own user."
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "or a reason" in dialog.error and fresh(desk, urgent).state == "fix_in_progress"
        dialog.query_one("#move-reason", Input).value = "fixed by config, no change needed"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProblemBoardScreen)
        record = fresh(desk, urgent)
        assert record.state == "resolved"
        assert record.resolution_reason == "fixed by config, no change needed"

        await pilot.press("m")  # resolved -> closed: nothing needed
        await settle(pilot)
        assert fresh(desk, urgent).state == "closed"
        assert cursor(app) == ("closed", urgent)

        # Enter opens the problem's detail; escape comes back to the board.
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, ProblemDetailScreen) and detail.number == urgent
        await pilot.press("escape")
        await settle(pilot)

        # The candidate (three VPN incidents on one CI) becomes a problem with them linked.
        await pilot.press("right")
        assert cursor(app)[0] == "candidates"
        assert "p" in app.screen.active_bindings and "m" not in app.screen.active_bindings
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProblemBoardScreen)
        column, promoted = cursor(app)
        assert column == "new" and promoted is not None
        assert fresh(desk, promoted).incident_count == 3
        assert not board(app).columns[-1].cards  # the candidate is gone


async def test_detail_links_resolves_and_edits(
    world: tuple[Database, Desk], sqlite_url: str
) -> None:
    _database, desk = world
    session, alice, clock = desk.session, desk["alice"], desk.clock
    first = create(session, desk, clock, title="Outlook crashes on start")
    second = create(session, desk, clock, title="Outlook crash at startup")
    number = problems.create_problem(
        session,
        alice,
        clock,
        validate(
            ProblemCreate,
            title="Outlook crashes",
            root_cause="Bad add-in",
            workaround="Start in safe mode",
        ),
    ).number
    app = app_for(sqlite_url, clock, "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_problem(number)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProblemDetailScreen) and screen.record is not None
        assert "R" not in screen.active_bindings  # nothing to resolve yet

        # l links several incidents at once; the known error's workaround lands on each.
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, LinkIncidentsDialog)
        dialog.query_one(Input).value = f"{first}, {int(second[3:])} INC9999999"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog and "INC9999999" in dialog.error  # refused, nothing linked
        dialog.query_one(Input).value = f"{first}, {int(second[3:])}"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert [i.number for i in fresh(desk, number).incidents] == [first, second]
        notes = incidents.incident_detail(session, first, clock.now()).journal
        assert any("Start in safe mode" in note.body for note in notes)

        # o opens the highlighted incident, which names its problem; P comes back to it.
        screen.query_one("#linked-incidents", OptionList).highlighted = 0
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, IncidentDetailScreen) and app.screen.number == first
        assert f"Problem {number}" in str(app.screen.query_one("#problem-link", Static).content)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, ProblemDetailScreen) and app.screen.number == number
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.screen is screen

        # u unlinks the highlighted incident, after asking.
        screen.query_one("#linked-incidents", OptionList).highlighted = 1
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert [i.number for i in fresh(desk, number).incidents] == [first]

        # Resolved elsewhere; R resolves the open linked incidents and shows what it did.
        for state in (
            ProblemState.ASSESS,
            ProblemState.ROOT_CAUSE_ANALYSIS,
            ProblemState.FIX_IN_PROGRESS,
        ):
            problems.move_problem(session, alice, clock, number, ProblemMove(state=state))
        problems.move_problem(
            session,
            alice,
            clock,
            number,
            ProblemMove(
                state=ProblemState.RESOLVED,
                reason="add-in removed",
                resolution_notes="Add-in removed by policy.",
            ),
        )
        screen.load()
        await settle(pilot)
        assert "R" in screen.active_bindings
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BulkSummaryDialog)
        assert app.screen.result.succeeded[0].number == first
        await pilot.press("escape")
        resolved = incidents.incident_detail(session, first, clock.now()).incident
        assert resolved.state == "resolved"
        assert "Add-in removed by policy." in (resolved.resolution_notes or "")

        # e edits through the form; someone saves first: the conflict dialog, then reload
        # and reapply keeps both edits.
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ProblemFormScreen) and form.loaded
        assert form.read_form() == form.base  # opening is not an edit
        form.query_one("#field-title", Input).value = "Outlook crashes (add-in)"
        problems.update_problem(
            session, desk["bob"], clock, number, ProblemUpdate(description="their words")
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ChangeConflictDialog)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is form
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        saved = fresh(desk, number)
        assert (saved.title, saved.description) == ("Outlook crashes (add-in)", "their words")

        # c requests the fix change from the problem and opens it.
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ChangeDetailScreen)
        assert fresh(desk, number).fix_change == app.screen.number


async def test_the_footer_shows_the_keys_of_the_column_and_is_kept_while_they_stay(
    world: tuple[Database, Desk], sqlite_url: str
) -> None:
    """The footer is rebuilt when the keys change (a candidate offers p, not m) and kept
    as it is (the same key widgets) when the bindings are refreshed with nothing changed."""
    _database, desk = world
    seed_problems(desk)
    app = app_for(sqlite_url, desk.clock, "alice")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        footer = app.screen.query_one(Footer)

        def keys() -> set[str]:
            return {key.key for key in footer.query(FooterKey)}

        await until(pilot, lambda: "m" in keys(), "the board's keys in the footer")
        assert "p" not in keys()
        shown = list(footer.query(FooterKey))
        app.screen.refresh_bindings()  # as a focus move or a reload does, with nothing new
        await settle(pilot)
        assert [id(key) for key in footer.query(FooterKey)] == [id(key) for key in shown]

        for _ in board(app).columns:
            if cursor(app)[0] == "candidates":
                break
            await pilot.press("right")
        assert cursor(app)[0] == "candidates"
        await until(pilot, lambda: "p" in keys() and "m" not in keys(), "the candidate's keys")
