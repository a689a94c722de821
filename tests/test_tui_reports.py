"""The reports screen in one app run: opened from the command palette, switch to the
backlog report, drill down into a row and open an incident from it, come back, and export
the report to a chosen path with a toast naming the file; a change elsewhere reloads it."""

from __future__ import annotations

import csv
from pathlib import Path

from textual.widgets import DataTable, Input, OptionList

from itsm_tui.clock import FixedClock
from itsm_tui.screens.incident_detail import IncidentDetailScreen
from itsm_tui.screens.report_dialogs import DrillDownDialog, ExportDialog
from itsm_tui.screens.reports import ReportsScreen
from itsm_tui.services import directory, incidents
from itsm_tui.services.validation import validate
from tests.test_services_desk_reports import NOW, crafted, inc
from tests.tui_helpers import app_for, palette_highlight, seeded_desk, settle, until


async def test_reports_switch_drill_down_and_export(sqlite_url: str, tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    database, desk = seeded_desk(sqlite_url, clock)
    crafted(desk)
    desk.session.close()
    database.dispose()

    app = app_for(sqlite_url, clock, feed_interval_s=3600)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"Reports")
        await until(pilot, lambda: "Reports" in palette_highlight(app), "the palette's hit")
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        assert screen.report is not None and screen.report.key == "sla"

        await pilot.press("down")  # the list: SLA -> backlog
        await settle(pilot)
        assert screen.report.key == "backlog"
        table = screen.query_one("#reports-table", DataTable)
        assert table.row_count == 3  # Network, Service Desk, all

        await pilot.press("enter")  # from the list into the table, on the Network row
        assert table.has_focus
        await pilot.press("enter")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, DrillDownDialog)
        assert [r.number for r in dialog.records] == [inc(2), inc(6)]
        assert dialog.query_one("#drill-list", OptionList).option_count == 2
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IncidentDetailScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen

        await pilot.press("x")
        await settle(pilot)
        export = app.screen
        assert isinstance(export, ExportDialog)
        path = export.query_one("#export-path", Input)
        assert path.value.endswith("itsm-backlog-20260310-120000.csv")
        target = tmp_path / "exports" / "backlog.csv"
        path.value = str(target)
        path.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        rows = list(csv.reader(target.open(encoding="utf-8")))
        assert rows[1][:7] == ["Network", "0", "2", "0", "0", "0", "2"]
        assert any(str(target) in n.message for n in app._notifications)

        # A new incident elsewhere reaches the backlog through the change feed.
        table.move_cursor(row=1)
        with app.database.session() as session:
            alice = directory.find_user(session, "alice")
            assert alice is not None
            data = validate(incidents.IncidentCreate, title="New", impact=3, urgency=3)
            incidents.create_incident(session, alice, clock, data)
        app.poll_feed()
        await settle(pilot, rounds=3)
        assert screen.report.rows[-1].cells[1] == 2  # <1d: I1 and the new one
        assert table.cursor_row == 1
