"""Dialogs for acting on a change (vote, move state), linking an incident to the change that
caused it, and the change form's conflict choice.

Unlike the incident dialogs, which hand a value back and let the screen write, these run the
service call they were given and stay open when the service refuses, showing its message
inline next to what was typed: a change move has guards (plans, approvals, conflicts, window)
that only the service can judge with the database in hand, and a refusal is something to fix
in the dialog, not a toast to read after it has closed. The dialogs still decide nothing: the
screen builds the call from the dialog's values, the service rules.

    VoteDialog(number, decision, perform)          -> ChangeRecord | None
    ChangeStateDialog(record, perform)             -> ChangeRecord | None
    CausedByDialog(incident, current, perform)     -> object | None (the service's result)
    ChangeConflictDialog(number, rows, version)    -> ConflictResolution
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar, Generic, TypeVar

from pydantic import ValidationError
from rich.text import Text
from sqlmodel import Session
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    OptionList,
    Select,
    SelectionList,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from itsm_tui.clock import Clock
from itsm_tui.display import user_text
from itsm_tui.domain.change_approvals import ApprovalRefused, check_may_vote
from itsm_tui.domain.change_workflow import allowed_change_targets
from itsm_tui.domain.enums import ApprovalDecision, ChangeOutcome, ChangeState, ChangeType, Role
from itsm_tui.screens.conflict_dialog import ConflictDialog, ConflictResolution
from itsm_tui.screens.context import desk
from itsm_tui.screens.dialogs import ActionDialog, state_label
from itsm_tui.services import directory
from itsm_tui.services.changes import ChangeMove, ChangeRecord
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.records import UserRecord
from itsm_tui.store.models import User

T = TypeVar("T")
# One service call, as the screen built it: the dialog supplies session, actor and clock.
Call = Callable[[Session, User, Clock], T]

# The order change states are offered in: the order work flows, cancel last.
CHANGE_STATE_ORDER: tuple[ChangeState, ...] = tuple(ChangeState)


def first_error(error: ValidationError) -> str:
    """One line for an input model's refusal: `field: message`."""
    item = error.errors()[0]
    name = ".".join(str(part) for part in item["loc"])
    message = item["msg"].removeprefix("Value error, ")
    return f"{name}: {message}" if name else message


