"""One change in full: its fields, approvals, what clashes with its window now, the incidents
it caused and its history, with the actions people take on it (vote, move, edit).

As on the incident detail, the screen reads in thread workers and only gathers intent; the
dialogs run the service call the screen builds and show the service's refusal inline. Moves
carry the version on screen (a stale screen gets a Conflict, not a silent overwrite). Whether
the actor may vote comes from the change service (`changes.vote_refusal`),
so `a`/`r` are only offered to people the service would let vote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import MISSING, user_text
from itsm_tui.domain.change_approvals import CabPolicy
from itsm_tui.domain.conflicts import Conflict as WindowConflict
from itsm_tui.domain.enums import ApprovalDecision
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.change_dialogs import (
    Call,
    ChangeNoteDialog,
    ChangeStateDialog,
    VoteDialog,
)
from itsm_tui.screens.change_time import when_text, window_text
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.screens.dialogs import state_label
from itsm_tui.services import change_history, changes
from itsm_tui.services.changes import ChangeMove, ChangeRecord
from itsm_tui.services.errors import NotFound
from itsm_tui.services.records import AuditRecord, JournalRecord
from itsm_tui.widgets.timeline import Timeline

LOAD_GROUP = "change-detail-load"
IMPACTS = {1: "high", 2: "medium", 3: "low"}
DECISION_STYLES = {
    ApprovalDecision.APPROVED.value: "bold green",
    ApprovalDecision.REJECTED.value: "bold red",
    ApprovalDecision.PENDING.value: "italic",
}

# (field id, label) in reading order; values come from `field_values`.
FIELDS: tuple[tuple[str, str], ...] = (
    ("type", "Type"),
    ("state", "State"),
    ("risk", "Risk"),
    ("impact", "Impact"),
    ("questionnaire", "Answers"),
    ("service", "Service"),
    ("cis", "CIs"),
    ("window", "Window"),
    ("requester", "Requester"),
    ("assignee", "Assignee"),
    ("group", "Group"),
    ("outcome", "Outcome"),
    ("opened", "Opened"),
    ("updated", "Updated"),
    ("closed", "Closed"),
    ("version", "Version"),
)
# (field id, section title, record attribute); None-valued optional sections are hidden.
LONG_TEXTS: tuple[tuple[str, str, str], ...] = (
    ("description", "Description", "description"),
    ("justification", "Justification", "justification"),
    ("implementation-plan", "Implementation plan", "implementation_plan"),
    ("backout-plan", "Backout plan", "backout_plan"),
    ("test-plan", "Test plan", "test_plan"),
    ("freeze-justification", "Freeze justification", "freeze_justification"),
    ("review-notes", "Review notes", "review_notes"),
)
OPTIONAL_TEXTS = frozenset({"freeze-justification", "review-notes"})


@dataclass(frozen=True)
class ChangeView:
    """Everything the screen shows, read in one session."""

    record: ChangeRecord
    journal: list[JournalRecord]
    audit: list[AuditRecord]
    conflicts: list[WindowConflict]


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def field_values(record: ChangeRecord, zone: str) -> dict[str, Text]:
    """Every short field as Text; whatever a user typed goes through `user_text`."""
    risk = Text(record.risk)
    if record.risk_override_reason:
        risk.append(" (overridden: ").append_text(user_text(record.risk_override_reason))
        risk.append(")")
    closed = when_text(record.closed_at, zone) if record.closed_at else Text(MISSING)
    return {
        "type": Text(record.change_type),
        "state": Text(state_label(record.state)),
        "risk": risk,
        "impact": Text(f"{record.impact} ({IMPACTS.get(record.impact, '?')})"),
        "questionnaire": Text(
            f"outage expected {yes_no(record.outage_expected)} · tested "
            f"{yes_no(record.tested)} · backout possible {yes_no(record.backout_possible)}"
        ),
        "service": user_text(record.service),
        "cis": user_text(", ".join(record.cis) if record.cis else None),
        "window": window_text(record.planned_start, record.planned_end, zone),
        "requester": user_text(record.requested_by),
        "assignee": user_text(record.assignee),
        "group": user_text(record.group),
        "outcome": Text(state_label(record.outcome) if record.outcome else MISSING),
        "opened": when_text(record.opened_at, zone),
        "updated": when_text(record.updated_at, zone),
        "closed": closed,
        "version": Text(str(record.version)),
    }


def approvals_table(record: ChangeRecord, zone: str) -> Table | Text:
    """Who was asked or voted, their role, decision, comment and when (desk zone)."""
    if not record.approvals:
        return Text("No approvals requested.")
    table = Table(expand=True, box=None, padding=(0, 1), show_edge=False)
    table.add_column("Approver", no_wrap=True)
    table.add_column("Role", no_wrap=True)
    table.add_column("Decision", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Comment", ratio=1)
    for approval in record.approvals:
        decision = Text(approval.decision, style=DECISION_STYLES.get(approval.decision, ""))
        decided = when_text(approval.decided_at, zone) if approval.decided_at else Text(MISSING)
        table.add_row(
            user_text(approval.approver),
            Text(state_label(approval.role)),
            decision,
            decided,
            user_text(approval.comment),
        )
    return table


def conflicts_text(found: list[WindowConflict]) -> Text:
    if not found:
        return Text("None.")
    lines = [
        Text.assemble((f"{state_label(c.kind)}: ", "bold"), user_text(c.detail)) for c in found
    ]
    return Text("\n").join(lines)


class ChangeDetailScreen(DeskScreen[None]):
    """The detail view of change `number`; escape goes back to where it was opened from."""

    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (110, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "vote('approved')", "Approve"),
        Binding("r", "vote('rejected')", "Reject"),
        Binding("s", "change_state", "State"),
        Binding("e", "edit", "Edit"),
        Binding("n", "note", "Note"),
        Binding("o", "open_incident", "Incident"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, number: str) -> None:
        super().__init__()
        self.number = number.strip().upper()
        self.view: ChangeView | None = None

    @property
    def record(self) -> ChangeRecord | None:
        return self.view.record if self.view is not None else None

    @property
    def section(self) -> str:
        return f"Change {self.number}"

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="change-body"):
            yield Static(Text(f"{self.number}  loading…"), id="change-heading")
            with Grid(id="change-fields"):
                for field_id, label in FIELDS:
                    yield Label(label, classes="field-label")
                    yield Static(Text(MISSING), id=f"change-{field_id}", classes="field-value")
            for field_id, title, _attribute in LONG_TEXTS:
                with Vertical(id=f"section-{field_id}", classes="change-section"):
                    yield Label(title, classes="section-title")
                    yield Static(Text(MISSING), id=f"change-{field_id}", classes="long-text")
            yield Label("Approvals", classes="section-title")
            yield Static(Text(MISSING), id="change-approvals", classes="long-text")
            yield Label("Conflicts now", classes="section-title")
            yield Static(Text(MISSING), id="change-conflicts", classes="long-text")
            yield Label("Incidents caused by this change (enter opens)", classes="section-title")
            yield Static(Text("None."), id="caused-none", classes="long-text")
            yield OptionList(id="caused-incidents")
            yield Label("Timeline (newest first)", classes="section-title")
            yield Timeline(id="change-timeline")
        yield Static(Text(""), id="change-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.number
        feed = getattr(self.app, "feed_changed", None)
        if feed is not None:
            feed.subscribe(self, self._on_feed)
        self.load()

    def on_screen_resume(self) -> None:
        """Back from the form (or a dialog's write): show the change as it is now."""
        if self.view is not None:
            self.load()

    def _on_feed(self, batch: FeedBatch) -> None:
        """The feed names incidents only; change writes arrive as `other`. Reload on those,
        and when an incident this change caused moved (one exclusive read: bursts fold)."""
        caused = {i.number for i in self.record.caused_incidents} if self.record else set()
        if batch.other or batch.changed & caused:
            self.load()

    @property
    def zone(self) -> str:
        return str(getattr(self.app, "timezone", "UTC"))

    @property
    def policy(self) -> CabPolicy:
        policy = getattr(self.app, "cab_policy", None)
        return policy if isinstance(policy, CabPolicy) else CabPolicy()

    # ------------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group=LOAD_GROUP, exit_on_error=False)
    def load(self) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            record = changes.get_change(session, self.number)
            history = change_history.change_history(session, self.number)
            found = changes.change_conflicts(session, self.number)
        view = ChangeView(record, history.journal, history.audit, found)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_view, view)

    def show_view(self, view: ChangeView) -> None:
        """Update the widgets in place, so the scroll position survives a reload."""
        if not self.is_attached:
            return
        self.view = view
        record = view.record
        heading = Text(f"{record.number}  ").append_text(user_text(record.title))
        self.query_one("#change-heading", Static).update(heading)
        for field_id, value in field_values(record, self.zone).items():
            self.query_one(f"#change-{field_id}", Static).update(value)
        for field_id, _title, attribute in LONG_TEXTS:
            value = getattr(record, attribute)
            self.query_one(f"#change-{field_id}", Static).update(
                user_text(value or MISSING, multiline=True)
            )
            hidden = field_id in OPTIONAL_TEXTS and not value
            self.query_one(f"#section-{field_id}").set_class(hidden, "-empty")
        self.query_one("#change-approvals", Static).update(approvals_table(record, self.zone))
        conflicts = self.query_one("#change-conflicts", Static)
        conflicts.update(conflicts_text(view.conflicts))
        conflicts.set_class(bool(view.conflicts), "-clash")
        self._show_caused(record)
        self.query_one(Timeline).show(view.journal, view.audit)
        self.set_status(Text(f"{record.number} at version {record.version}"))
        self.refresh_bindings()  # who may vote, whether there is an incident to open

    def _show_caused(self, record: ChangeRecord) -> None:
        options = self.query_one("#caused-incidents", OptionList)
        highlighted = options.highlighted
        options.set_options(
            Option(
                Text.assemble(
                    (incident.number, "bold"),
                    f"  P{incident.priority}  {state_label(incident.state)}  ",
                    user_text(incident.title),
                ),
                id=incident.number,
            )
            for incident in record.caused_incidents
        )
        if record.caused_incidents:
            last = len(record.caused_incidents) - 1
            options.highlighted = min(highlighted or 0, last)
        options.set_class(not record.caused_incidents, "-empty")
        self.query_one("#caused-none").set_class(bool(record.caused_incidents), "-empty")

    def set_status(self, message: Text, *, error: bool = False) -> None:
        status = self.query_one("#change-status", Static)
        status.update(message)
        status.set_class(error, "error")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read is reported, not a crash; ctrl+r tries again."""
        if event.state is not WorkerState.ERROR or event.worker.group != LOAD_GROUP:
            return
        error = event.worker.error
        message = str(error) if isinstance(error, NotFound) else f"Could not load: {error}"
        self.set_status(user_text(f"{message} (ctrl+r reloads)"), error=True)
        self.notify(message, severity="error", markup=False)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`a`/`r` only for someone the approval rules let vote on this change now; `o`
        only when the change caused incidents."""
        record = self.record
        if action == "vote":
            return record is not None and changes.vote_refusal(record, desk(self.app).actor) is None
        if action == "open_incident":
            return record is not None and bool(record.caused_incidents)
        return True

    def _done(self, message: str) -> None:
        self.notify(message, markup=False)
        self.load()

    def action_vote(self, decision: str) -> None:
        record = self.record
        if record is None:
            return
        choice = ApprovalDecision(decision)
        number, policy = record.number, self.policy

        def perform(comment: str) -> Call[ChangeRecord]:
            return lambda session, actor, clock: changes.vote(
                session, actor, clock, number, choice, comment=comment, policy=policy
            )

        def voted(result: ChangeRecord | None) -> None:
            if result is not None:
                verb = "Approved" if choice is ApprovalDecision.APPROVED else "Rejected"
                self._done(f"{verb}: {result.number} is now {state_label(result.state)}.")

        self.app.push_screen(VoteDialog(number, choice, perform), voted)

    def action_change_state(self) -> None:
        record = self.record
        if record is None:
            self.notify("Still loading; try again in a moment.", markup=False)
            return
        number, version, policy = record.number, record.version, self.policy

        def perform(move: ChangeMove) -> Call[ChangeRecord]:
            return lambda session, actor, clock: changes.move_change(
                session, actor, clock, number, move, expect_version=version, policy=policy
            )

        def moved(result: ChangeRecord | None) -> None:
            if result is not None:
                self._done(f"{result.number} is now {state_label(result.state)}.")

        dialog = ChangeStateDialog(record, perform)
        if not dialog.targets:
            self.notify(f"{number} is {record.state}; it can no longer change state.")
            return
        self.app.push_screen(dialog, moved)

    def action_note(self) -> None:
        number = self.number

        def perform(text: str) -> Call[object]:
            return lambda session, actor, clock: changes.add_note(
                session, actor, clock, number, text
            )

        def noted(result: object | None) -> None:
            if result is not None:
                self._done("Work note added.")

        self.app.push_screen(ChangeNoteDialog(number, perform), noted)

    def action_edit(self) -> None:
        open_form = getattr(self.app, "open_change_form", None)
        if open_form is not None:
            open_form(self.number)

    def action_open_incident(self) -> None:
        option = self.query_one("#caused-incidents", OptionList).highlighted_option
        if option is not None and option.id:
            desk(self.app).open_incident(option.id)

    @on(OptionList.OptionSelected, "#caused-incidents")
    def _incident_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            desk(self.app).open_incident(event.option.id)

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
