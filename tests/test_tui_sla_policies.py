"""The SLA policy editor through the pilot: opened from the palette, an edit refused inline
then saved, the what-if's figures and applying them; a non-admin gets the lists read-only.
The figures themselves are checked at service level (test_services_sla_whatif.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from itsm_tui.clock import FixedClock
from itsm_tui.screens.sla_policies import SlaPoliciesScreen
from itsm_tui.screens.sla_policy_dialogs import CalendarDialog, PolicyDialog, WhatIfDialog
from itsm_tui.store.database import open_database
from itsm_tui.store.models import SlaPolicyRow
from tests.tui_helpers import app_for, create, palette_highlight, seeded_desk, settle, until


def _response_seconds(url: str, name: str) -> int:
    database = open_database(url)
    try:
        with database.session() as session:
            row = session.exec(select(SlaPolicyRow).where(SlaPolicyRow.name == name)).one()
            return row.response_seconds
    finally:
        database.dispose()


async def test_admin_edits_a_policy_and_applies_a_whatif_and_others_only_read(
    tmp_path: Path, clock: FixedClock
) -> None:
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database, desk = seeded_desk(url, clock)
    # A P1 opened 30 minutes ago and not responded to: 30 min of its 24x7 response clock used.
    clock.set(clock.now() - timedelta(minutes=30))
    create(desk.session, desk, clock, impact=1, urgency=1, title="[b]Core down[/b]")
    clock.set(clock.now() + timedelta(minutes=30))
    desk.session.close()
    database.dispose()

    app = app_for(url, clock, user="root")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"SLA policies")
        await until(pilot, lambda: "SLA policies" in palette_highlight(app), "the palette's hit")
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        screen = app.screen
        assert isinstance(screen, SlaPoliciesScreen)
        assert screen.policies[0].name == "P1 critical"

        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, PolicyDialog)
        dialog.form.input("response").value = "4x"
        await pilot.press("enter")
        await settle(pilot)
        assert "cannot read duration '4x'" in dialog.error
        dialog.form.input("response").value = "20m"
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        assert app.screen is screen
        assert _response_seconds(url, "P1 critical") == 20 * 60

        await pilot.press("w")
        await settle(pilot)
        whatif = app.screen
        assert isinstance(whatif, WhatIfDialog)
        whatif.form.input("response").value = "45m"
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        shown = str(whatif.query_one("#whatif-figures").render())
        # 30 min used: breached against 20m today, in progress against 45m.
        assert "response: 20m -> 45m" in shown
        assert "current   met   0  breached   1  in progress   0" in shown
        assert "proposed  met   0  breached   0  in progress   1" in shown
        await pilot.press("a")
        await settle(pilot, rounds=3)
        assert app.screen is screen
        assert _response_seconds(url, "P1 critical") == 45 * 60

        await pilot.press("n")  # a new policy: the input model's refusal is shown inline too
        await settle(pilot)
        new = app.screen
        assert isinstance(new, PolicyDialog)
        for key, value in (
            ("name", "P1 email"),
            ("priority", "9"),
            ("service", "Email"),
            ("response", "10m"),
            ("resolution", "2h"),
            ("calendar", "24x7"),
            ("actions", "75=notify_assignee; 100=notify_assignee,notify_supervisors"),
            ("pause", "awaiting_vendor"),
        ):
            new.form.input(key).value = value
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert new.error == "priority: priority must be 1 to 5"
        assert new.form.input("priority").has_focus
        new.form.input("priority").value = "1"
        await pilot.press("ctrl+s")
        await settle(pilot, rounds=3)
        assert app.screen is screen
        assert "P1 email" in [p.name for p in screen.policies]
        assert _response_seconds(url, "P1 email") == 600
        added = next(p for p in screen.policies if p.name == "P1 email")
        assert added.actions == {75: ["notify_assignee"], 100: [
            "notify_assignee", "notify_supervisors"
        ]}  # fmt: skip
        assert added.pause == ["on_hold: awaiting_vendor"]

        screen.query_one("#sla-calendars").focus()  # extra closed days on a calendar
        await pilot.press("e")
        await settle(pilot)
        calendar = app.screen
        assert isinstance(calendar, CalendarDialog)
        calendar.form.input("extra").value = "2026-12-24, someday"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "extra dates" in calendar.error
        calendar.form.input("extra").value = "2026-12-24, 2026-12-31"
        await pilot.press("ctrl+s")
        await settle(pilot, rounds=3)
        assert app.screen is screen
        assert ["2026-12-24", "2026-12-31"] in [c.extra_dates for c in screen.calendars]

    viewer = app_for(url, clock, user="vic")
    async with viewer.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        viewer.open_sla_policies()
        await settle(pilot, rounds=3)
        assert isinstance(viewer.screen, SlaPoliciesScreen)
        assert "Read-only" in str(viewer.screen.query_one("#sla-note").render())
        await pilot.press("e", "n", "c")
        await settle(pilot)
        assert isinstance(viewer.screen, SlaPoliciesScreen)  # no editor opened
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(viewer.screen, WhatIfDialog)  # reading the what-if is fine
        viewer.screen.form.input("response").value = "1h"
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        await pilot.press("a")
        await settle(pilot, rounds=3)
        assert "needs the admin role" in viewer.screen.error
    assert _response_seconds(url, "P1 critical") == 45 * 60
