"""Snapshots of the problem board at 80x24 and 160x48 and of a problem's detail at 80x24.

The data is told through the services with a fixed clock (not the demo, which grows on its
own): a problem in each board column and more than fit in New at 80x24, one a known error,
one with a successful fix change, linked incidents (one P1 opened days ago that the SLA
evaluator marks breached), and three unlinked VPN incidents on one CI that the detector
reports as a candidate. Cursor blink is
off and the feed does not poll during the shot.
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
from itsm_tui.domain.enums import ChangeOutcome, ChangeState, ProblemState
from itsm_tui.services import changes, problems, sla_evaluator, slas
from itsm_tui.services.changes import ChangeCreate, ChangeMove
from itsm_tui.services.problems import ProblemCreate, ProblemMove, ProblemUpdate
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from tests.conftest import T0, Desk, copy_of_built, seed_directory
from tests.tui_helpers import create, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def seed_problems(desk: Desk) -> dict[str, str]:
    """Problems across the board told through the services; returns numbers by role.
    The clock is walked back and forth so ages differ, and left at T0."""
    clock = desk.clock
    session, alice = desk.session, desk["alice"]

    def at(days: float) -> None:
        clock.set(T0 - timedelta(days=days))

    def problem(title: str, days: float, **fields: Any) -> str:
        at(days)
        data = validate(ProblemCreate, title=title, **fields)
        return problems.create_problem(session, alice, clock, data).number

    def move(number: str, *states: ProblemState, **fields: Any) -> None:
        for state in states:
            problems.move_problem(session, alice, clock, number, ProblemMove(state=state, **fields))

    at(12)
    mail = [
        create(session, desk, clock, title=f"Mail stuck in outbox ({n})", service="Email")
        for n in range(2)
    ]
    at(9)
    urgent = create(session, desk, clock, title="Nobody can send mail", impact=1, urgency=1)
    numbers = {
        "new": problem(
            "Mail queue stalls every Monday [weekly]",
            3,
            service="Email",
            cis=("mail-01",),
            impact=2,
            urgency=2,
            incidents=(*mail, urgent),
        ),
        "assess": problem("Printers drop off the network", 6, impact=3, urgency=2),
        "rca": problem(
            "VPN disconnects after 8 hours",
            10,
            service="VPN",
            root_cause="Gateway session timeout is 8h by default.",
            workaround="Reconnect; sessions then last another 8 hours.",
        ),
        "fix": problem("Calendar sync duplicates events", 20, impact=2, urgency=3),
        "resolved": problem("Disk alerts flood the mail queue", 30, service="Email"),
        "closed": problem("Login page times out at peak", 45, impact=1, urgency=2),
    }
    at(2)
    move(numbers["assess"], ProblemState.ASSESS)
    move(numbers["rca"], ProblemState.ASSESS, ProblemState.ROOT_CAUSE_ANALYSIS)
    problems.update_problem(
        session,
        alice,
        clock,
        numbers["fix"],
        ProblemUpdate(root_cause="Two sync jobs run at once after a failover."),
    )
    move(
        numbers["fix"],
        ProblemState.ASSESS,
        ProblemState.ROOT_CAUSE_ANALYSIS,
        ProblemState.FIX_IN_PROGRESS,
    )
    for key in ("resolved", "closed"):
        problems.update_problem(
            session, alice, clock, numbers[key], ProblemUpdate(root_cause="Cause found.")
        )
        move(
            numbers[key],
            ProblemState.ASSESS,
            ProblemState.ROOT_CAUSE_ANALYSIS,
            ProblemState.FIX_IN_PROGRESS,
        )
        move(
            numbers[key],
            ProblemState.RESOLVED,
            reason="the workaround holds",
            resolution_notes="Alert threshold raised.",
        )
    move(numbers["closed"], ProblemState.CLOSED)
    start = clock.now() + timedelta(hours=1)
    fix = changes.create_change(
        session,
        desk["carl"],  # a change manager raises a standard change (issue 16), for alice
        clock,
        validate(
            ChangeCreate,
            title="Serialise calendar sync jobs",
            change_type="standard",
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            assignee="alice",
        ),
    ).number
    problems.update_problem(session, alice, clock, numbers["fix"], ProblemUpdate(fix_change=fix))
    changes.move_change(session, alice, clock, fix, ChangeMove(state=ChangeState.SCHEDULED))
    clock.set(start + timedelta(minutes=30))
    for state, extra in (
        (ChangeState.IMPLEMENT, {}),
        (ChangeState.REVIEW, {"outcome": ChangeOutcome.SUCCESSFUL}),
        (ChangeState.CLOSED, {"review_notes": "No duplicates since."}),
    ):
        changes.move_change(session, alice, clock, fix, ChangeMove(state=state, **extra))
    numbers["change"] = fix
    for days, title in ((1, "Wi-Fi drops in building B"), (4, "Shared drive slow after 17:00")):
        problem(title, days, impact=3, urgency=2)  # P4: after the P3 in the New column
    problem("Badge readers reject new cards", 8)
    at(5)
    for n in range(3):
        clock.advance(hours=20)
        create(session, desk, clock, title=f"VPN tunnel flaps ({n})", ci="vpn-gw-01")
    clock.set(T0)
    sla_evaluator.evaluate(session, clock)  # the P1 incident is days past its targets
    return numbers


@pytest.fixture
def problem_url(tmp_path: Path) -> str:
    """The problems of `seed_problems`, built once per test process and copied per shot."""
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    copy_of_built(url, "snapshots_problems", _build)
    return url


def _build(url: str) -> None:
    clock = FixedClock(T0)
    database = open_database(url)
    try:
        with database.session() as session:
            slas.ensure_defaults(session, clock, "UTC")
            seed_problems(seed_directory(session, clock))
    finally:
        database.dispose()


def _app(url: str) -> ITSMApp:
    return ITSMApp(
        database_url=url,
        username="alice",
        clock=FixedClock(T0),
        run_evaluator=False,
        feed_interval_s=3600,
    )


async def _still(pilot: Pilot[Any]) -> None:
    await settle(pilot, rounds=3)
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_problem_board(snap_compare: Any, problem_url: str, size: tuple[int, int]) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("3")
        await _still(pilot)

    assert snap_compare(_app(problem_url), terminal_size=size, run_before=steps)


def test_problem_detail(snap_compare: Any, problem_url: str) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.open_problem("PRB0000001")  # type: ignore[attr-defined]
        await _still(pilot)

    assert snap_compare(_app(problem_url), terminal_size=(80, 24), run_before=steps)
