"""Snapshots of the reports screen at 80x24 and 200x60: the crafted desk of the service
tests (incidents, changes and problems told through the services at fixed times), the
SLA report over the last 30 days, a fixed clock, no feed polling and no cursor blink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from tests.conftest import copy_of_built
from tests.test_services_desk_reports import NOW, crafted
from tests.tui_helpers import seeded_desk, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((200, 60), id="200x60")]


@pytest.fixture
def reports_url(tmp_path: Path) -> str:
    """The crafted desk, built once per test process and copied per shot."""
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    copy_of_built(url, "snapshots_reports", _build)
    return url


def _build(url: str) -> None:
    database, desk = seeded_desk(url, FixedClock(NOW))
    try:
        crafted(desk)
    finally:
        desk.session.close()
        database.dispose()


@pytest.mark.parametrize("size", SIZES)
def test_reports_screen(snap_compare: Any, reports_url: str, size: tuple[int, int]) -> None:
    app = ITSMApp(
        database_url=reports_url,
        username="alice",
        clock=FixedClock(NOW),
        run_evaluator=False,
        feed_interval_s=3600,
    )

    async def steps(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.open_reports()  # type: ignore[attr-defined]
        await settle(pilot, rounds=3)

    assert snap_compare(app, terminal_size=size, run_before=steps)
