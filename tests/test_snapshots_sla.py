"""Snapshots of the SLA dashboard (mode 4) at 80x24 (today) and 200x60 (after `p`: the last
7 days, with a daily series).

The data is the crafted desk of `tests/test_services_sla_dashboard.py`, told through the
incident services with a fixed clock and read at its NOW (Tue 2026-03-03 11:30 UTC): met and
breached clocks on Monday and Tuesday, one clock at warning, one paused, two running. Cursor
blink is off and the feed does not poll during the shot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.store.database import open_database
from tests.conftest import T0, copy_of_built, seed_directory
from tests.test_services_sla_dashboard import NOW, crafted
from tests.tui_helpers import settle


@pytest.fixture
def sla_url(tmp_path: Path) -> str:
    """The crafted desk, built once per test process and copied per shot."""
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    copy_of_built(url, "snapshots_sla", _build)
    return url


def _build(url: str) -> None:
    database = open_database(url)
    try:
        with database.session() as session:
            crafted(seed_directory(session, FixedClock(T0)))
    finally:
        database.dispose()


def _app(url: str) -> ITSMApp:
    return ITSMApp(
        database_url=url,
        username="sue",
        clock=FixedClock(NOW),
        run_evaluator=False,
        feed_interval_s=3600,
    )


@pytest.mark.parametrize(
    ("size", "keys"),
    [
        pytest.param((80, 24), ("4",), id="80x24-today"),
        pytest.param((200, 60), ("4", "p"), id="200x60-7days"),
    ],
)
def test_sla_dashboard(
    snap_compare: Any, sla_url: str, size: tuple[int, int], keys: tuple[str, ...]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, rounds=3)

    assert snap_compare(_app(sla_url), terminal_size=size, run_before=steps)