class ServiceCallDialog(ActionDialog[T | None], Generic[T]):
    """A dialog whose submit runs one service call in a thread worker.

    Subclasses implement `prepare()`, returning the call for what was typed (or None after
    showing why it cannot be made). Success dismisses with the call's result; a
    `ServiceError` stays in the dialog as an inline message, with everything typed kept.
    """

    WORKER_GROUP = "change-dialog-call"

    def __init__(self, title: str | Text) -> None:
        super().__init__(title)
        self.busy = False

    def prepare(self) -> Call[T] | None:
        raise NotImplementedError

    def submit(self) -> None:
        if self.busy:
            return
        call = self.prepare()
        if call is None:
            return
        self.busy = True
        self.show_error("")
        self.run_call(call)

    @work(thread=True, exclusive=True, group=WORKER_GROUP, exit_on_error=False)
    def run_call(self, call: Call[T]) -> None:
        app = desk(self.app)
        try:
            with app.database.session() as session:
                result = call(session, app.actor, app.clock)
        except ServiceError as refused:
            self.app.call_from_thread(self._refused, str(refused))
            return
        self.app.call_from_thread(self._done, result)

    def _done(self, result: T) -> None:
        self.busy = False
        if self.is_attached:
            self.dismiss(result)

    def _refused(self, message: str) -> None:
        self.busy = False
        if self.is_attached:
            self.show_error(f"Refused: {message}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure that is no refusal (database gone, a bug) is shown, not a crash."""
        if event.state is not WorkerState.ERROR or not self.is_attached:
            return
        if event.worker.group == self.WORKER_GROUP:
            self.busy = False
            self.show_error(f"Could not save: {event.worker.error}")
        else:
            self.show_error(f"Could not load choices: {event.worker.error}")


# ---------------------------------------------------------------------------- notes


class ChangeNoteDialog(ServiceCallDialog[object]):
    """A work note on the change's journal; `perform(text)` builds the write. An empty note
    is refused here, anything else the service refuses is shown inline, text kept."""

    HINT = "ctrl+s: save · escape: cancel · enter: new line"

    def __init__(self, number: str, perform: Callable[[str], Call[object]]) -> None:
        super().__init__(f"Work note (internal) for {number}")
        self.perform = perform

    def body(self) -> ComposeResult:
        yield TextArea(id="change-note-text", classes="-work-note")

    def on_mount(self) -> None:
        self.query_one("#change-note-text", TextArea).focus()

    def prepare(self) -> Call[object] | None:
        area = self.query_one("#change-note-text", TextArea)
        if not area.text.strip():
            self.show_error("Write something first (or escape to cancel).", area)
            return None
        return self.perform(area.text)


# ---------------------------------------------------------------------------- votes


class VoteDialog(ServiceCallDialog[ChangeRecord]):
    """Approve or reject `number` with a comment; `perform(comment)` builds the vote.

    A rejection must say why: the service refuses one without, and the dialog shows that.
    """

    def __init__(
        self,
        number: str,
        decision: ApprovalDecision,
        perform: Callable[[str], Call[ChangeRecord]],
    ) -> None:
        verb = "Approve" if decision is ApprovalDecision.APPROVED else "Reject"
        super().__init__(f"{verb} {number}")
        self.decision = decision
        self.perform = perform

    def body(self) -> ComposeResult:
        if self.decision is ApprovalDecision.REJECTED:
            yield Label("Comment (required: why it goes back to the requester)")
        else:
            yield Label("Comment (optional)")
        yield Input(id="vote-comment", compact=True, placeholder="comment")

    def on_mount(self) -> None:
        self.query_one("#vote-comment", Input).focus()

    def prepare(self) -> Call[ChangeRecord] | None:
        return self.perform(self.query_one("#vote-comment", Input).value.strip())


# ---------------------------------------------------------------------------- state


def approver_candidates(users: list[UserRecord], record: ChangeRecord) -> list[UserRecord]:
    """Whom the state dialog offers to ask for a vote: active people the approval rules let
    vote on this change (`check_may_vote`)."""
    found = []
    for user in users:
        if not user.active:
            continue
        try:
            check_may_vote(
                user.username,
                Role(user.role),
                requested_by=record.requested_by,
                assignee=record.assignee,
            )
        except (ApprovalRefused, ValueError):
            continue
        found.append(user)
    return found


def offered_order(current: ChangeState, allowed: Iterable[ChangeState]) -> list[ChangeState]:
    """Forward moves first (the usual next step is highlighted), then back, cancel last."""
    rank = CHANGE_STATE_ORDER.index
    return sorted(
        allowed,
        key=lambda s: (s is ChangeState.CANCELLED, rank(s) < rank(current), rank(s)),
    )


class ChangeStateDialog(ServiceCallDialog[ChangeRecord]):
    """Move a change to one of the states its type allows from here
    (`domain.change_workflow.allowed_change_targets`), with the fields that target takes:
    approvers to ask (authorize), the outcome (review), review notes (closed), overrides for
    conflicts (scheduled) or the planned window (implement), and a reason. Whether the move
    may happen is the service's call; its refusal shows here."""

    HINT = "enter on a state or ctrl+s: apply · tab: next field · escape: cancel"
    # Targets whose reason is required (by the domain guard or the override it goes with).
    REASON_LABELS: ClassVar[dict[ChangeState, str]] = {
        ChangeState.SCHEDULED: "Reason (required to schedule over conflicts)",
        ChangeState.IMPLEMENT: "Reason (required to implement outside the window)",
    }

    def __init__(self, record: ChangeRecord, perform: Callable[[ChangeMove], Call[ChangeRecord]]):
        current = ChangeState(record.state)
        super().__init__(f"Change state {record.number} (now {state_label(current)})")
        self.record = record
        self.perform = perform
        allowed = allowed_change_targets(ChangeType(record.change_type), current)
        self.targets = offered_order(current, allowed)

    def body(self) -> ComposeResult:
        yield OptionList(
            *[Option(Text(state_label(state)), id=state.value) for state in self.targets],
            id="change-targets",
        )
        with Vertical(id="approver-fields", classes="state-fields"):
            yield Label("CAB members to ask (space toggles; change managers vote unasked)")
            yield SelectionList[str](id="change-approvers", compact=True)
        with Vertical(id="outcome-fields", classes="state-fields"):
            yield Label("Outcome")
            yield Select[ChangeOutcome](
                [(state_label(outcome), outcome) for outcome in ChangeOutcome],
                prompt="choose the outcome",
                id="change-outcome",
                compact=True,
            )
        with Vertical(id="review-fields", classes="state-fields"):
            yield Label("Review notes")
            yield Input(id="change-review-notes", compact=True, placeholder="what was learned")
        with Vertical(id="override-fields", classes="state-fields"):
            yield Checkbox("Schedule over conflicts (change managers)", id="change-override")
        with Vertical(id="window-fields", classes="state-fields"):
            yield Checkbox("Implement outside the planned window", id="change-window-override")
        yield Label("Reason (optional)", id="change-reason-label")
        yield Input(id="change-reason", compact=True, placeholder="why (journaled)")

    def on_mount(self) -> None:
        targets = self.query_one("#change-targets", OptionList)
        if self.targets:
            targets.highlighted = 0
        targets.focus()
        self._show_fields()
        if ChangeState.AUTHORIZE in self.targets:
            self.load_users()

    @work(thread=True, exclusive=True, group="change-state-users", exit_on_error=False)
    def load_users(self) -> None:
        with desk(self.app).database.session() as session:
            users = directory.list_users(session)
        self.app.call_from_thread(self._users_loaded, users)

    def _users_loaded(self, users: list[UserRecord]) -> None:
        if not self.is_attached:
            return
        picker = self.query_one("#change-approvers", SelectionList)
        picker.clear_options()
        for user in approver_candidates(users, self.record):
            label = user_text(user.username).append(f"  {state_label(user.role)}")
            picker.add_option((label, user.username))

    @property
    def target(self) -> ChangeState | None:
        option = self.query_one("#change-targets", OptionList).highlighted_option
        return ChangeState(option.id) if option is not None and option.id else None

    def _show_fields(self) -> None:
        target = self.target
        frame = self.query_one(".dialog", Vertical)
        frame.set_class(target is ChangeState.AUTHORIZE, "-authorize")
        frame.set_class(target is ChangeState.REVIEW, "-review")
        frame.set_class(target is ChangeState.CLOSED, "-closed")
        frame.set_class(target is ChangeState.SCHEDULED, "-scheduled")
        frame.set_class(target is ChangeState.IMPLEMENT, "-implement")
        label = self.REASON_LABELS.get(target, "Reason (optional)") if target else "Reason"
        if target is ChangeState.NEW and self.record.state == ChangeState.AUTHORIZE.value:
            label = "Reason (required: why it goes back to the requester)"
        self.query_one("#change-reason-label", Label).update(Text(label))

    @on(OptionList.OptionHighlighted, "#change-targets")
    def _target_changed(self) -> None:
        self.clear_error()
        self._show_fields()

    @on(OptionList.OptionSelected, "#change-targets")
    def _target_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.submit()

    def move(self) -> ChangeMove:
        """The dialog's values for the highlighted target (only the fields it shows)."""
        target = self.target
        assert target is not None
        values: dict[str, object] = {
            "state": target,
            "reason": self.query_one("#change-reason", Input).value.strip(),
        }
        if target is ChangeState.AUTHORIZE:
            values["approvers"] = tuple(self.query_one("#change-approvers", SelectionList).selected)
        if target is ChangeState.REVIEW:
            values["outcome"] = self.query_one("#change-outcome", Select).selection
        if target is ChangeState.CLOSED:
            notes = self.query_one("#change-review-notes", Input).value.strip()
            values["review_notes"] = notes or None
        if target is ChangeState.SCHEDULED:
            values["conflict_override"] = self.query_one("#change-override", Checkbox).value
        if target is ChangeState.IMPLEMENT:
            values["window_override"] = self.query_one("#change-window-override", Checkbox).value
        return ChangeMove.model_validate(values)

    def prepare(self) -> Call[ChangeRecord] | None:
        if self.target is None:
            self.show_error("No state change is possible from here.")
            return None
        try:
            move = self.move()
        except ValidationError as error:
            self.show_error(first_error(error))
            return None
        return self.perform(move)


# ---------------------------------------------------------------------------- caused by


class CausedByDialog(ServiceCallDialog[object]):
    """Point an incident at the change that caused it, or clear the link (empty)."""

    def __init__(
        self, incident: str, current: str | None, perform: Callable[[str], Call[object]]
    ) -> None:
        super().__init__(f"Change that caused {incident}")
        self.current = current
        self.perform = perform

    def body(self) -> ComposeResult:
        now = f"now {self.current}" if self.current else "none set"
        yield Label(Text(f"Change number ({now}; leave empty to clear)"))
        yield Input(
            value=self.current or "", id="caused-by-number", compact=True, placeholder="CHG…"
        )

    def on_mount(self) -> None:
        self.query_one("#caused-by-number", Input).focus()

    def prepare(self) -> Call[object] | None:
        number = self.query_one("#caused-by-number", Input).value.strip().upper()
        if not number and not self.current:
            self.show_error("Type a change number (or escape to cancel).")
            return None
        if number == (self.current or ""):
            self.show_error("That is the change already linked.")
            return None
        return self.perform(number or "none")


# ---------------------------------------------------------------------------- conflict


class ChangeConflictDialog(ConflictDialog):
    """The incident form's conflict choice, less "keep mine as a work note": changes have no
    journal note service yet, so the choices are reload-and-reapply or back to the edit."""

    def on_mount(self) -> None:
        self.query_one("#conflict-note", Button).remove()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "choose" and parameters == ("note",))


__all__ = [
    "CHANGE_STATE_ORDER",
    "CausedByDialog",
    "ChangeConflictDialog",
    "ChangeStateDialog",
    "ConflictResolution",
    "ServiceCallDialog",
    "VoteDialog",
    "approver_candidates",
]
