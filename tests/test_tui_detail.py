"""The incident detail screen and its action dialogs, driven through Textual's pilot.

Each test presses keys as an agent would and then checks the DATABASE through the services:
what the screen shows is only trusted once the write is proven. Dialog refusals are checked
to write nothing at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from rich.text import Text
from sqlalchemy import text as sa_text
from sqlmodel import select
from textual.geometry import Region
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Select, Static

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import IncidentState
from itsm_tui.screens.context import FeedBatch
from itsm_tui.screens.dialogs import (
    ActionDialog,
    AssignDialog,
    ConfirmDialog,
    EscalateDialog,
    NoteDialog,
    ReasonDialog,
    StateDialog,
)
from itsm_tui.screens.incident_detail import IncidentDetailScreen
from itsm_tui.services import directory, incidents, slas
from itsm_tui.services.records import (
    AuditRecord,
    IncidentDetail,
    IncidentRecord,
    JournalRecord,
    SlaClockRecord,
)
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import Incident
from itsm_tui.widgets.sla_gauge import GaugeStatus, SlaGauge, gauge_status
from itsm_tui.widgets.timeline import Timeline, merge_entries
from tests.conftest import T0, copy_of_built, seed_directory
from tests.service_helpers import footprint
from tests.tui_helpers import settle

MARKUP_TITLE = "[red]x[/red] [link=http://e.x]y[/link] \x1b[2J"
SHOWN_TITLE = "[red]x[/red] [link=http://e.x]y[/link] \\x1b[2J"


@dataclass
class World:
    url: str
    clock: FixedClock
    number: str

    def detail(self) -> IncidentDetail:
        database = open_database(self.url)
        try:
            with database.session() as session:
                return incidents.incident_detail(session, self.number, self.clock.now())
        finally:
            database.dispose()

    def record(self) -> IncidentRecord:
        return self.detail().incident

    def database(self) -> Database:
        return open_database(self.url)


@pytest.fixture
def world(sqlite_url: str, clock: FixedClock) -> World:
    """A seeded desk with SLA policies and one new P3 incident in Service Desk (built once per
    test process and copied)."""
    when = clock.now()
    copy_of_built(sqlite_url, ("tui_detail", when), lambda url: _build(url, FixedClock(when)))
    database = open_database(sqlite_url, migrate=False)  # the app's first open migrates
    with database.session() as session:
        number = session.exec(select(Incident.number)).one()
    database.dispose()
    return World(url=sqlite_url, clock=clock, number=number)


def _build(url: str, clock: FixedClock) -> None:
    database = open_database(url)
    with database.session() as session:
        desk = seed_directory(session, clock)
        slas.ensure_defaults(session, clock, "UTC")
        incidents.create_incident(
            session,
            desk["alice"],
            clock,
            validate(
                incidents.IncidentCreate,
                title="Mail bounces",
                impact=2,
                urgency=2,
                group="Service Desk",
                caller="Dana",
            ),
        )
    database.dispose()


@dataclass
class Desk:
    """The running app, its pilot, and every notification shown so far."""

    app: ITSMApp
    pilot: Pilot[None]
    notes: list[str]

    @property
    def screen(self) -> IncidentDetailScreen:
        screen = self.app.screen
        assert isinstance(screen, IncidentDetailScreen), screen
        return screen

    async def settle(self) -> None:
        """Let dismiss callbacks start their workers, the workers finish, and the results
        reach the widgets."""
        await settle(self.pilot)

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.settle()

    async def type(self, text: str) -> None:
        await self.pilot.press(*text)  # one key per character; spaces are "space"-free here
        await self.settle()

    def dialog(self, kind: type[ActionDialog]) -> ActionDialog:  # type: ignore[type-arg]
        screen = self.app.screen
        assert isinstance(screen, kind), screen
        return screen


@asynccontextmanager
async def opened(
    world: World, username: str = "alice", size: tuple[int, int] = (100, 40)
) -> AsyncIterator[Desk]:
    notes: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification.message)

    # No feed polling: a test publishes feed batches itself, so reloads happen when it says.
    app = ITSMApp(
        database_url=world.url,
        username=username,
        clock=world.clock,
        run_evaluator=False,
        feed_interval_s=3600,
    )
    async with app.run_test(size=size, message_hook=hook) as pilot:
        await app.push_screen(IncidentDetailScreen(world.number))
        desk = Desk(app, pilot, notes)
        await desk.settle()
        yield desk


def shown(desk: Desk, selector: str) -> str:
    return str(desk.screen.query_one(selector, Static).content)


# ---------------------------------------------------------------------------- tests


async def test_shows_every_field_sla_and_timeline(world: World) -> None:
    async with opened(world) as desk:
        assert "Mail bounces" in shown(desk, "#detail-heading")
        assert shown(desk, "#field-state") == "new"
        assert shown(desk, "#field-priority") == "P3 (impact 2, urgency 2)"
        assert shown(desk, "#field-group") == "Service Desk"
        assert shown(desk, "#field-caller") == "Dana"
        assert shown(desk, "#field-version") == "1"
        gauges = list(desk.screen.query(SlaGauge))
        assert sorted(g.clock.kind for g in gauges) == ["resolution", "response"]
        assert all(g.summary().startswith("✓ on track") for g in gauges)
        timeline = desk.screen.query_one(Timeline).plain()
        assert "alice  changed" in timeline and "title: - -> Mail bounces" in timeline


async def test_assign_to_me(world: World) -> None:
    async with opened(world) as desk:
        await desk.press("m")
        assert shown(desk, "#field-assignee").startswith("alice")
    assert world.record().assignee == "alice"


async def test_assign_through_the_dialog_with_search(world: World) -> None:
    async with opened(world, "sue") as desk:
        await desk.press("a")
        dialog = desk.dialog(AssignDialog)
        await desk.type("netw")
        await desk.press("tab")
        await desk.type("bob")
        await desk.press("enter")
        assert not isinstance(desk.app.screen, AssignDialog), dialog.error
        assert shown(desk, "#field-group") == "Network"
    record = world.record()
    assert (record.group, record.assignee) == ("Network", "bob")


async def test_hold_needs_a_reason_inline_and_writes_nothing_without(world: World) -> None:
    database = world.database()
    before = footprint(database)
    async with opened(world) as desk:
        await desk.press("s")
        dialog = desk.dialog(StateDialog)
        await desk.press("down")  # in_progress -> on_hold
        await desk.press("enter")
        assert "hold reason" in dialog.error
        assert desk.app.screen is dialog  # still open
        assert footprint(database) == before
        # The hold-reason select has the focus: open it and pick the first reason.
        assert isinstance(desk.app.focused, Select)
        await desk.press("enter", "down", "enter")
        await desk.press("ctrl+s")
        assert desk.app.screen is desk.screen
    database.dispose()
    record = world.record()
    assert (record.state, record.hold_reason) == ("on_hold", "awaiting_caller")


async def test_resolve_with_code_and_notes_then_reopen_with_reason(world: World) -> None:
    async with opened(world, "sue") as desk:
        await desk.press("s", "down", "down")  # resolved
        dialog = desk.dialog(StateDialog)
        await desk.press("ctrl+s")
        assert "resolution code" in dialog.error
        await desk.press("enter", "down", "enter")  # first code
        await desk.press("ctrl+s")
        assert "resolution notes" in dialog.error
        await desk.type("Restarted")
        await desk.press("ctrl+s")
        assert desk.app.screen is desk.screen
        assert world.record().state == "resolved"

        await desk.press("s")  # from resolved: in_progress (reopen), closed
        dialog = desk.dialog(StateDialog)
        await desk.press("enter")
        assert "reason" in dialog.error.lower()
        await desk.type("Still")
        await desk.press("enter")
        assert desk.app.screen is desk.screen
    detail = world.detail()
    assert detail.incident.state == "in_progress"
    assert detail.incident.resolution_code is None
    assert any(e.kind == "system" and e.body.endswith(": Still") for e in detail.journal)


async def test_resolution_is_stored(world: World) -> None:
    async with opened(world, "sue") as desk:
        await desk.press("s", "down", "down", "tab")  # resolved, then its code select
        await desk.press("enter", "down", "down", "enter")  # second code: solved_workaround
        await desk.press("tab")  # the notes
        await desk.type("Fix")
        await desk.press("ctrl+s")
    record = world.record()
    assert (record.state, record.resolution_code, record.resolution_notes) == (
        "resolved",
        "solved_workaround",
        "Fix",
    )


async def test_work_note_and_customer_comment(world: World) -> None:
    async with opened(world) as desk:
        await desk.press("n")
        dialog = desk.dialog(NoteDialog)
        assert "internal" in dialog.dialog_title.plain.lower()
        await desk.press("ctrl+s")
        assert "Write something" in dialog.error  # blank is refused inline
        await desk.type("Checked")
        await desk.press("ctrl+s")
        await desk.press("c")
        assert "caller sees" in desk.dialog(NoteDialog).dialog_title.plain
        await desk.type("Hello")
        await desk.press("ctrl+s")
        timeline = desk.screen.query_one(Timeline).plain()
        assert (
            "work note\n  Checked" in timeline and "comment (caller sees this)\n  Hello" in timeline
        )
    journal = [(e.kind, e.body) for e in world.detail().journal]
    assert journal == [("work_note", "Checked"), ("comment", "Hello")]


async def test_escalate_to_the_default_group(world: World) -> None:
    async with opened(world) as desk:
        await desk.press("x")
        dialog = desk.dialog(EscalateDialog)
        await desk.press("enter")
        assert "reason" in dialog.error
        await desk.type("Router")
        await desk.press("enter")
        assert shown(desk, "#field-group") == "Network"
    detail = world.detail()
    assert detail.incident.group == "Network"
    assert detail.journal[-1].body == "Escalated from Service Desk to Network: Router"


async def test_supervisor_declares_major(world: World) -> None:
    async with opened(world, "sue") as desk:
        await desk.press("M")
        desk.dialog(ReasonDialog)
        await desk.type("Outage")
        await desk.press("enter")
        assert "MAJOR" in shown(desk, "#field-major")
    assert world.record().major is True


async def test_agent_is_refused_major_by_the_service(world: World) -> None:
    database = world.database()
    before = footprint(database)
    async with opened(world) as desk:
        await desk.press("M")
        assert desk.app.screen is desk.screen  # no dialog for a refusal
        assert any("only supervisors and admins" in note for note in desk.notes), desk.notes
    assert footprint(database) == before
    database.dispose()


async def test_stale_version_is_a_conflict_and_reloads(world: World) -> None:
    async with opened(world) as desk:
        database = world.database()
        with database.session() as session:  # a colleague changes it meanwhile
            sue = directory.find_user(session, "sue")
            assert sue is not None
            incidents.transition(session, sue, world.clock, world.number, "in_progress")
        database.dispose()
        assert shown(desk, "#field-version") == "1"  # still the old copy
        await desk.press("m")
        assert any("someone changed it" in note for note in desk.notes), desk.notes
        assert shown(desk, "#field-state") == "in progress"  # reloaded
        assert shown(desk, "#field-version") == "2"
    assert world.record().assignee is None


async def test_markup_in_the_title_is_shown_literally(world: World) -> None:
    """The title went in through the service without the escape code (validation refuses
    controls) and then gained it the way an import around validation would; the detail and
    the timeline (its creation audit) both show it as typed, escape made visible."""
    database = world.database()
    with database.session() as session:
        alice = directory.find_user(session, "alice")
        assert alice is not None
        clean = MARKUP_TITLE.removesuffix(" \x1b[2J")
        data = validate(incidents.IncidentCreate, title=clean, impact=3, urgency=3)
        number = incidents.create_incident(session, alice, world.clock, data).number
    with database.engine.begin() as connection:
        connection.execute(
            sa_text("UPDATE incidents SET title = :t WHERE number = :n"),
            {"t": MARKUP_TITLE, "n": number},
        )
        # the trail is append-only; a raw import would have had to drop the guard first
        connection.execute(sa_text("DROP TRIGGER audit_entries_no_update"))
        connection.execute(
            sa_text("UPDATE audit_entries SET new_value = :t WHERE new_value = :clean"),
            {"t": MARKUP_TITLE, "clean": clean},
        )
    database.dispose()
    world.number = number
    async with opened(world) as desk:
        heading = desk.screen.query_one("#detail-heading", Static).content
        assert isinstance(heading, Text)
        assert heading.plain == f"{number}  {SHOWN_TITLE}"
        assert not heading.spans  # no colour, no link parsed out of the brackets
        timeline = desk.screen.query_one(Timeline)
        assert f"title: - -> {SHOWN_TITLE}" in timeline.plain()
        assert "[link=" not in str(timeline.render().spans)  # plain data, no link style
        # What is actually drawn: the brackets and the escape as text, no link anywhere.
        for widget in (desk.screen.query_one("#detail-heading"), timeline):
            strips = widget.render_lines(Region(0, 0, *widget.region.size))
            assert "[red]x[/red]" in "".join(strip.text for strip in strips)
            assert not any(seg.style and seg.style.link for strip in strips for seg in strip)


async def test_fits_80x24_scrolling_and_every_dialog_fits(world: World) -> None:
    async with opened(world, size=(80, 24)) as desk:
        assert desk.screen.has_class("-narrow")
        body = desk.screen.query_one("#detail-body")
        assert body.max_scroll_y > 0  # the rest is reached by scrolling
        # The tallest variant of each dialog (the state dialog with the resolution fields).
        for keys in (("a",), ("s", "down", "down"), ("x",), ("n",)):
            await desk.press(*keys)
            frame = desk.app.screen.query_one(".dialog")
            assert frame.region.bottom <= 24 and frame.region.right <= 80, keys
            hint = desk.app.screen.query_one(".dialog-hint")
            assert hint.region.bottom <= frame.region.bottom, keys  # not scrolled away
            await desk.press("escape")
            assert desk.app.screen is desk.screen


async def test_wide_terminal_shows_two_fields_per_row(world: World) -> None:
    async with opened(world, size=(160, 48)) as desk:
        assert desk.screen.has_class("-wide")
        state = desk.screen.query_one("#field-state")
        priority = desk.screen.query_one("#field-priority")
        assert state.region.y == priority.region.y and priority.region.x > state.region.right
        timeline = desk.screen.query_one(Timeline)
        assert timeline.region.bottom <= 48  # everything visible without scrolling


async def test_a_feed_batch_for_this_incident_reloads_it(world: World) -> None:
    async with opened(world) as desk:
        database = world.database()
        with database.session() as session:
            sue = directory.find_user(session, "sue")
            assert sue is not None
            incidents.transition(session, sue, world.clock, world.number, "in_progress")
        database.dispose()
        desk.app.feed_changed.publish(FeedBatch(changed=frozenset({"INC0000099"})))
        await desk.settle()
        assert shown(desk, "#field-state") == "new"  # not ours: no reload
        desk.app.feed_changed.publish(FeedBatch(changed=frozenset({world.number})))
        await desk.settle()
        assert shown(desk, "#field-state") == "in progress"


async def test_dialogs_work_without_a_current_incident(world: World) -> None:
    """The queue's bulk actions open the dialogs with no single current state or group."""
    results: list[object] = []
    async with opened(world) as desk:
        desk.app.push_screen(StateDialog(None), results.append)
        await desk.settle()
        dialog = desk.dialog(StateDialog)
        assert dialog.targets == [
            IncidentState.IN_PROGRESS,
            IncidentState.ON_HOLD,
            IncidentState.RESOLVED,
            IncidentState.CLOSED,
            IncidentState.CANCELLED,
        ]
        await desk.press("down", "down", "enter")  # resolved: still needs a code
        assert "resolution code" in dialog.error
        await desk.press("escape")
        desk.app.push_screen(ConfirmDialog("[b]sure?[/b]"), results.append)
        await desk.settle()
        message = desk.app.screen.query_one(".dialog-message", Static).content
        assert str(message) == "[b]sure?[/b]"
        await desk.press("enter")
        desk.app.push_screen(ConfirmDialog("again?"), results.append)
        await desk.settle()
        await desk.press("n")
    assert results == [None, True, False]


