"""The change calendar driven by keys, in one app run: arrows and [ ] move, t comes back,
views switch, enter lists a day and opens a change, filters narrow and x clears, the agenda
lists the month, and a change written elsewhere shows up live."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from textual.widgets import OptionList, SelectionList, Static

from itsm_tui.clock import FixedClock
from itsm_tui.screens.change_form import ChangeFormScreen
from itsm_tui.services import changes
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from itsm_tui.store.models import User
from tests.test_snapshots_calendar import SNAPSHOT_TIME, seed_calendar
from tests.tui_helpers import app_for, settle, until


async def test_the_calendar_by_keys(tmp_path: Path) -> None:
    from itsm_tui.screens.calendar_dialogs import CalendarFilterDialog, DayDialog
    from itsm_tui.screens.change_calendar import ChangeCalendarScreen

    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    seed_calendar(url)
    clock = FixedClock(SNAPSHOT_TIME)
    app = app_for(url, clock, "carl")
    opened: list[str] = []
    app.open_change = opened.append  # type: ignore[attr-defined]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChangeCalendarScreen)
        assert (screen.view, screen.selected) == ("month", date(2026, 3, 4))
        assert screen.period is not None and screen.period.first == date(2026, 2, 23)

        async def at(*keys: str) -> date:
            await pilot.press(*keys)
            await settle(pilot)
            return screen.selected

        assert await at("right", "down", "left") == date(2026, 3, 11)
        assert await at("right_square_bracket") == date(2026, 4, 11)
        assert screen.period.first == date(2026, 3, 30)  # April's weeks were read
        assert await at("left_square_bracket", "up") == date(2026, 3, 4)
        assert await at("w", "right_square_bracket") == date(2026, 3, 11)
        assert (screen.view, screen.period.first, screen.period.last) == (
            "week", date(2026, 3, 9), date(2026, 3, 15),
        )  # fmt: skip
        assert await at("t", "m", "right") == date(2026, 3, 5)

        await pilot.press("enter")  # the day list: the kernel patch running over midnight
        await settle(pilot)
        assert isinstance(app.screen, DayDialog)
        assert [e.record.title for e in app.screen.entries] == ["Patch mail-01 kernel"]
        await pilot.press("enter")
        await settle(pilot)
        assert opened == ["CHG0000003"] and app.screen is screen

        await pilot.press("f")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CalendarFilterDialog)
        dialog.query_one(SelectionList).select("scheduled")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert {c.record.state for c in screen.period.changes} == {"scheduled"}
        assert "state: scheduled" in str(screen.query_one("#calendar-title", Static).render())
        await pilot.press("x")
        await settle(pilot)
        assert len(screen.period.changes) == 11

        await pilot.press("g")  # the agenda: every change of March once, enter opens one
        await settle(pilot)
        agenda = screen.query_one("#calendar-agenda", OptionList)
        ids = [agenda.get_option_at_index(i).id for i in range(agenda.option_count)]
        assert [i for i in ids if i] == [f"CHG{n:07d}" for n in range(1, 12)]
        await pilot.press("enter")
        assert opened[-1] == ids[agenda.highlighted or 0]

        database = open_database(url)  # someone else books a change: it shows up live
        try:
            with database.session() as session:
                start = datetime(2026, 3, 20, 9, 0, tzinfo=SNAPSHOT_TIME.tzinfo)
                data = validate(
                    changes.ChangeCreate,
                    title="Late addition",
                    planned_start=start,
                    planned_end=start + timedelta(hours=1),
                )
                actor = session.get(User, 1)
                assert actor is not None
                changes.create_change(session, actor, clock, data)
        finally:
            database.dispose()
        await until(pilot, lambda: len(screen.period.changes) == 12, "the live change")
        await settle(pilot)
        assert [c.record.title for c in screen.period.changes_on(date(2026, 3, 20))] == [
            "Late addition"
        ]

        await pilot.press("n")  # a new change from the calendar
        await settle(pilot)
        assert isinstance(app.screen, ChangeFormScreen)
