"""The incident queue: SLA-ordered, filtered, live, over any number of incidents.

Rows arrive a keyset page at a time (`services.queue`) into a windowed `RecordTable`; the
change feed re-reads the window in place with the cursor kept on its incident; countdowns
tick every second from the stored due instants, without a query.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import compact_age, compact_duration, printable, user_text
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.services import bulk, problems, queue, saved_views
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.queue import QueueCounts, QueueFilter, QueueRow, SlaSignal
from itsm_tui.widgets.record_table import Column, Direction, RecordTable

PAGE_SIZE = 100
COLUMNS = (
    Column("Number", 10),
    Column("Pri", 4),
    Column("State", 9),
    Column("Title", 0),
    Column("Service/CI", 16, hide_below=100),
    Column("Assignee", 10),
    Column("Group", 12, hide_below=110),
    Column("Age", 5),
    Column("SLA", 10),
)
STATE_LABELS = {"in_progress": "in prog", "on_hold": "on hold"}
SLA_LOOK: dict[SlaSignal, tuple[str, str]] = {
    SlaSignal.OK: ("✓", "green"),
    SlaSignal.WARNING: ("!", "bold yellow"),
    SlaSignal.BREACHED: ("✗", "bold red"),
    SlaSignal.PAUSED: ("‖", "dim"),
    SlaSignal.NONE: ("·", "dim"),
}
PRIORITY_STYLE = {1: "bold red", 2: "bold yellow", 3: "", 4: "dim", 5: "dim"}


def sla_cell(row: QueueRow, now: Any) -> Text:
    signal, left = queue.sla_signal(row, now)
    symbol, style = SLA_LOOK[signal]
    if signal is SlaSignal.NONE:
        return Text(symbol, style=style)
    if left is None:  # a paused clock whose time left is not known yet, or an old breach
        return Text(f"{symbol} {signal.value}", style=style)
    figure = compact_duration(left)
    return Text(f"{symbol} {figure}", style=style)


class IncidentQueueScreen(DeskScreen[None]):
    SECTION = "Incidents"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New"),
        Binding("slash", "search", "Search"),
        Binding("m", "flag('mine')", "Mine"),
        Binding("y", "flag('my_groups')", "My groups"),
        Binding("u", "flag('unassigned')", "Unassigned"),
        Binding("w", "flag('at_risk')", "At risk"),
        Binding("b", "flag('breached')", "Breached"),
        Binding("f", "filters", "Filters"),
        Binding("x", "clear_filters", "Clear filters"),
        Binding("v", "views", "Views"),
        Binding("V", "save_view", "Save view"),
        Binding("e", "edit", "Edit", show=False),
        Binding("A", "bulk_assign", "Bulk assign", show=False),
        Binding("S", "bulk_state", "Bulk state", show=False),
        Binding("N", "bulk_note", "Bulk note", show=False),
        Binding("P", "link_problem", "Link to problem", show=False),
        Binding("escape", "clear_marks", "Clear marks", show=False),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = QueueFilter()
        self.counts: QueueCounts | None = None
        # Bumped by every change of the window; a read started before a change is dropped.
        self._version = 0
        self._fresh_pending = False
        self._counting = False  # a count is running
        self._count_again = False  # asked for while it ran

    def compose_body(self) -> ComposeResult:
        yield Static(id="queue-filters")
        yield Input(
            placeholder="Search number, title, description; enter applies", id="queue-search"
        )
        yield RecordTable[QueueRow](
            COLUMNS, key_of=lambda row: row.number, cells_of=self._cells, id="queue-table"
        )
        yield Static("Loading…", id="queue-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#queue-search", Input).display = False
        self.table.focus()
        self.show_filters()
        self.load_fresh()
        self.set_interval(1.0, self.table.tick)  # countdowns tick from stored instants
        signal = getattr(self.app, "feed_changed", None)
        if signal is not None:
            signal.subscribe(self, self.on_feed)

    @property
    def table(self) -> RecordTable[QueueRow]:
        return self.query_one("#queue-table", RecordTable)

    # ------------------------------------------------------------------ rendering

    def _cells(self, row: QueueRow, columns: list[Column]) -> list[Text]:
        now = desk(self.app).clock.now()
        priority = Text(f"P{row.priority}" + ("★" if row.major else ""))
        priority.stylize(PRIORITY_STYLE.get(row.priority, ""))
        where = "/".join(printable(part) for part in (row.service, row.ci) if part)
        values = {
            "Number": Text(row.number),
            "Pri": priority,
            "State": Text(STATE_LABELS.get(row.state, row.state)),
            "Title": user_text(row.title),
            "Service/CI": Text(where or "—"),
            "Assignee": user_text(row.assignee) if row.assignee else Text("—", style="dim"),
            "Group": user_text(row.group) if row.group else Text("—", style="dim"),
            "Age": Text(compact_age((now - row.opened_at).total_seconds())),
            "SLA": sla_cell(row, now),
        }
        return [values[column.label] for column in columns]

    def show_filters(self) -> None:
        line = Text()
        for chip in self.filter.chips():
            line.append(f" {printable(chip)} ", style="reverse")
            line.append(" ")
        counts = self.counts
        if counts is not None:
            line.append(f"│ {counts.matching:,} shown of {counts.scope:,} ", style="bold")
            for label, value in (
                ("mine", counts.mine),
                ("my groups", counts.my_groups),
                ("unassigned", counts.unassigned),
                ("at risk", counts.at_risk),
                ("breached", counts.breached),
            ):
                line.append(f"· {label} {value:,} ")
        self.query_one("#queue-filters", Static).update(line)

    def show_status(self, message: str | Text, *, error: bool = False) -> None:
        status = self.query_one("#queue-status", Static)
        status.set_class(error, "error")
        status.update(message if isinstance(message, Text) else Text(message))

    def _window_status(self) -> None:
        table = self.table
        marked = (
            f" · {len(table.marked)} marked (A assign, S state, N note)" if table.marked else ""
        )
        where = "top" if not table.has_before else "…"
        more = "more below" if table.has_after else "end"
        self.show_status(f"{len(table.rows)} rows loaded ({where} … {more}){marked}")

    # ------------------------------------------------------------------ loading

    def load_fresh(self) -> None:
        """The first page of the current filter."""
        self._fresh_pending = True
        self.load_window(False, self._version, self.filter)

    def reload_in_place(self) -> None:
        """Re-read the window on screen (live updates): rows change, the cursor stays on its
        incident. A fresh load still on its way is not downgraded to an anchored one."""
        if self._fresh_pending:
            self.load_fresh()
        else:
            self.load_window(True, self._version, self.filter)

    @work(thread=True, exclusive=True, group="queue-window", exit_on_error=False)
    def load_window(self, anchored: bool, version: int, query: QueueFilter) -> None:
        app = desk(self.app)
        table = self.table
        first = table.first_row
        size = max(PAGE_SIZE, len(table.rows)) if anchored else PAGE_SIZE
        from_key = anchored and table.has_before and first is not None
        with app.database.session() as session:
            page = queue.fetch_page(
                session,
                app.actor,
                app.clock.now(),
                query,
                after=first.key if from_key and first is not None else None,
                inclusive=True,
                limit=size,
            )
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show_window, page, from_key, anchored, version, query)

    def _show_window(
        self,
        page: queue.QueuePage,
        has_before: bool,
        anchored: bool,
        version: int,
        query: QueueFilter,
    ) -> None:
        if query != self.filter:
            return  # read for a filter the user has since left
        if anchored and version != self._version:
            self.reload_in_place()  # the window moved while this was read: read it again
            return
        if not anchored:
            self._fresh_pending = False
        keep = self.table.current_key if anchored else None  # where the cursor is now
        self._version += 1
        self.table.set_rows(page.rows, has_before=has_before, has_after=page.more, keep=keep)
        self._window_status()
        # Counts come after the rows: on a large desk they scan more than a page does, and
        # run at the same time they would slow the page down.
        self.load_counts()

    @on(RecordTable.NeedRows)
    def _need_rows(self, event: RecordTable.NeedRows) -> None:
        self.load_more(event.direction, self._version, self.filter)

    @work(thread=True, group="queue-extend", exit_on_error=False)
    def load_more(self, direction: Direction, version: int, query: QueueFilter) -> None:
        app = desk(self.app)
        rows = self.table.rows
        with app.database.session() as session:
            now = app.clock.now()
            if direction == "after" and rows:
                page = queue.fetch_page(
                    session, app.actor, now, query, after=rows[-1].key, limit=PAGE_SIZE
                )
            elif direction == "before" and rows:
                page = queue.fetch_page(
                    session, app.actor, now, query, before=rows[0].key, limit=PAGE_SIZE
                )
            elif direction == "last":
                page = queue.fetch_page(
                    session, app.actor, now, query, from_end=True, limit=PAGE_SIZE
                )
            else:
                page = queue.fetch_page(session, app.actor, now, query, limit=PAGE_SIZE)
        self.app.call_from_thread(self._show_more, direction, page, version, query)

    def _show_more(
        self, direction: Direction, page: queue.QueuePage, version: int, query: QueueFilter
    ) -> None:
        table = self.table
        if version != self._version or query != self.filter:
            table.cancel_wait()  # read for a window that has changed since: ask again later
            return
        self._version += 1
        if direction in ("after", "before"):
            table.extend(page.rows, direction=direction, more=page.more)
        elif direction == "last":
            table.set_rows(page.rows, has_before=page.more, has_after=False, cursor_at_end=True)
        else:
            table.set_rows(page.rows, has_before=False, has_after=page.more)
        self._window_status()

    def load_counts(self) -> None:
        """Counts come after the rows, in their own worker: a text search over a large desk
        counts slower than it pages. One count runs at a time; asks that arrive meanwhile
        (a busy feed) fold into one more count when it finishes."""
        if self._counting:
            self._count_again = True
            return
        self._counting, self._count_again = True, False
        self._count(self.filter)

    @work(thread=True, group="queue-counts", exit_on_error=False)
    def _count(self, query: QueueFilter) -> None:
        app = desk(self.app)
        try:
            with app.database.session() as session:
                counts = queue.count(session, app.actor, app.clock.now(), query)
        finally:
            self.app.call_from_thread(self._counted)
        if query == self.filter:
            self.app.call_from_thread(self._show_counts, counts)

    def _counted(self) -> None:
        self._counting = False
        if self._count_again:
            self.load_counts()

    def _show_counts(self, counts: QueueCounts) -> None:
        self.counts = counts
        self.show_filters()

    def on_worker_state_changed(self, event: Worker[Any].StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            message = str(error) if isinstance(error, ServiceError) else repr(error)
            self.show_status(user_text(f"Could not load: {message} (r retries)"), error=True)

    def apply_filter(self, query: QueueFilter) -> None:
        self.filter = query
        self.counts = None
        self._count_again = self._counting  # the running count is for the old filter
        self.show_filters()
        self.load_fresh()

    # ------------------------------------------------------------------ live

    def on_feed(self, batch: FeedBatch) -> None:
        if not batch.changed:
            return
        self.reload_in_place()
        if batch.created:
            self.announce(list(batch.created))

    @work(thread=True, group="queue-announce", exit_on_error=False)
    def announce(self, numbers: list[str]) -> None:
        """New P1/P2 incidents raise a toast on every desk."""
        with desk(self.app).database.session() as session:
            rows = queue.rows_for(session, numbers)
        for row in rows:
            if row.priority <= 2:
                message = f"New P{row.priority} {row.number}: {printable(row.title)}"
                self.app.call_from_thread(
                    self.app.notify, message, severity="warning", title="New incident",
                    markup=False,
                )  # fmt: skip

    # ------------------------------------------------------------------ actions

    @on(RecordTable.Selected)
    def _open(self, event: RecordTable.Selected) -> None:
        desk(self.app).open_incident(event.key)

    @on(RecordTable.Highlighted)
    def _highlighted(self, event: RecordTable.Highlighted) -> None:
        self._window_status()

    def action_new(self) -> None:
        desk(self.app).open_incident_form(None)

    def action_edit(self) -> None:
        if (key := self.table.current_key) is not None:
            desk(self.app).open_incident_form(key)

    def action_reload(self) -> None:
        self.reload_in_place()

    def action_flag(self, flag: str) -> None:
        self.apply_filter(self.filter.toggled(flag))

    def action_clear_filters(self) -> None:
        self.apply_filter(QueueFilter())

    def action_search(self) -> None:
        search = self.query_one("#queue-search", Input)
        search.value = self.filter.text or ""
        search.display = True
        search.focus()

    @on(Input.Submitted, "#queue-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip() or None
        try:
            query = self.filter.with_(text=text)
        except ServiceError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._close_search()
        self.apply_filter(query)

    def _close_search(self) -> None:
        search = self.query_one("#queue-search", Input)
        search.display = False
        self.table.focus()

    def action_clear_marks(self) -> None:
        search = self.query_one("#queue-search", Input)
        if search.display:
            self._close_search()
            return
        self.table.clear_marks()
        self._window_status()

    def action_filters(self) -> None:
        from itsm_tui.screens.queue_dialogs import FilterDialog

        self.app.push_screen(FilterDialog(self.filter), self._filters_chosen)

    def _filters_chosen(self, query: QueueFilter | None) -> None:
        if query is not None:
            self.apply_filter(query)

    # ------------------------------------------------------------------ saved views

    def action_views(self) -> None:
        from itsm_tui.screens.queue_dialogs import ViewsDialog

        self.app.push_screen(ViewsDialog(), self._view_chosen)

    def _view_chosen(self, view: saved_views.SavedViewRecord | None) -> None:
        if view is not None:
            self.apply_filter(view.filter)
            self.notify(f"View: {printable(view.name)}", markup=False)

    def action_save_view(self) -> None:
        from itsm_tui.screens.queue_dialogs import SaveViewDialog

        self.app.push_screen(SaveViewDialog(), self._save_view)

    @work(thread=True, group="queue-save-view", exit_on_error=False)
    def _save_view(self, name: str | None) -> None:
        if name is None:
            return
        app = desk(self.app)
        try:
            with app.database.session() as session:
                view = saved_views.save_view(session, app.actor, app.clock, name, self.filter)
        except ServiceError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, f"Saved view {printable(view.name)}", markup=False)

    # ------------------------------------------------------------------ bulk

    def _marked_or_current(self) -> list[str]:
        table = self.table
        if table.marked:
            return list(table.marked)
        return [table.current_key] if table.current_key else []

    def action_bulk_assign(self) -> None:
        from itsm_tui.screens.dialogs import AssignDialog

        numbers = self._marked_or_current()
        if numbers:
            self.app.push_screen(
                AssignDialog(),
                lambda choice: (
                    choice
                    and self.run_bulk(numbers, bulk.BulkAssign(choice.assignee, choice.group))
                ),
            )

    def action_bulk_state(self) -> None:
        from itsm_tui.screens.dialogs import StateDialog

        numbers = self._marked_or_current()
        rows = {row.number: row for row in self.table.rows}
        states = {rows[n].state for n in numbers if n in rows}
        current = states.pop() if len(states) == 1 else None
        if numbers:
            self.app.push_screen(
                StateDialog(current),
                lambda choice: (
                    choice
                    and self.run_bulk(
                        numbers,
                        bulk.BulkState(
                            state=str(choice.state),
                            hold_reason=_opt(choice.hold_reason),
                            resolution_code=_opt(choice.resolution_code),
                            resolution_notes=choice.resolution_notes,
                            reason=choice.reason,
                        ),
                    )
                ),
            )

    def action_bulk_note(self) -> None:
        from itsm_tui.screens.dialogs import NoteDialog

        numbers = self._marked_or_current()
        if numbers:
            self.app.push_screen(
                NoteDialog(comment=False),
                lambda text: text and self.run_bulk(numbers, bulk.BulkNote(text)),
            )

    def action_link_problem(self) -> None:
        from itsm_tui.screens.queue_dialogs import LinkProblemDialog

        numbers = self._marked_or_current()
        if numbers:
            self.app.push_screen(
                LinkProblemDialog(len(numbers)),
                lambda problem: problem and self.run_link(numbers, problem),
            )

    @work(thread=True, group="queue-bulk", exit_on_error=False)
    def run_link(self, numbers: list[str], problem: str) -> None:
        """All or nothing, in one transaction: a problem's incident list is never half made."""
        app = desk(self.app)
        try:
            with app.database.session() as session:
                record = problems.link_incidents(session, app.actor, app.clock, problem, numbers)
        except ServiceError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", markup=False)
            return
        message = f"Linked {len(numbers)} incident(s) to {record.number}"
        self.app.call_from_thread(self._linked, message)

    def _linked(self, message: str) -> None:
        self.table.clear_marks()
        self.action_reload()
        self.notify(message, markup=False)

    @work(thread=True, group="queue-bulk", exit_on_error=False)
    def run_bulk(self, numbers: list[str], action: bulk.BulkAction) -> None:
        app = desk(self.app)
        try:
            with app.database.session() as session:
                result = bulk.apply(session, app.actor, app.clock, numbers, action)
        except ServiceError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", markup=False)
            return
        self.app.call_from_thread(self._bulk_done, result)

    def _bulk_done(self, result: bulk.BulkResult) -> None:
        from itsm_tui.screens.queue_dialogs import BulkSummaryDialog

        self.table.clear_marks()
        self.action_reload()
        self.app.push_screen(BulkSummaryDialog(result))


def _opt(value: object) -> str | None:
    return None if value is None else str(getattr(value, "value", value))
