"""Snapshots of the desk on the seeded demo dataset: the queue, an incident's detail, the
create form, the conflict dialog and help, each at 80x24 and 160x48.

Deterministic by construction: a fixed clock (the demo is generated relative to it), the same
demo seed, no SLA evaluator, no feed polling during the shot, cursor blink off, and textual
pinned exactly in pyproject. The demo is built once per test process and copied per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.services import incidents
from itsm_tui.services.incident_changes import changes_of
from itsm_tui.store.database import open_database
from itsm_tui.store.models import User
from tests.conftest import DEMO_TIME
from tests.tui_helpers import queue_table, settle

SNAPSHOT_TIME = DEMO_TIME  # the shared demo's clock (conftest), a Wednesday morning
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
VIEWER = "sam"  # a supervisor: sees every action in the footer


@pytest.fixture
def demo_url(demo_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "snap" / "itsm.sqlite"
    target.parent.mkdir()
    shutil.copy(demo_template, target)
    return f"sqlite:///{target}"


def _app(url: str) -> ITSMApp:
    return ITSMApp(
        database_url=url,
        username=VIEWER,
        clock=FixedClock(SNAPSHOT_TIME),
        run_evaluator=False,
        feed_interval_s=3600,  # nothing changes under the shot
    )


async def _still(pilot: Pilot[Any]) -> None:
    await settle(pilot, rounds=3)
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await pilot.pause()


Steps = Callable[[Pilot[Any]], Awaitable[None]]


def _shot(steps: Steps | None = None) -> Steps:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        if steps is not None:
            await steps(pilot)
        await _still(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_queue(snap_compare: Any, demo_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("down", "down", "space")  # a marked row and the cursor two down

    assert snap_compare(_app(demo_url), terminal_size=size, run_before=_shot(steps))


@pytest.mark.parametrize("size", SIZES)
def test_detail(snap_compare: Any, demo_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")

    assert snap_compare(_app(demo_url), terminal_size=size, run_before=_shot(steps))


@pytest.mark.parametrize("size", SIZES)
def test_new_incident_form(snap_compare: Any, demo_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"VPN drops every hour")

    assert snap_compare(_app(demo_url), terminal_size=size, run_before=_shot(steps))


@pytest.mark.parametrize("size", SIZES)
def test_conflict_dialog(snap_compare: Any, demo_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        number = queue_table(pilot.app).current_key  # type: ignore[arg-type]
        assert number is not None
        await pilot.press("e")
        await settle(pilot)
        form = pilot.app.screen
        form.query_one("#field-title", Input).value = "Replication lag: failing over"
        database = open_database(demo_url)
        try:
            with database.session() as session:
                colleague = session.get(User, 1)  # the demo's admin saves first
                assert colleague is not None
                incidents.update_incident(
                    session,
                    colleague,
                    FixedClock(SNAPSHOT_TIME),
                    number,
                    changes_of(title="Replication lag on web-02 (DBA looking)"),
                )
        finally:
            database.dispose()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(pilot.app.screen).__name__ == "ConflictDialog"

    assert snap_compare(_app(demo_url), terminal_size=size, run_before=_shot(steps))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, demo_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")

    assert snap_compare(_app(demo_url), terminal_size=size, run_before=_shot(steps))
