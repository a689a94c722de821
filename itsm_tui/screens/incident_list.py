"""The foundation's plain incident list: newest open work first, read in a worker thread.

The real queue (filters, live feed, paging over a million rows) replaces this in a later
issue; this screen proves the wiring: services in a thread, results posted back, user text
rendered as data.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import user_text
from itsm_tui.services.incidents import IncidentQuery, list_incidents
from itsm_tui.services.records import IncidentRecord

LIST_LIMIT = 200
OPEN_STATES = ("new", "in_progress", "on_hold")
# Fixed widths: the table never re-measures (cheap on every refresh) and the first columns
# that matter most fit an 80-column terminal.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Number", 10),
    ("Pri", 8),
    ("State", 11),
    ("Title", 36),
    ("Group", 12),
    ("Assignee", 10),
    ("Opened", 16),
)


class IncidentListScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("a", "toggle_all", "Open/All"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.show_all = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="incident-table", cursor_type="row", zebra_stripes=True)
        yield Static("Loading…", id="status-line")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width)
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load_incidents(self.show_all)

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.action_refresh()

    @work(thread=True, exclusive=True, group="incident-list", exit_on_error=False)
    def load_incidents(self, show_all: bool) -> None:
        app = self.app
        database, actor = app.database, app.actor  # type: ignore[attr-defined]
        states = () if show_all else OPEN_STATES
        query = IncidentQuery(states=states, limit=LIST_LIMIT)  # type: ignore[arg-type]
        with database.session() as session:
            records = list_incidents(session, actor, query)
        if not get_current_worker().is_cancelled:  # a newer load replaced this one
            self.app.call_from_thread(self.show_incidents, records, show_all)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed load (database gone, locked, bad data) is reported, not a crash; `r`
        tries again."""
        if event.state is WorkerState.ERROR:
            status = self.query_one("#status-line", Static)
            status.add_class("error")
            status.update(user_text(f"Could not load incidents: {event.worker.error} (r retries)"))
        elif event.state is WorkerState.SUCCESS:
            self.query_one("#status-line", Static).remove_class("error")

    def show_incidents(self, records: list[IncidentRecord], show_all: bool) -> None:
        if show_all != self.show_all:
            return  # results of a load the user has since toggled away from
        table = self.query_one(DataTable)
        table.clear()
        for record in records:
            table.add_row(*incident_row(record), key=record.number)
        scope = "all incidents" if show_all else "open incidents"
        status = self.query_one("#status-line", Static)
        status.update(Text(f"{len(records)} {scope} (newest first, up to {LIST_LIMIT})"))


def incident_row(record: IncidentRecord) -> tuple[Text, ...]:
    """Every cell is a `Text`: DataTable would parse a plain str as markup."""
    priority = Text(f"P{record.priority}" + (" MAJOR" if record.major else ""))
    if record.priority <= 2:
        priority.stylize("bold red" if record.priority == 1 else "bold yellow")
    return (
        Text(record.number),
        priority,
        Text(record.state),
        user_text(record.title, overflow="ellipsis", no_wrap=True),
        user_text(record.group),
        user_text(record.assignee),
        Text(record.opened_at.strftime("%Y-%m-%d %H:%M")),
    )