# ---------------------------------------------------------------------------- pure helpers


def clock_record(
    percent: float, stage: str = "in_progress", paused: bool = False
) -> SlaClockRecord:
    return SlaClockRecord(
        kind="resolution",
        policy="P3 moderate",
        stage=stage,
        due_at=T0,
        percent_used=percent,
        paused=paused,
        target_seconds=3600,
    )


@pytest.mark.parametrize(
    ("record", "status"),
    [
        (clock_record(74.9), GaugeStatus.OK),
        (clock_record(75), GaugeStatus.WARNING),
        (clock_record(100), GaugeStatus.BREACHED),
        (clock_record(120, "breached"), GaugeStatus.BREACHED),
        (clock_record(80, "paused", paused=True), GaugeStatus.PAUSED),
        (clock_record(30, "achieved"), GaugeStatus.ACHIEVED),
        (clock_record(30, "cancelled"), GaugeStatus.CANCELLED),
    ],
)
def test_gauge_status_reads_without_colour(record: SlaClockRecord, status: GaugeStatus) -> None:
    assert gauge_status(record) is status
    assert status.symbol and status.label  # a symbol and a word, not only a colour


def test_timeline_merges_by_time_and_groups_one_change() -> None:
    later = T0.replace(hour=10)
    audit = [
        AuditRecord(field="state", old_value="new", new_value="in_progress", actor="bob", at=T0),
        AuditRecord(field="assignee", old_value=None, new_value="bob", actor="bob", at=T0),
    ]
    journal = [
        JournalRecord(kind="work_note", author="bob", body="a\n[b]b[/b]", created_at=later),
        JournalRecord(kind="system", author="bob", body="why", created_at=T0),
    ]
    oldest_first = merge_entries(journal, audit, newest_first=False)
    assert [(e.kind, len(e.lines)) for e in oldest_first] == [
        ("audit", 2),  # one change of two fields
        ("system", 1),  # the reason written with it comes after it
        ("work_note", 2),  # one line per body line
    ]
    assert oldest_first[-1].lines[1].plain == "[b]b[/b]"
    assert merge_entries(journal, audit) == oldest_first[::-1]
