"""The SLA dashboard in one app run: mode 4 shows today's figures, `p` moves to the last 7
days, the injected clock entering a new minute reloads (a clock runs out with nothing
written), space pages the body, and enter on the at-risk list opens that incident. Figures
are proved at the service level (`test_services_sla_dashboard.py`); this checks the screen
wires them up."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static

from itsm_tui.clock import FixedClock
from itsm_tui.screens.incident_detail import IncidentDetailScreen
from itsm_tui.screens.sla_dashboard import SlaDashboardScreen
from itsm_tui.store.database import open_database
from itsm_tui.widgets.compliance_gauge import ComplianceGauge
from tests.conftest import T0, seed_directory
from tests.test_services_sla_dashboard import NOW, at, crafted
from tests.tui_helpers import app_for, settle, until


def _text(screen: SlaDashboardScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_period_switch_live_reload_and_open_at_risk(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database = open_database(url)
    with database.session() as session:
        numbers = crafted(seed_directory(session, FixedClock(T0)))
    database.dispose()
    clock = FixedClock(NOW)
    app = app_for(url, clock, user="sue", feed_interval_s=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot, rounds=3)
        screen = app.screen
        assert isinstance(screen, SlaDashboardScreen)
        assert "Today" in _text(screen, "#sla-title")
        overall = [g.summary() for g in screen.query_one("#sla-overall").query(ComplianceGauge)]
        assert overall == [
            "overall response ✗ below 66.7% ▲ up (2/3, target 95%)",
            "overall resolution ✗ below 0.0% ▼ down (0/2, target 95%)",
        ]

        await pilot.press("p")
        await settle(pilot, rounds=3)
        assert "7 days" in _text(screen, "#sla-title")
        gauge = screen.query_one("#sla-overall").query(ComplianceGauge).first()
        assert gauge.summary() == "overall response ✗ below 60.0% · new (3/5, target 95%)"
        assert "! 1 at warning" in _text(screen, "#sla-counts")

        clock.set(at(3, 12))  # C's resolution and F's response run out at 12:00 and 11:35
        # The once-a-second check sees the new minute.
        await until(pilot, lambda: "✗ 4 breached" in _text(screen, "#sla-counts"), "breaches", 3)
        await settle(pilot)
        assert "! 0 at warning" in _text(screen, "#sla-counts")

        body = screen.query_one("#sla-body", VerticalScroll)
        await pilot.press("space")  # pages the body down to the service gauges at 80x24
        await pilot.pause()
        assert body.scroll_y > 0

        listing = screen.query_one("#sla-at-risk", OptionList)
        assert listing.has_focus and listing.highlighted == 0
        await pilot.press("down", "enter")  # E's resolution, second soonest due
        await settle(pilot)
        assert isinstance(app.screen, IncidentDetailScreen)
        assert numbers["E"] in str(app.screen.query_one("DeskHeader").render())

        await pilot.press("escape")  # back to the dashboard: P opens the policies, R reports
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert type(app.screen).__name__ == "SlaPoliciesScreen"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert type(app.screen).__name__ == "ReportsScreen"
