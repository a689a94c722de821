"""Snapshots of the NOC wall's panels and its major-incident takeover, at 80x24 and 200x60
(the per-priority gauges appear on the tall wall), on a small desk seeded through the
services with a fixed clock. No rotation (one view per shot) and no refresh during the shot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from itsm_tui.clock import FixedClock
from itsm_tui.services import changes, incidents
from itsm_tui.services.validation import validate
from itsm_tui.wall import WallApp
from tests.conftest import T0, copy_of_built
from tests.tui_helpers import create, seeded_desk, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((200, 60), id="200x60")]
PLANS = {"implementation_plan": "do", "backout_plan": "undo", "test_plan": "check"}


def _change(desk: Any, clock: FixedClock, title: str, ci: str, start_h: float) -> str:
    start = T0 + timedelta(hours=start_h)
    data = validate(
        changes.ChangeCreate,
        title=title,
        change_type="standard",
        cis=(ci,),
        planned_start=start,
        planned_end=start + timedelta(hours=2),
        **PLANS,
    )
    number = changes.create_change(desk.session, desk["carl"], clock, data).number
    move = validate(changes.ChangeMove, state="scheduled")
    changes.move_change(desk.session, desk["carl"], clock, number, move)
    return number


def _seeded(tmp_path: Path, *, major: bool) -> str:
    """Open incidents of every priority, some breached, some at risk; two changes today, one
    of them being implemented; optionally a declared major incident. Built once per test
    process and copied."""
    url = f"sqlite:///{tmp_path / 'wall.sqlite'}"
    copy_of_built(url, ("snapshots_wall", major), lambda built: _build(built, major=major))
    return url


def _build(url: str, *, major: bool) -> None:
    clock = FixedClock(T0)
    database, desk = seeded_desk(url, clock)
    core = create(desk.session, desk, clock, title="Core switch down [hq]", impact=1, urgency=1)
    for title, impact, urgency in (
        ("VPN drops every hour", 1, 2),
        ("Shared drive slow", 2, 2),
        ("Printer jam on floor 3", 3, 2),
        ("New starter needs a laptop", 3, 3),
    ):
        create(desk.session, desk, clock, title=title, impact=impact, urgency=urgency)
    patch = _change(desk, clock, "Patch mail-01", "mail-01", 1)
    _change(desk, clock, "Rotate VPN certificates", "vpn-gw-01", 5)
    clock.advance(minutes=70)
    create(desk.session, desk, clock, title="Mail delayed", impact=2, urgency=1)
    move = validate(changes.ChangeMove, state="implement")
    changes.move_change(desk.session, desk["carl"], clock, patch, move)
    if major:
        incidents.set_major(desk.session, desk["sue"], clock, core, True, reason="site down")
    desk.session.close()
    database.dispose()


def _app(url: str, view: str) -> WallApp:
    return WallApp(
        database_url=url,
        username="vic",
        clock=FixedClock(T0 + timedelta(minutes=93)),  # "Mail delayed" is at risk
        rotate_s=3600,
        views=(view,),
        refresh_s=3600,
    )


async def _loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, WallApp)
    while app.figures is None:
        await pilot.pause(0.05)
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("view", ["queue", "sla", "changes"])
def test_wall_panel(snap_compare: Any, tmp_path: Path, view: str, size: tuple[int, int]) -> None:
    url = _seeded(tmp_path, major=False)
    assert snap_compare(_app(url, view), terminal_size=size, run_before=_loaded)


def test_wall_major_takeover(snap_compare: Any, tmp_path: Path) -> None:
    url = _seeded(tmp_path, major=True)
    assert snap_compare(_app(url, "queue"), terminal_size=(80, 24), run_before=_loaded)
