"""One incident in full: every field, its SLA clocks and its history, with the actions an
agent takes on it (assign, change state, note, escalate, declare major).

The screen only gathers intent (through the reusable dialogs) and calls services in thread
workers; the services decide and write. Each write carries the version the agent was looking
at, so acting on a stale screen fails as a Conflict instead of silently overwriting a
colleague's change; the screen then reloads so the agent sees what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from sqlmodel import Session
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.clock import Clock
from itsm_tui.display import MISSING, user_text
from itsm_tui.domain.enums import IncidentState, Role
from itsm_tui.domain.permissions import IncidentAction, may_act_on_incident
from itsm_tui.domain.workflow import allowed_targets, is_reopen
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.change_dialogs import Call, CausedByDialog
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.screens.dialogs import (
    AssignChoice,
    AssignDialog,
    EscalateChoice,
    EscalateDialog,
    NoteDialog,
    ReasonDialog,
    StateChoice,
    StateDialog,
    state_label,
)
from itsm_tui.screens.known_error_dialogs import KnownErrorDialog
from itsm_tui.services import incidents, known_errors, problems
from itsm_tui.services.errors import Conflict, NotFound, ServiceError
from itsm_tui.services.incident_changes import changes_of
from itsm_tui.services.known_errors import KnownErrorHit
from itsm_tui.services.records import IncidentDetail, IncidentRecord
from itsm_tui.store.models import User
from itsm_tui.widgets.known_errors import KnownErrorPanel
from itsm_tui.widgets.sla_gauge import SlaGauge
from itsm_tui.widgets.timeline import Timeline

TIME_FORMAT = "%Y-%m-%d %H:%M"
LOAD_GROUP = "incident-detail-load"
WRITE_GROUP = "incident-detail-write"

# A write: given a session, the acting user and the clock, call one service.
Write = Callable[[Session, User, Clock], object]

# (field id, label) in reading order; values are filled in by `field_values`.
FIELDS: tuple[tuple[str, str], ...] = (
    ("state", "State"),
    ("priority", "Priority"),
    ("major", "Major"),
    ("caller", "Caller"),
    ("service", "Service"),
    ("ci", "CI"),
    ("category", "Category"),
    ("group", "Group"),
    ("assignee", "Assignee"),
    ("opened", "Opened"),
    ("responded", "Responded"),
    ("resolved", "Resolved"),
    ("closed", "Closed"),
    ("resolution-code", "Resolution"),
    ("parent", "Parent"),
    ("version", "Version"),
)


def when(moment: datetime | None) -> Text:
    return Text(moment.strftime(TIME_FORMAT) + " UTC" if moment else MISSING)


def field_values(record: IncidentRecord) -> dict[str, Text]:
    """Every short field as Text; whatever a user typed goes through `user_text`."""
    state = Text(state_label(record.state))
    if record.hold_reason:
        state.append(" (").append_text(user_text(state_label(record.hold_reason))).append(")")
    assignee = user_text(record.assignee)
    if record.assignee_name and record.assignee_name != record.assignee:
        assignee.append(" (").append_text(user_text(record.assignee_name)).append(")")
    opened = when(record.opened_at)
    if record.opened_by:
        opened.append(" by ").append_text(user_text(record.opened_by))
    return {
        "state": state,
        "priority": Text(f"P{record.priority} (impact {record.impact}, urgency {record.urgency})"),
        "major": Text("★ MAJOR INCIDENT" if record.major else "no"),
        "caller": user_text(record.caller),
        "service": user_text(record.service),
        "ci": user_text(record.ci),
        "category": user_text(record.category),
        "group": user_text(record.group),
        "assignee": assignee,
        "opened": opened,
        "responded": when(record.responded_at),
        "resolved": when(record.resolved_at),
        "closed": when(record.closed_at),
        "resolution-code": user_text(
            state_label(record.resolution_code) if record.resolution_code else None
        ),
        "parent": user_text(record.parent),
        "version": Text(str(record.version)),
    }


class IncidentDetailScreen(DeskScreen[None]):
    """The detail view of incident `number`; escape goes back to where it was opened from."""

    # Narrow terminals get one label/value pair per row, wide ones two.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (110, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "assign_to_me", "Assign me"),
        Binding("a", "assign", "Assign"),
        Binding("s", "change_state", "State"),
        Binding("n", "note", "Work note"),
        Binding("c", "comment", "Comment"),
        Binding("x", "escalate", "Escalate"),
        Binding("M", "toggle_major", "Major"),
        Binding("e", "edit", "Edit"),
        Binding("o", "caller_incidents", "Caller's"),
        Binding("r", "reload", "Reload"),
        Binding("escape", "back", "Back"),
        # Linking to the causing change is rarer: listed in help and the palette.
        Binding("L", "link_change", "Caused by…", show=False),
        Binding("G", "open_cause", "Causing change"),  # shown when one is linked
        Binding("K", "known_errors", "Known errors"),  # shown when some are suggested
        Binding("P", "open_problem", "Problem"),  # shown when linked to one
    ]

    def __init__(self, number: str) -> None:
        super().__init__()
        self.number = number.strip().upper()
        self.detail: IncidentDetail | None = None

    @property
    def record(self) -> IncidentRecord | None:
        return self.detail.incident if self.detail is not None else None

    # ------------------------------------------------------------------ layout

    @property
    def section(self) -> str:
        return f"Incident {self.number}"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Static(Text(f"{self.number}  loading…"), id="detail-heading")
            yield Static(Text(""), id="caused-by", classes="-empty")
            yield Static(Text(""), id="problem-link", classes="-empty")
            yield KnownErrorPanel(hint="(K: link one)", id="known-errors")
            with Grid(id="detail-fields"):
                for field_id, label in FIELDS:
                    yield Label(label, classes="field-label")
                    yield Static(Text(MISSING), id=f"field-{field_id}", classes="field-value")
            yield Label("Description", classes="section-title")
            yield Static(Text(MISSING), id="field-description", classes="long-text")
            with Vertical(id="resolution-section"):
                yield Label("Resolution notes", classes="section-title")
                yield Static(Text(MISSING), id="field-resolution-notes", classes="long-text")
            yield Label("SLA", classes="section-title")
            yield Vertical(id="sla-gauges")
            yield Label("Timeline (newest first)", classes="section-title")
            yield Timeline(id="timeline")
        yield Static(Text(""), id="detail-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.number
        feed = getattr(self.app, "feed_changed", None)  # added by the live-feed work
        if feed is not None:
            feed.subscribe(self, self._on_feed)
        self.load()

    def _on_feed(self, batch: FeedBatch) -> None:
        """Someone (maybe another desk) changed this incident: show it as it is now."""
        if self.number in batch.changed:
            self.load()

    # ------------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group=LOAD_GROUP, exit_on_error=False)
    def load(self) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            detail = incidents.incident_detail(session, self.number, app.clock.now())
        if not get_current_worker().is_cancelled:  # a newer load replaced this one
            self.app.call_from_thread(self.show_detail, detail)

    def show_detail(self, detail: IncidentDetail) -> None:
        """Update the widgets in place, so the scroll position survives a reload."""
        if not self.is_attached:
            return  # the agent left while the read ran
        self.detail = detail
        record = detail.incident
        heading = Text(f"{record.number}  ")
        heading.append_text(user_text(record.title))
        if record.major:
            heading.append("  ★ MAJOR")
        self.query_one("#detail-heading", Static).update(heading)
        caused_by = self.query_one("#caused-by", Static)
        caused_by.update(
            Text.assemble("Caused by ", (record.caused_by or "", "bold"), "  (G opens it)")
        )
        caused_by.set_class(not record.caused_by, "-empty")
        problem = self.query_one("#problem-link", Static)
        problem.update(Text.assemble("Problem ", (record.problem or "", "bold"), "  (P opens it)"))
        problem.set_class(not record.problem, "-empty")
        self.refresh_bindings()
        for field_id, value in field_values(record).items():
            self.query_one(f"#field-{field_id}", Static).update(value)
        self.query_one("#field-major", Static).set_class(record.major, "-major")
        self.query_one("#field-description", Static).update(
            user_text(record.description or MISSING, multiline=True)
        )
        self.query_one("#field-resolution-notes", Static).update(
            user_text(record.resolution_notes, multiline=True)
        )
        self.query_one("#resolution-section").set_class(record.resolution_notes is None, "-empty")
        self._show_gauges(detail)
        self.query_one(Timeline).show(detail.journal, detail.audit)
        self.set_status(Text(f"{record.number} at version {record.version}"))
        self.load_known_errors()

    def _show_gauges(self, detail: IncidentDetail) -> None:
        box = self.query_one("#sla-gauges", Vertical)
        gauges = list(box.query_children(SlaGauge))
        if len(gauges) == len(detail.sla) and gauges:
            for gauge, clock in zip(gauges, detail.sla, strict=True):
                gauge.update(clock)
            return
        box.remove_children()
        if detail.sla:
            box.mount_all(SlaGauge(clock) for clock in detail.sla)
        else:
            box.mount(Static(Text("No SLA clocks."), classes="no-sla"))

    def set_status(self, message: Text, *, error: bool = False) -> None:
        status = self.query_one("#detail-status", Static)
        status.update(message)
        status.set_class(error, "error")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure the write path did not turn into a message (database gone, locked, a
        bug) is reported, not a crash; `r` tries again."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == LOAD_GROUP and isinstance(error, NotFound):
            message = str(error)
        else:
            message = f"Could not {'load' if event.worker.group == LOAD_GROUP else 'save'}: {error}"
        self.set_status(user_text(f"{message} (r reloads)"), error=True)
        self.notify(message, severity="error", markup=False)

    # ------------------------------------------------------------------ writing

    @work(thread=True, exclusive=True, group=WRITE_GROUP, exit_on_error=False)
    def write(self, done: str, call: Write) -> None:
        """Run one service call, then read the incident back in the same worker, so what the
        agent sees next is the state their action produced."""
        app = desk(self.app)
        error: ServiceError | None = None
        try:
            with app.database.session() as session:
                call(session, app.actor, app.clock)
        except ServiceError as refused:
            error = refused
        with app.database.session() as session:
            detail = incidents.incident_detail(session, self.number, app.clock.now())
        self.app.call_from_thread(self._written, done, error, detail)

    def _written(self, done: str, error: ServiceError | None, detail: IncidentDetail) -> None:
        if error is None:
            self.notify(done, markup=False)
        else:
            title = "Changed by someone else" if isinstance(error, Conflict) else "Not done"
            self.notify(str(error), title=title, severity="error", markup=False)
        self.show_detail(detail)
        if error is not None:
            self.set_status(user_text(str(error)), error=True)

    def _current(self) -> IncidentRecord | None:
        """The incident as displayed, or None (with a message) while it is still loading."""
        if self.record is None:
            self.notify("Still loading; try again in a moment.", markup=False)
        return self.record

    # ------------------------------------------------------------------ actions

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_assign_to_me(self) -> None:
        if (record := self._current()) is None:
            return
        version = record.version
        self.write(
            "Assigned to you.",
            lambda s, actor, clock: incidents.assign_to_me(
                s, actor, clock, self.number, expect_version=version
            ),
        )

    def action_assign(self) -> None:
        if (record := self._current()) is None:
            return
        version = record.version

        def chosen(choice: AssignChoice | None) -> None:
            if choice is None:
                return
            parts = []
            if choice.group:
                parts.append(f"group {choice.group}")
            if choice.assignee:
                parts.append("unassigned" if choice.assignee == "none" else choice.assignee)
            self.write(
                f"Assigned: {', '.join(parts)}.",
                lambda s, actor, clock: incidents.assign(
                    s,
                    actor,
                    clock,
                    self.number,
                    assignee=choice.assignee,
                    group=choice.group,
                    expect_version=version,
                ),
            )

        self.app.push_screen(
            AssignDialog(
                current_group=record.group,
                current_assignee=record.assignee,
                subject=record.number,
            ),
            chosen,
        )

    def action_change_state(self) -> None:
        if (record := self._current()) is None:
            return
        current = IncidentState(record.state)
        if not allowed_targets(current):
            self.notify(
                f"{record.number} is {record.state}; it can no longer change state.", markup=False
            )
            return
        version = record.version

        def chosen(choice: StateChoice | None) -> None:
            if choice is None:
                return
            target = state_label(choice.state)
            if is_reopen(current, choice.state):
                self.write(
                    "Reopened.",
                    lambda s, actor, clock: incidents.reopen(
                        s,
                        actor,
                        clock,
                        self.number,
                        reason=choice.reason or "",
                        expect_version=version,
                    ),
                )
                return
            self.write(
                f"State is now {target}.",
                lambda s, actor, clock: incidents.transition(
                    s,
                    actor,
                    clock,
                    self.number,
                    choice.state,
                    hold_reason=choice.hold_reason,
                    resolution_code=choice.resolution_code,
                    resolution_notes=choice.resolution_notes,
                    reason=choice.reason,
                    expect_version=version,
                ),
            )

        self.app.push_screen(StateDialog(current, subject=record.number), chosen)

    def action_note(self) -> None:
        self._note(comment=False)

    def action_comment(self) -> None:
        self._note(comment=True)

    def _note(self, *, comment: bool) -> None:
        if (record := self._current()) is None:
            return

        def chosen(text: str | None) -> None:
            if text is None:
                return
            # Notes do not bump the version (a note is not an edit), so none is expected.
            self.write(
                "Comment sent." if comment else "Work note added.",
                lambda s, actor, clock: incidents.add_note(
                    s, actor, clock, self.number, text, comment=comment
                ),
            )

        self.app.push_screen(NoteDialog(comment=comment, subject=record.number), chosen)

    def action_escalate(self) -> None:
        if (record := self._current()) is None:
            return
        version = record.version

        def chosen(choice: EscalateChoice | None) -> None:
            if choice is None:
                return
            self.write(
                "Escalated.",
                lambda s, actor, clock: incidents.escalate(
                    s,
                    actor,
                    clock,
                    self.number,
                    reason=choice.reason,
                    to_group=choice.to_group,
                    expect_version=version,
                ),
            )

        self.app.push_screen(
            EscalateDialog(current_group=record.group, subject=record.number), chosen
        )

    def action_toggle_major(self) -> None:
        if (record := self._current()) is None:
            return
        major = not record.major
        version = record.version

        def apply(reason: str | None) -> None:
            if reason is None:
                return
            self.write(
                "Declared a major incident." if major else "Major flag cleared.",
                lambda s, actor, clock: incidents.set_major(
                    s,
                    actor,
                    clock,
                    self.number,
                    major,
                    reason=reason or None,
                    expect_version=version,
                ),
            )

        role = Role(desk(self.app).actor.role)
        if not may_act_on_incident(role, IncidentAction.DECLARE_MAJOR, None):
            # Asking for a reason only to refuse would waste the agent's typing: let the
            # service refuse now, with its own message (it writes nothing).
            apply("")
            return
        verb = "Declare" if major else "Clear the major flag of"
        message = Text(f"{verb} {record.number}: ").append_text(user_text(record.title))
        title = "Declare major incident" if major else "Clear major incident"
        self.app.push_screen(ReasonDialog(message, title=title), apply)

    def action_edit(self) -> None:
        open_form = getattr(self.app, "open_incident_form", None)
        if open_form is None:
            self.notify("The incident form is not available yet.", markup=False)
            return
        open_form(self.number)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_cause":
            return self.record is not None and bool(self.record.caused_by)
        if action == "open_problem":
            return self.record is not None and bool(self.record.problem)
        if action == "known_errors":
            return bool(self._suggested())
        return True

    def action_link_change(self) -> None:
        """Point this incident at the change that caused it (or clear the link)."""
        if (record := self._current()) is None:
            return
        number, version = record.number, record.version

        def perform(change: str) -> Call[object]:
            return lambda session, actor, clock: incidents.update_incident(
                session,
                actor,
                clock,
                number,
                changes_of(caused_by=change),
                expect_version=version,
            )

        def linked(result: object | None) -> None:
            if result is not None:
                self.notify("Causing change updated.", markup=False)
                self.load()

        self.app.push_screen(CausedByDialog(number, record.caused_by, perform), linked)

    def action_open_cause(self) -> None:
        record = self.record
        opener = getattr(self.app, "open_change", None)
        if record is not None and record.caused_by and opener is not None:
            opener(record.caused_by)

    def action_open_problem(self) -> None:
        record = self.record
        opener = getattr(self.app, "open_problem", None)
        if record is not None and record.problem and opener is not None:
            opener(record.problem)

    def action_caller_incidents(self) -> None:
        if (record := self._current()) is None:
            return
        if not record.caller:
            self.notify(f"{record.number} has no caller recorded.", markup=False)
            return
        open_caller = getattr(self.app, "open_caller_incidents", None)
        if open_caller is None:
            self.notify("Listing a caller's incidents is not available yet.", markup=False)
            return
        open_caller(record.caller)

    # ------------------------------------------------------------------ known errors

    @work(thread=True, exclusive=True, group="incident-detail-known-errors", exit_on_error=False)
    def load_known_errors(self) -> None:
        """Suggestions are a hint, read after the incident: failing to read them hides the
        panel rather than reporting an error over the incident itself."""
        hits: list[KnownErrorHit] = []
        try:
            with desk(self.app).database.session() as session:
                hits = known_errors.suggest_for_incident(session, self.number)
        except ServiceError:
            pass
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_known_errors, hits)

    def _suggested(self) -> list[KnownErrorHit]:
        """The known errors on show (none before the panel is mounted)."""
        panel = next(iter(self.query(KnownErrorPanel)), None)
        return panel.hits if panel is not None else []

    def _show_known_errors(self, hits: list[KnownErrorHit]) -> None:
        if self.is_attached:
            self.query_one(KnownErrorPanel).show(hits)
            self.refresh_bindings()

    def action_known_errors(self) -> None:
        """Link this incident to a suggested known error; its workaround becomes a work note."""
        hits = self._suggested()
        if (record := self._current()) is None or not hits:
            return
        number = record.number

        def perform(problem: str) -> Call[object]:
            return lambda session, actor, clock: problems.link_incidents(
                session, actor, clock, problem, [number], apply_workaround=True
            )

        def linked(result: object | None) -> None:
            if isinstance(result, problems.ProblemRecord):
                self.notify(
                    f"Linked to {result.number}; its workaround is in the work notes.",
                    markup=False,
                )
                self.load()

        self.app.push_screen(KnownErrorDialog(number, hits, perform), linked)
