"""One problem in full: its fields, root cause and workaround (a known error when both are
written), the fix change, the incidents it explains with the SLA impact they had, and its
timeline; with the actions people take on it (move, edit, link and unlink incidents,
resolve the open ones with it, request the fix change).

As on the change detail, reads run in thread workers and the screen only gathers intent:
dialogs run the call the screen builds and show the service's refusal inline; the other
writes run in a worker here and report the refusal in the status line. Writes that can be
stale carry the version on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from sqlmodel import Session
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.clock import Clock
from itsm_tui.display import MISSING, user_text
from itsm_tui.domain.enums import ProblemState
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.change_dialogs import Call
from itsm_tui.screens.change_time import when_text
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.screens.dialogs import ConfirmDialog, state_label
from itsm_tui.screens.problem_dialogs import (
    LinkIncidentsDialog,
    MoveCall,
    ProblemMoveDialog,
    offered_targets,
)
from itsm_tui.services import bulk, problems
from itsm_tui.services.errors import NotFound, ServiceError
from itsm_tui.services.problems import ProblemRecord
from itsm_tui.services.records import AuditRecord, JournalRecord
from itsm_tui.store.models import User
from itsm_tui.widgets.problem_board import KNOWN_ERROR
from itsm_tui.widgets.timeline import Timeline

LOAD_GROUP = "problem-detail-load"
WRITE_GROUP = "problem-detail-write"
Write = Callable[[Session, User, Clock], object]

FIELDS: tuple[tuple[str, str], ...] = (
    ("state", "State"),
    ("priority", "Priority"),
    ("known-error", "Known err"),
    ("service", "Service"),
    ("cis", "CIs"),
    ("assignee", "Assignee"),
    ("group", "Group"),
    ("fix-change", "Fix change"),
    ("opened", "Opened"),
    ("updated", "Updated"),
    ("resolved", "Resolved"),
    ("closed", "Closed"),
    ("incidents", "Incidents"),
    ("version", "Version"),
)
LONG_TEXTS: tuple[tuple[str, str, str], ...] = (
    ("root-cause", "Root cause", "root_cause"),
    ("workaround", "Workaround", "workaround"),
    ("description", "Description", "description"),
    ("resolution-notes", "Resolution notes", "resolution_notes"),
    ("resolution-reason", "Resolved without a successful fix because", "resolution_reason"),
)
OPTIONAL_TEXTS = frozenset({"resolution-notes", "resolution-reason"})


@dataclass(frozen=True)
class ProblemView:
    record: ProblemRecord
    journal: list[JournalRecord]
    audit: list[AuditRecord]


def field_values(record: ProblemRecord, zone: str) -> dict[str, Text]:
    """Every short field as Text; whatever a user typed goes through `user_text`."""

    fix = user_text(record.fix_change)
    if record.fix_change:
        fix.append(f" ({state_label(record.fix_change_state or '?')}")
        if record.fix_change_outcome:
            fix.append(f", {state_label(record.fix_change_outcome)}")
        fix.append(")  g opens it")
    opened = when_text(record.opened_at, zone)
    if record.opened_by:
        opened.append(" by ").append_text(user_text(record.opened_by))
    incidents = Text(
        f"{record.incident_count} linked · {record.open_incident_count} open · "
        f"{record.breached_incident_count} breached SLA"
    )
    known = Text(f"{KNOWN_ERROR} yes" if record.known_error else "no")
    return {
        "state": Text(state_label(record.state)),
        "priority": Text(f"P{record.priority} (impact {record.impact}, urgency {record.urgency})"),
        "known-error": known,
        "service": user_text(record.service),
        "cis": user_text(", ".join(record.cis) if record.cis else None),
        "assignee": user_text(record.assignee),
        "group": user_text(record.group),
        "fix-change": fix,
        "opened": opened,
        "updated": when_text(record.updated_at, zone),
        "resolved": when_text(record.resolved_at, zone),
        "closed": when_text(record.closed_at, zone),
        "incidents": incidents,
        "version": Text(str(record.version)),
    }


def incident_line(incident: problems.LinkedIncident) -> Text:
    """`INC0000012  P2  in progress  Title  · SLA breached` (the title is user text)."""
    line = Text.assemble((incident.number, "bold"), f"  P{incident.priority}  ")
    line.append(f"{state_label(incident.state)}  ")
    line.append_text(user_text(incident.title))
    if incident.sla_breached:
        line.append("  · SLA breached", style="bold")
    return line


class ProblemDetailScreen(DeskScreen[None]):
    """The detail view of problem `number`; escape goes back to where it was opened from."""

    # Two label/value pairs per row from 80 columns: the linked incidents, what a problem
    # is about, then start on the first screen.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (80, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "change_state", "State"),
        Binding("e", "edit", "Edit"),
        Binding("l", "link", "Link"),
        Binding("u", "unlink", "Unlink"),
        Binding("R", "resolve_incidents", "Resolve all"),
        Binding("c", "fix_change", "Fix change"),
        Binding("g", "open_fix", "Open fix"),
        Binding("o", "open_incident", "Incident"),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, number: str) -> None:
        super().__init__()
        self.number = number.strip().upper()
        self.view: ProblemView | None = None

    @property
    def record(self) -> ProblemRecord | None:
        return self.view.record if self.view is not None else None

    @property
    def section(self) -> str:
        return f"Problem {self.number}"

    @property
    def zone(self) -> str:
        return str(getattr(self.app, "timezone", "UTC"))

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="problem-body"):
            yield Static(Text(f"{self.number}  loading…"), id="problem-heading")
            with Grid(id="problem-fields"):
                for field_id, label in FIELDS:
                    yield Label(label, classes="field-label")
                    yield Static(Text(MISSING), id=f"problem-{field_id}", classes="field-value")
            yield Label(
                "Linked incidents (enter/o opens, u unlinks, l links more)",
                classes="section-title",
            )
            yield Static(Text("None linked."), id="linked-none", classes="long-text")
            yield OptionList(id="linked-incidents")
            for field_id, title, _attribute in LONG_TEXTS:
                with Vertical(id=f"section-{field_id}", classes="problem-section"):
                    yield Label(title, classes="section-title")
                    yield Static(Text(MISSING), id=f"problem-{field_id}", classes="long-text")
            yield Label("Timeline (newest first)", classes="section-title")
            yield Timeline(id="problem-timeline")
        yield Static(Text(""), id="problem-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.number
        feed = getattr(self.app, "feed_changed", None)
        if feed is not None:
            feed.subscribe(self, self._on_feed)
        self.load()

    def on_screen_resume(self) -> None:
        if self.view is not None:
            self.load()

    def _on_feed(self, batch: FeedBatch) -> None:
        """Problem writes come as `other`; a linked incident moving changes the counts."""
        linked = {i.number for i in self.record.incidents} if self.record else set()
        if batch.other or batch.changed & linked:
            self.load()

    # ------------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group=LOAD_GROUP, exit_on_error=False)
    def load(self) -> None:
        with desk(self.app).database.session() as session:
            view = read_view(session, self.number)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_view, view)

    def show_view(self, view: ProblemView) -> None:
        """Update the widgets in place, so the scroll position survives a reload."""
        if not self.is_attached:
            return
        self.view = view
        record = view.record
        heading = Text(f"{record.number}  ").append_text(user_text(record.title))
        if record.known_error:
            heading.append(f"  {KNOWN_ERROR} known error")
        self.query_one("#problem-heading", Static).update(heading)
        for field_id, value in field_values(record, self.zone).items():
            self.query_one(f"#problem-{field_id}", Static).update(value)
        self.query_one("#problem-known-error").set_class(record.known_error, "-known")
        for field_id, _title, attribute in LONG_TEXTS:
            value = getattr(record, attribute)
            self.query_one(f"#problem-{field_id}", Static).update(
                user_text(value or MISSING, multiline=True)
            )
            hidden = field_id in OPTIONAL_TEXTS and not value
            self.query_one(f"#section-{field_id}").set_class(hidden, "-empty")
        self._show_incidents(record)
        self.query_one(Timeline).show(view.journal, view.audit)
        self.set_status(Text(f"{record.number} at version {record.version}"))
        self.refresh_bindings()

    def _show_incidents(self, record: ProblemRecord) -> None:
        options = self.query_one("#linked-incidents", OptionList)
        highlighted = options.highlighted
        options.set_options(
            Option(incident_line(incident), id=incident.number) for incident in record.incidents
        )
        if record.incidents:
            options.highlighted = min(highlighted or 0, len(record.incidents) - 1)
        options.set_class(not record.incidents, "-empty")
        self.query_one("#linked-none").set_class(bool(record.incidents), "-empty")

    def set_status(self, message: Text, *, error: bool = False) -> None:
        status = self.query_one("#problem-status", Static)
        status.update(message)
        status.set_class(error, "error")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read or write is reported, not a crash; ctrl+r tries again."""
        if event.state is not WorkerState.ERROR:
            return
        if event.worker.group not in (LOAD_GROUP, WRITE_GROUP):
            return
        error = event.worker.error
        verb = "load" if event.worker.group == LOAD_GROUP else "save"
        message = str(error) if isinstance(error, NotFound) else f"Could not {verb}: {error}"
        self.set_status(user_text(f"{message} (ctrl+r reloads)"), error=True)
        self.notify(message, severity="error", markup=False)

    # ------------------------------------------------------------------ writing

    @work(thread=True, exclusive=True, group=WRITE_GROUP, exit_on_error=False)
    def write(self, done: str, call: Write, then: Callable[[object], None] | None = None) -> None:
        """One service call, then the problem read back in the same worker."""
        app = desk(self.app)
        result: object = None
        error: ServiceError | None = None
        try:
            with app.database.session() as session:
                result = call(session, app.actor, app.clock)
        except ServiceError as refused:
            error = refused
        with app.database.session() as session:
            view = read_view(session, self.number)
        self.app.call_from_thread(self._written, done, error, view, result, then)

    def _written(
        self,
        done: str,
        error: ServiceError | None,
        view: ProblemView,
        result: object,
        then: Callable[[object], None] | None,
    ) -> None:
        self.show_view(view)
        if error is not None:
            self.notify(str(error), title="Not done", severity="error", markup=False)
            self.set_status(user_text(f"Refused: {error}"), error=True)
            return
        self.notify(done, markup=False)
        if then is not None:
            then(result)

    def _done(self, message: str) -> None:
        self.notify(message, markup=False)
        self.load()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys only where they can do something: resolve-all on a resolved or closed
        problem with open incidents, open/unlink with an incident listed, g with a fix."""
        record = self.record
        if action == "resolve_incidents":
            return (
                record is not None
                and record.state in (ProblemState.RESOLVED.value, ProblemState.CLOSED.value)
                and record.open_incident_count > 0
            )
        if action in ("open_incident", "unlink"):
            return record is not None and bool(record.incidents)
        if action == "open_fix":
            return record is not None and record.fix_change is not None
        return True

    def _current(self) -> ProblemRecord | None:
        if self.record is None:
            self.notify("Still loading; try again in a moment.", markup=False)
        return self.record

    def action_change_state(self) -> None:
        if (record := self._current()) is None:
            return
        targets = offered_targets(ProblemState(record.state))
        if not targets:
            self.notify(f"{record.number} is {record.state}; it can no longer move.")
            return

        def moved(result: ProblemRecord | None) -> None:
            if result is not None:
                self._done(f"{result.number} is now {state_label(result.state)}.")

        self.app.push_screen(ProblemMoveDialog(record, targets, MoveCall(record)), moved)

    def action_edit(self) -> None:
        opener = getattr(self.app, "open_problem_form", None)
        if opener is not None:
            opener(self.number)

    def action_link(self) -> None:
        if (record := self._current()) is None:
            return
        number = record.number

        def perform(numbers: list[str], apply: bool) -> Call[ProblemRecord]:
            return lambda session, actor, clock: problems.link_incidents(
                session, actor, clock, number, numbers, apply_workaround=apply
            )

        def linked(result: ProblemRecord | None) -> None:
            if result is not None:
                self._done(f"{result.incident_count} incidents linked to {result.number}.")

        self.app.push_screen(LinkIncidentsDialog(record, perform), linked)

    def _highlighted_incident(self) -> str | None:
        option = self.query_one("#linked-incidents", OptionList).highlighted_option
        return option.id if option is not None else None

    def action_unlink(self) -> None:
        incident = self._highlighted_incident()
        if incident is None:
            return
        number = self.number

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.write(
                    f"{incident} unlinked from {number}.",
                    lambda session, actor, clock: problems.unlink_incidents(
                        session, actor, clock, number, [incident]
                    ),
                )

        message = Text(f"Unlink {incident} from {number}?")
        self.app.push_screen(ConfirmDialog(message, title="Unlink incident"), confirmed)

    def action_resolve_incidents(self) -> None:
        if (record := self._current()) is None:
            return
        number, count = record.number, record.open_incident_count
        message = Text(
            f"Resolve the {count} open incident{'' if count == 1 else 's'} linked to {number} "
            "with the problem's resolution notes?"
        )

        def summary(result: object) -> None:
            from itsm_tui.screens.queue_dialogs import BulkSummaryDialog

            if isinstance(result, bulk.BulkResult):
                self.app.push_screen(BulkSummaryDialog(result))

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.write(
                    "Linked incidents resolved.",
                    lambda session, actor, clock: problems.resolve_linked_incidents(
                        session, actor, clock, number
                    ),
                    summary,
                )

        self.app.push_screen(
            ConfirmDialog(message, title="Resolve linked incidents", confirm_label="Resolve"),
            confirmed,
        )

    def action_fix_change(self) -> None:
        if (record := self._current()) is None:
            return
        number = record.number
        message = Text(f"Request a normal change to fix {number}, pre-filled from it")
        if record.fix_change:
            message.append(f" (it replaces {record.fix_change} as the fix)")
        message.append("?")

        def opened(result: object) -> None:
            change = getattr(result, "number", None)
            opener = getattr(self.app, "open_change", None)
            if change and opener is not None:
                opener(change)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.write(
                    "Fix change requested.",
                    lambda session, actor, clock: problems.change_from_problem(
                        session, actor, clock, number
                    ),
                    opened,
                )

        self.app.push_screen(
            ConfirmDialog(message, title="Create the fix change", confirm_label="Create"),
            confirmed,
        )

    def action_open_fix(self) -> None:
        record = self.record
        opener = getattr(self.app, "open_change", None)
        if record is not None and record.fix_change and opener is not None:
            opener(record.fix_change)

    def action_open_incident(self) -> None:
        incident = self._highlighted_incident()
        if incident is not None:
            desk(self.app).open_incident(incident)

    @on(OptionList.OptionSelected, "#linked-incidents")
    def _incident_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            desk(self.app).open_incident(event.option.id)

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()


def read_view(session: Session, number: str) -> ProblemView:
    record = problems.get_problem(session, number)
    history = problems.problem_history(session, number)
    return ProblemView(record, history.journal, history.audit)
