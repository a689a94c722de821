"""The incident queue through Textual's pilot: keyset paging in SLA order, filters and chips,
search, saved views, bulk actions, live updates from another writer, toasts, the inbox, help,
modes and the command palette. The database is checked after every action."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session
from textual.geometry import Region
from textual.widgets import Input

from itsm_tui.clock import FixedClock
from itsm_tui.screens import incident_queue
from itsm_tui.screens.dialogs import AssignChoice, AssignDialog, NoteDialog
from itsm_tui.screens.help import HelpScreen
from itsm_tui.screens.inbox import InboxScreen
from itsm_tui.screens.queue_dialogs import BulkSummaryDialog, LinkProblemDialog, ViewsDialog
from itsm_tui.services import incidents, notifications, problems, queue, saved_views
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from tests.conftest import Desk
from tests.tui_helpers import (
    app_for,
    create,
    palette_highlight,
    queue_numbers,
    queue_table,
    settle,
    until,
)


def _all_in_order(session: Session, desk: Desk, clock: FixedClock) -> list[str]:
    page = queue.fetch_page(session, desk["alice"], clock.now(), queue.QueueFilter(), limit=500)
    return [row.number for row in page.rows]


async def test_the_cursor_walks_every_row_in_sla_order_across_keyset_pages(
    desk_db: tuple[str, Desk], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, desk = desk_db
    for index in range(24):
        impact, urgency = (1, 2) if index % 5 == 0 else (3, 3)
        create(desk.session, desk, clock, title=f"Ticket {index}", impact=impact, urgency=urgency)
        clock.advance(minutes=1)
    expected = _all_in_order(desk.session, desk, clock)
    assert len(expected) == 24
    monkeypatch.setattr(incident_queue, "PAGE_SIZE", 3)
    app = app_for(url, clock)
    async with app.run_test(size=(100, 9)) as pilot:
        await settle(pilot)
        table = queue_table(app)
        table.max_window = 6  # force trimming: the window never holds the whole queue
        assert len(table.rows) >= 3 and table.has_after
        bound = table.max_window + 2 * table._reach() + incident_queue.PAGE_SIZE
        seen = [table.current_key]
        for _ in range(23):
            await pilot.press("down")
            await settle(pilot, rounds=1)
            seen.append(table.current_key)
            assert len(table.rows) <= bound
        assert seen == expected  # most urgent SLA first, every row once
        assert table.has_before and len(table.rows) < len(expected)  # the far end was trimmed
        await pilot.press("down")  # at the very end nothing moves
        await settle(pilot)
        assert table.current_key == expected[-1]
        await pilot.press("home")
        await settle(pilot)
        assert table.current_key == expected[0] and not table.has_before
        await pilot.press("end")
        await settle(pilot)
        assert table.current_key == expected[-1] and not table.has_after
        await pilot.press("pageup")
        await settle(pilot)
        assert table.current_key in expected[-12:-1]


async def test_flags_search_and_counts_combine_and_show_as_chips(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    create(desk.session, desk, clock, title="Printer jam", assignee="alice", group="Service Desk")
    create(desk.session, desk, clock, title="Printer offline", group="Network")
    create(desk.session, desk, clock, title="VPN flaps", group="Network")
    app = app_for(url, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        chips = str(app.screen.query_one("#queue-filters").render())
        assert "3 shown of 3" in chips and "mine 1" in chips and "unassigned 2" in chips
        await pilot.press("slash", *"printer", "enter")
        await settle(pilot)
        assert len(queue_numbers(app)) == 2
        await pilot.press("u")
        await settle(pilot)
        rows = queue_table(app).rows
        assert [row.title for row in rows] == ["Printer offline"]
        chips = str(app.screen.query_one("#queue-filters").render())
        assert "unassigned" in chips and "/printer" in chips and "1 shown of 2" in chips
        await pilot.press("x")
        await settle(pilot)
        assert len(queue_numbers(app)) == 3


async def test_a_saved_view_is_stored_and_recalled_by_its_digit(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    mine = create(desk.session, desk, clock, title="Mine", assignee="alice", group="Service Desk")
    create(desk.session, desk, clock, title="Not mine")
    app = app_for(url, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("m", "V")
        await settle(pilot)
        await pilot.press(*"my work", "enter")
        await settle(pilot)
        with app.database.session() as session:
            views = saved_views.list_views(session, desk["alice"])
        assert [(v.name, v.filter.mine) for v in views] == [("my work", True)]
        await pilot.press("x")
        await settle(pilot)
        assert len(queue_numbers(app)) == 2
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ViewsDialog)
        await pilot.press("1")
        await settle(pilot)
        assert queue_numbers(app) == [mine]
        assert app.screen.filter.mine  # type: ignore[attr-defined]


async def test_bulk_assign_reports_what_was_done_and_what_was_refused(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    ours = [
        create(desk.session, desk, clock, title=f"Ours {n}", group="Service Desk") for n in range(2)
    ]
    theirs = create(desk.session, desk, clock, user="bob", title="Theirs", group="Network")
    app = app_for(url, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = queue_table(app)
        for _ in range(3):
            await pilot.press("space")  # marks the row and moves down
        assert set(table.marked) == {*ours, theirs}
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, AssignDialog)
        app.screen.dismiss(AssignChoice(assignee="alice", group=None))
        await settle(pilot, rounds=3)
        assert isinstance(app.screen, BulkSummaryDialog)
        result = app.screen.result
        assert sorted(o.number for o in result.succeeded) == sorted(ours)
        assert [o.number for o in result.refused] == [theirs]
        await pilot.press("escape")
        assert not table.marked
    with open_database(url).session() as session:
        assert {incidents.get_incident(session, n).assignee for n in ours} == {"alice"}
        assert incidents.get_incident(session, theirs).assignee is None


async def test_bulk_note_goes_on_every_marked_incident_and_they_link_to_a_problem(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    numbers = [
        create(desk.session, desk, clock, title=f"T{n}", group="Service Desk") for n in range(2)
    ]
    data = validate(problems.ProblemCreate, title="Nightly batch overruns")
    problem = problems.create_problem(desk.session, desk["alice"], clock, data).number
    app = app_for(url, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "N")
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog)
        app.screen.dismiss("Checked by the night shift")
        await settle(pilot, rounds=3)
        assert isinstance(app.screen, BulkSummaryDialog)
        assert len(app.screen.result.succeeded) == 2
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("home", "space", "space", "P")  # link both to the problem at once
        await settle(pilot)
        assert isinstance(app.screen, LinkProblemDialog)
        app.screen.query_one(Input).value = problem.lower()
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        assert not queue_table(app).marked
    with open_database(url).session() as session:
        for number in numbers:
            bodies = [j.body for j in incidents.incident_detail(session, number).journal]
            assert "Checked by the night shift" in bodies
        linked = problems.get_problem(session, problem).incidents
        assert sorted(i.number for i in linked) == sorted(numbers)


async def _wait_for(pilot, condition, timeout: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds until `condition()` held; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await pilot.pause(0.02)
    return time.monotonic() - started


async def test_another_writers_changes_show_within_a_second_with_the_cursor_unmoved(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    numbers = [create(desk.session, desk, clock, title=f"Ticket {n}") for n in range(4)]
    app = app_for(url, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = queue_table(app)
        await pilot.press("down", "down")
        watched = table.current_key
        other = Database_of(url)
        try:
            with other.session() as session:
                incidents.assign(
                    session, desk["sue"], clock, numbers[0], assignee="bob", group="Network"
                )
                new = incidents.create_incident(
                    session, desk["sue"], clock,
                    incidents.IncidentCreate(title="Core switch down", impact=1, urgency=1),
                ).number  # fmt: skip
        finally:
            other.dispose()
        await _wait_for(pilot, lambda: new in queue_numbers(app))
        await _wait_for(
            pilot, lambda: any(r.number == numbers[0] and r.assignee == "bob" for r in table.rows)
        )
        assert table.current_key == watched
        assert queue_numbers(app)[0] == new  # a P1 is the most urgent
        await _wait_for(pilot, lambda: any("New P1" in n.message for n in app._notifications))


def Database_of(url: str) -> Database:
    return open_database(url)


async def test_an_incident_created_by_another_process_shows_within_a_second(
    desk_db: tuple[str, Desk], clock: FixedClock, tmp_path: Path
) -> None:
    url, desk = desk_db
    create(desk.session, desk, clock, title="Existing")
    app = app_for(url, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        before = queue_table(app).current_key
        subprocess.run(
            [sys.executable, "-m", "itsm_tui", "--db", url, "--user", "bob", "incident", "new",
             "--title", "From another process", "--impact", "2", "--urgency", "2"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        waited = await _wait_for(
            pilot, lambda: any(r.title == "From another process" for r in queue_table(app).rows)
        )
        assert waited < 1.0
        assert queue_table(app).current_key == before


async def test_a_mention_lights_the_inbox_and_opens_the_incident(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    number = create(desk.session, desk, clock, title="Ask alice", group="Network", user="bob")
    app = app_for(url, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.unread == 0
        incidents.add_note(desk.session, desk["bob"], clock, number, "@alice can you check?")
        header = app.screen.query_one("#desk-header")
        await _wait_for(pilot, lambda: "1 unread" in str(header.render()), timeout=3.0)
        assert app.unread == 1
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen)
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        assert type(app.screen).__name__ == "IncidentDetailScreen"
        await _wait_for(pilot, lambda: app.unread == 0, timeout=3.0)
    with open_database(url).session() as session:
        assert notifications.unread_count(session, desk["alice"]) == 0


async def test_help_lists_the_live_bindings_and_modes_switch_by_number(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, _ = desk_db
    app = app_for(url, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = {row[2] for row in app.screen.rows}
        assert {"Mine", "Bulk assign", "Save view", "Search", "Inbox", "Quit"} <= described
        await pilot.press("escape")
        for key, mode in (("2", "changes"), ("3", "problems"), ("4", "sla"), ("1", "incidents")):
            await pilot.press(key)
            await settle(pilot)
            assert app.current_mode == mode


async def test_the_palette_goes_to_an_incident_by_number(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    numbers = [create(desk.session, desk, clock, title=f"[red]T{n}[/red]") for n in range(3)]
    app = app_for(url, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*numbers[1][-3:])
        await until(pilot, lambda: numbers[1] in palette_highlight(app), "the palette's hit")
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        assert type(app.screen).__name__ == "IncidentDetailScreen"
        assert app.screen.number == numbers[1]  # type: ignore[attr-defined]


async def test_the_clock_tick_repaints_only_lines_whose_countdown_changed(
    desk_db: tuple[str, Desk], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over SSH every repainted line is bytes on the wire: a tick with nothing changed
    repaints nothing; after a minute, the rows whose countdown moved are repainted."""
    url, desk = desk_db
    for index in range(3):
        create(desk.session, desk, clock, title=f"Ticket {index}", impact=2, urgency=2)
    app = app_for(url, clock, feed_interval_s=3600)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = queue_table(app)
        before = [table.render_line(y).text for y in range(1, 4)]
        repainted: list[int] = []

        def count_lines(*regions: Region, **_: object) -> None:
            """Every line a refresh asks to repaint; none given means the whole widget."""
            for region in regions or (Region(0, 0, table.size.width, table.size.height),):
                repainted.extend(range(region.y, region.bottom))

        monkeypatch.setattr(table, "refresh", count_lines)
        table.tick()
        assert repainted == []  # same second, same text: nothing sent
        clock.advance(minutes=7)
        table.tick()
        after = [table.render_line(y).text for y in range(1, 4)]
        assert sorted(repainted) == [1, 2, 3] and after != before
