"""Snapshots of the change calendar's month and week views at 80x24 and 160x48.

The data is seeded here through the services (not the demo, which grows on its own): a
closed change, one being implemented, a booked change over midnight with a newcomer that
clashes with it, a freeze with a change inside it, a cancelled change, a busy day that
overflows its cell, a multi-day change and a title that looks like markup. A fixed clock,
no SLA evaluator, no feed polling during the shot, cursor blink off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.services import changes, freeze_windows, slas
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from tests.conftest import Desk, seed_directory
from tests.tui_helpers import settle

SNAPSHOT_TIME = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday morning
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
PLANS = {"implementation_plan": "do", "backout_plan": "undo", "test_plan": "check"}


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _new(
    desk: Desk, clock: FixedClock, title: str, start: datetime, hours: float, **fields: Any
) -> str:
    values: dict[str, Any] = {
        "title": title,
        "change_type": "standard",
        "cis": ("mail-01",),
        "planned_start": start,
        "planned_end": start + timedelta(hours=hours),
        **PLANS,
    } | fields
    data = validate(changes.ChangeCreate, **values)
    # A change manager raises the standard ones (issue 16); alice requests the others.
    raiser = "carl" if values["change_type"] == "standard" else "alice"
    return changes.create_change(desk.session, desk[raiser], clock, data).number


def _move(desk: Desk, clock: FixedClock, number: str, state: str, **fields: Any) -> None:
    move = validate(changes.ChangeMove, state=state, **fields)
    changes.move_change(desk.session, desk["carl"], clock, number, move)


def seed_calendar(url: str) -> None:
    """The calendar's fixture data around March 2026 (see the module docstring)."""
    database = open_database(url)
    clock = FixedClock(datetime(2026, 2, 20, 9, 0, tzinfo=UTC))
    try:
        with database.session() as session:
            slas.ensure_defaults(session, clock, "UTC")
            desk = seed_directory(session, clock)
            vpn = {"cis": ("vpn-gw-01",), "group": "Network"}
            done = _new(desk, clock, "Renew mail TLS certificate", _at(2, 8), 1)
            live = _new(
                desk, clock, "Core switch firmware", _at(4, 9), 3,
                outage_expected=True, tested=False, **vpn,
            )  # fmt: skip
            booked = _new(desk, clock, "Patch mail-01 kernel", _at(5, 22), 4)
            clash = _new(
                desk, clock, "Mail relay upgrade", _at(6, 1), 2, change_type="normal",
                outage_expected=True,
            )  # fmt: skip
            frozen = _new(desk, clock, "Firewall rule cleanup", _at(7, 10), 2, **vpn)
            dropped = _new(desk, clock, "Retire old VPN pool", _at(10, 14), 2, **vpn)
            for hour, title in ((8, "DNS [bold]not bold[/] zone"), (10, "Backup agent"),
                                (13, "Printer queue move"), (15, "Wi-Fi SSID rename")):  # fmt: skip
                _new(desk, clock, title, _at(18, hour), 1, cis=(), service="VPN")
            _new(desk, clock, "Datacentre power test", _at(24, 18), 40, **vpn)
            for number in (done, live, booked):
                _move(desk, clock, number, "scheduled")
            freeze = validate(
                freeze_windows.FreezeCreate,
                name="Quarter close",
                starts_at=_at(7, 6),
                ends_at=_at(8, 18),
                reason="finance close",
            )
            freeze_windows.add_freeze(session, desk["carl"], clock, freeze)
            _move(desk, clock, dropped, "cancelled")
            assert frozen
            clock.set(_at(2, 8, 15))
            _move(desk, clock, done, "implement")
            _move(desk, clock, done, "review", outcome="successful")
            clock.set(_at(2, 10))
            _move(desk, clock, done, "closed", review_notes="went fine")
            clock.set(_at(4, 9, 30))
            _move(desk, clock, live, "implement")
            assert clash
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def calendar_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calendar") / "itsm.sqlite"
    seed_calendar(f"sqlite:///{path}")
    return path


@pytest.fixture
def calendar_url(calendar_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "itsm.sqlite"
    target.write_bytes(calendar_template.read_bytes())
    return f"sqlite:///{target}"


def calendar_app(url: str) -> ITSMApp:
    return ITSMApp(
        database_url=url,
        username="carl",
        clock=FixedClock(SNAPSHOT_TIME),
        run_evaluator=False,
        feed_interval_s=3600,  # nothing changes under the shot
    )


Steps = Callable[[Pilot[Any]], Awaitable[None]]


def _shot(*keys: str) -> Steps:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("2", *keys)
        await settle(pilot, rounds=3)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_month(snap_compare: Any, calendar_url: str, size: tuple[int, int]) -> None:
    assert snap_compare(calendar_app(calendar_url), terminal_size=size, run_before=_shot("right"))


@pytest.mark.parametrize("size", SIZES)
def test_week(snap_compare: Any, calendar_url: str, size: tuple[int, int]) -> None:
    assert snap_compare(calendar_app(calendar_url), terminal_size=size, run_before=_shot("w"))
