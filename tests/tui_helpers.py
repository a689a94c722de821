"""Helpers for pilot tests: seeded desks, settling the app, and reading what a screen shows."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from textual.command import CommandList
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.services import incidents, slas
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.widgets.record_table import RecordTable
from tests.conftest import Desk, copy_of_built, desk_of, seed_directory

# Workers that run as long as the app (the PostgreSQL feed listener): never waited for.
LIFELONG_WORKERS = frozenset({"feed-listen"})


def seeded_desk(url: str, clock: FixedClock) -> tuple[Database, Desk]:
    """A database with SLA defaults and the small test directory. The caller closes
    `desk.session` and disposes the database. On SQLite it is a copy of one seeded once per
    test process for the clock's time."""
    if not url.startswith("sqlite:///"):
        return _seeded(url, clock)
    copy_of_built(url, ("seeded_desk", clock.now()), lambda built: _build(built, clock))
    database = open_database(url)
    return database, desk_of(database.session(), clock)


def _seeded(url: str, clock: FixedClock) -> tuple[Database, Desk]:
    database = open_database(url)
    session = database.session()
    slas.ensure_defaults(session, clock, "UTC")
    return database, seed_directory(session, clock)


def _build(url: str, clock: FixedClock) -> None:
    database, desk = _seeded(url, clock)
    desk.session.close()
    database.dispose()


def create(
    session: Session, desk: Desk, clock: FixedClock, user: str = "alice", **fields: Any
) -> str:
    fields.setdefault("impact", 3)
    fields.setdefault("urgency", 3)
    data = validate(incidents.IncidentCreate, **fields)
    return incidents.create_incident(session, desk[user], clock, data).number


def app_for(url: str, clock: FixedClock, user: str = "alice", **options: Any) -> ITSMApp:
    options.setdefault("run_evaluator", False)
    return ITSMApp(database_url=url, username=user, clock=clock, **options)


async def settle(pilot: Pilot[Any], rounds: int = 2) -> None:
    """Let workers finish and their results land on screen.

    Not `app.workers.wait_for_complete()`: it raises when an exclusive worker was cancelled
    by a newer one, which is normal operation for the queue.
    """
    for _ in range(rounds):
        await pilot.pause()
        for worker in list(pilot.app.workers):
            if worker.group in LIFELONG_WORKERS:
                continue
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
        await pilot.pause()


# A bound on waits for what a worker or timer brings: only how long a real failure takes to
# report, so generous (a machine loaded by other jobs may take seconds for one read).
LOADED_TIMEOUT_S = 30.0


async def until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = LOADED_TIMEOUT_S
) -> None:
    """Pause until `condition()` holds, for what arrives on a timer or an animation frame
    (a scroll into view, a feed poll) rather than with the key press; fails after
    `timeout` seconds naming `what`. The default bound (`LOADED_TIMEOUT_S`) only limits how
    long a real failure takes to report: a loaded machine may need seconds for a palette
    search or a worker's read."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await pilot.pause(0.01)


def palette_highlight(app: ITSMApp) -> str:
    """The command palette's highlighted hit as text; empty until the search has one."""
    found = app.screen.query(CommandList)
    if not found:
        return ""
    hits = found.first()
    if hits.highlighted is None:
        return ""
    return str(hits.get_option_at_index(hits.highlighted).prompt)


def queue_table(app: ITSMApp) -> RecordTable[Any]:
    return app.screen.query_one("#queue-table", RecordTable)


def table_lines(app: ITSMApp) -> list[str]:
    """The queue exactly as drawn, one string per line (header first)."""
    table = queue_table(app)
    return [table.render_line(y).text for y in range(table.size.height)]


def queue_numbers(app: ITSMApp) -> list[str]:
    return [row.number for row in queue_table(app).rows]
