"""User text is data: a markup corpus renders literally on every screen that shows user text.

The corpus (tests/fuzz_inputs.py) is Rich/Textual markup (`[b]`, `[link=…]`, `[@click=…]`),
a zero-width space, and, planted in the database past the validation as an import could, ANSI
CSI and OSC escapes (OSC 52 clipboard write), a C1 CSI, bidi overrides and isolates.

"Literally" means: the markup shows as typed (its brackets on screen, no link, no click
action); every control, bidi and invisible character shows as a visible escape (`\\x1b`,
`\\u202e`, `\\u200b`) and never reaches the terminal raw. Each screen is checked on what the
compositor would send to the terminal: every segment of every line of the screen.

Two app runs: the NOC wall (SLA list, changes list, then the major-incident takeover), then
the desk visiting the queue, a new-P1 toast, the incident detail with its timeline and the
major banner, the known-error dialog, the change calendar and detail, the problem board and
detail, the SLA dashboard, the inbox, a report's drill-down and the command palette.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text as sa_text
from textual.app import App
from textual.command import CommandList
from textual.widgets._toast import Toast

from itsm_tui.clock import FixedClock
from itsm_tui.services import changes, directory, incidents, problems
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from itsm_tui.wall import WallApp
from itsm_tui.workers.feed_listener import FeedBatch
from tests.conftest import T0
from tests.tui_helpers import app_for, seeded_desk, settle, until

# What the validation accepts (stored through the services) ...
CLEAN = "[b]Mx[/b][link=https://evil.example]L[/link][@click=app.quit]Q[/]z\u200bw"
# ... and what only an import past it could store (appended in SQL).
PLANTED = "\x1b]52;c;ZXZpbA==\x07\x1b[31mR\x9b1m\u202eE\u2066I\u2069"
MARKUP_SHOWN = "[b]Mx[/b][link=https://evil.example]L[/link]"
ESCAPES_SHOWN = ("z\\u200bw", "\\x1b]52;c;ZXZpbA==\\x07", "\\x1b[31mR", "\\x9b1m", "\\u202eE")
RAW = "\x1b\x07\x9b\u202e\u2066\u2069\u200b"
PLANTED_COLUMNS = {
    "incidents": ("title", "description"),
    "changes": ("title", "description", "implementation_plan"),
    "problems": ("title", "description", "root_cause", "workaround"),
    "journal_entries": ("body",),
    "notifications": ("body",),
}


@dataclass
class World:
    url: str
    incident: str
    change: str
    problem: str


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    """A P1 opened three hours before T0 (breached, so on the SLA lists) with a note that
    mentions alice (her inbox), a standard change scheduled at T0 + 3h (today's and this
    week's), and a known error with the same words (suggested on the incident): all of it
    the corpus."""
    early = FixedClock(T0 - timedelta(hours=3))
    database, desk = seeded_desk(sqlite_url, early)
    s = desk.session
    incident = incidents.create_incident(
        s,
        desk["alice"],
        early,
        validate(
            incidents.IncidentCreate,
            title=CLEAN,
            description=CLEAN + "\nline two",
            impact=1,
            urgency=1,
            group="Service Desk",
            assignee="alice",
            service="Email",
        ),
    ).number
    incidents.add_note(s, desk["sue"], early, incident, "@alice " + CLEAN)
    change = changes.create_change(
        s,
        desk["carl"],
        early,
        validate(
            changes.ChangeCreate,
            change_type="standard",
            title=CLEAN,
            description=CLEAN,
            service="Email",
            planned_start=T0 + timedelta(hours=3),
            planned_end=T0 + timedelta(hours=4),
            implementation_plan=CLEAN,
        ),
    ).number
    changes.move_change(
        s, desk["carl"], early, change, validate(changes.ChangeMove, state="scheduled")
    )
    changes.add_note(s, desk["carl"], early, change, CLEAN)
    problem = problems.create_problem(
        s,
        desk["sue"],
        early,
        validate(
            problems.ProblemCreate,
            title=CLEAN,
            description=CLEAN,
            root_cause=CLEAN,
            workaround=CLEAN,
            service="Email",
        ),
    ).number
    s.close()
    with database.engine.begin() as connection:
        for table, columns in PLANTED_COLUMNS.items():
            for column in columns:
                connection.execute(
                    sa_text(f"UPDATE {table} SET {column} = {column} || :planted"),
                    {"planted": PLANTED},
                )
    database.dispose()
    yield World(sqlite_url, incident, change, problem)


def assert_literal(app: App[Any], where: str, *, whole: bool = True) -> None:
    """Everything the current screen would send to the terminal: the markup as typed, no
    raw control/bidi/invisible character, no link or click from user text; with `whole`
    (the text is shown in full there) every escape visible as well."""
    strips = app.screen._compositor.render_strips()  # the compositor's output, per line
    screen = "\n".join("".join(segment.text for segment in strip) for strip in strips)
    # where the text is cut to a column, only its start is sure to be on screen
    shown = MARKUP_SHOWN if whole else MARKUP_SHOWN[: len("[b]Mx[/b]")]
    assert shown in screen, f"{where}: markup not shown literally\n{screen}"
    if whole:
        missing = [shown for shown in ESCAPES_SHOWN if shown not in screen]
        assert not missing, f"{where}: {missing} not shown as escapes\n{screen}"
    for strip in strips:
        for segment in strip:
            raw = [f"U+{ord(c):04X}" for c in segment.text if c in RAW]
            assert not raw, f"{where}: {raw} sent raw in {segment.text!r}"
            style = segment.style
            if style is not None:
                assert "evil" not in (style.link or ""), f"{where}: a link from user text"
                assert style.meta.get("@click") != "app.quit", f"{where}: a click from user text"


def declare_major(url: str, clock: FixedClock, number: str) -> None:
    database = open_database(url)
    try:
        with database.session() as session:
            sue = directory.find_user(session, "sue")
            assert sue is not None
            incidents.set_major(session, sue, clock, number, True)
    finally:
        database.dispose()


async def test_every_screen_shows_the_corpus_literally(world: World, clock: FixedClock) -> None:
    wall = WallApp(
        database_url=world.url, username="alice", clock=clock, views=("sla",), refresh_s=0.1
    )
    async with wall.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert_literal(wall, "wall: breached list", whole=False)
        wall.views = ("sla", "changes")
        wall.rotate()
        await settle(pilot)
        assert_literal(wall, "wall: today's changes")
        declare_major(world.url, clock, world.incident)
        await pilot.pause(0.3)
        await settle(pilot)
        assert_literal(wall, "wall: major takeover")

    app = app_for(world.url, clock, feed_interval_s=3600)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(pilot)
        assert_literal(app, "incident queue and major banner", whole=False)

        app.feed_changed.publish(FeedBatch(frozenset({world.incident}), (world.incident,)))
        await settle(pilot, rounds=3)
        await pilot.pause(0.2)
        assert [n.markup for n in app._notifications] == [False]
        toasts = list(app.screen.query(Toast))
        assert toasts, "a new P1 raises a toast"
        assert_literal(app, "new P1 toast", whole=False)

        app.open_incident(world.incident)
        await settle(pilot)
        assert_literal(app, "incident detail and timeline")
        await pilot.press("K")
        await settle(pilot)
        assert type(app.screen).__name__ == "KnownErrorDialog"
        assert_literal(app, "known-error dialog")
        await pilot.press("escape", "escape")

        await pilot.press("2")
        await settle(pilot)
        assert_literal(app, "change calendar", whole=False)
        app.open_change(world.change)
        await settle(pilot)
        assert_literal(app, "change detail")
        await pilot.press("escape", "3")
        await settle(pilot)
        assert_literal(app, "problem board", whole=False)
        app.open_problem(world.problem)
        await settle(pilot)
        assert_literal(app, "problem detail")
        await pilot.press("escape", "4")
        await settle(pilot)
        assert_literal(app, "SLA dashboard")

        await pilot.press("1", "i")
        await settle(pilot)
        assert type(app.screen).__name__ == "InboxScreen"
        assert_literal(app, "inbox", whole=False)
        await pilot.press("escape")
        app.open_reports()
        await settle(pilot)
        await pilot.press("enter")  # the first report
        await settle(pilot)
        await pilot.press("enter")  # its first row's records
        await settle(pilot)
        assert type(app.screen).__name__ == "DrillDownDialog"
        assert_literal(app, "report drill-down")
        await pilot.press("escape", "escape")
        await settle(pilot)

        await pilot.press("ctrl+p", *world.incident[-4:])

        def palette_lists_the_incident() -> bool:
            """The palette searches in the background: its hit arrives some time later."""
            options = [o for hits in app.screen.query(CommandList) for o in hits.options]
            return any(world.incident in str(option.prompt) for option in options)

        await until(pilot, palette_lists_the_incident, "the palette's incident hit", timeout=10)
        assert_literal(app, "command palette")
