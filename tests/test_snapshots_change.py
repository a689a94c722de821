"""Snapshots of a change's detail and its edit form at 80x24 and 160x48.

The data is told through the services with a fixed clock, so every number, time and vote is
the same on every run: a high-risk normal change (risk overridden with a reason) waiting in
authorize with one CAB vote in, a standard change booked on the same CI in an overlapping
window (a conflict), an incident blamed on it, and a desk in Europe/Berlin so windows show in
local time. Cursor blink is off and the feed does not poll during the shot.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import ApprovalDecision, ChangeState
from itsm_tui.services import changes, incidents, slas
from itsm_tui.services.changes import ChangeCreate, ChangeMove
from itsm_tui.services.incident_changes import changes_of
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from tests.conftest import T0, copy_of_built, seed_directory
from tests.tui_helpers import create, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
ZONE = "Europe/Berlin"
START = T0 + timedelta(days=3, hours=12)  # Thursday 21:00 UTC, 22:00 in Berlin
NUMBER = "CHG0000001"


@pytest.fixture
def change_url(tmp_path: Path) -> str:
    """The change and its incident, built once per test process and copied per shot."""
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    copy_of_built(url, "snapshots_change", _build)
    return url


def _build(url: str) -> None:
    clock = FixedClock(T0)
    database = open_database(url)
    try:
        with database.session() as session:
            slas.ensure_defaults(session, clock, "UTC")
            desk = seed_directory(session, clock)
            data = validate(
                ChangeCreate,
                title="Upgrade VPN gateway firmware to 7.4",
                description="Vendor advisory [CVE-2026-1234]: the gateway needs 7.4.",
                justification="Closes a remotely exploitable hole before the audit.",
                service="VPN",
                cis=("vpn-gw-01",),
                impact=2,
                outage_expected=True,
                risk_override="high",
                risk_override_reason="first major firmware jump on this model",
                planned_start=START,
                planned_end=START + timedelta(hours=2),
                implementation_plan="1. Drain sessions\n2. Flash 7.4\n3. Reboot",
                backout_plan="Boot the previous image from slot B.",
                test_plan="Connect from the test laptop; check the tunnel count.",
                assignee="bob",
                group="Network",
            )
            number = changes.create_change(session, desk["alice"], clock, data).number
            assert number == NUMBER
            for state, approvers in ((ChangeState.ASSESS, ()), (ChangeState.AUTHORIZE, ("sue",))):
                changes.move_change(
                    session,
                    desk["alice"],
                    clock,
                    number,
                    ChangeMove(state=state, approvers=approvers),
                )
            changes.vote(
                session,
                desk["sue"],
                clock,
                number,
                ApprovalDecision.APPROVED,
                comment="fine from the network side",
            )
            booked = validate(
                ChangeCreate,
                title="Rotate VPN certificates",
                change_type="standard",
                cis=("vpn-gw-01",),
                planned_start=START + timedelta(hours=1),
                planned_end=START + timedelta(hours=3),
            )
            # Standard: a change manager raises and books it (issue 16). No assignee: bob
            # taking it too would add an assignee clash to the picture.
            other = changes.create_change(session, desk["carl"], clock, booked).number
            changes.move_change(
                session, desk["carl"], clock, other, ChangeMove(state=ChangeState.SCHEDULED)
            )
            incident = create(session, desk, clock, title="VPN drops after the upgrade test")
            incidents.update_incident(
                session, desk["alice"], clock, incident, changes_of(caused_by=number)
            )
    finally:
        database.dispose()


def _app(url: str) -> ITSMApp:
    return ITSMApp(
        database_url=url,
        username="carl",  # a change manager who may vote: a and r are in the footer
        clock=FixedClock(T0),
        run_evaluator=False,
        feed_interval_s=3600,
        timezone=ZONE,
    )


async def _still(pilot: Pilot[Any]) -> None:
    await settle(pilot, rounds=3)
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_change_detail(snap_compare: Any, change_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.open_change(NUMBER)  # type: ignore[attr-defined]
        await _still(pilot)

    assert snap_compare(_app(change_url), terminal_size=size, run_before=steps)


@pytest.mark.parametrize("size", SIZES)
def test_change_form(snap_compare: Any, change_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.open_change_form(NUMBER)  # type: ignore[attr-defined]
        await _still(pilot)

    assert snap_compare(_app(change_url), terminal_size=size, run_before=steps)
