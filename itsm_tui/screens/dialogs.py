"""Reusable modal dialogs for incident actions: assign, change state, note, escalate, confirm.

They collect and check input, then hand a small value back through `dismiss(...)`; they never
write. The caller (the detail screen, the queue's bulk actions) calls the service with what
came back, so the service stays the one place that decides and the dialogs stay reusable.
Every dialog returns None (ConfirmDialog: False) when cancelled.

Keyboard contract, the same in every dialog: escape cancels; ctrl+s submits from anywhere;
enter submits from a one-line input (in a multi-line text area enter is a new line). Input
problems are shown inline and nothing is returned until they are fixed. Everything fits an
80x24 terminal (the body scrolls if it must).

    AssignDialog(current_group=None, current_assignee=None, subject="")  -> AssignChoice | None
    StateDialog(current_state | None, subject="")                        -> StateChoice | None
    NoteDialog(comment=False, subject="")                                -> str | None
    EscalateDialog(current_group=None, subject="")                       -> EscalateChoice | None
    ConfirmDialog(message, title="Confirm", confirm_label="Yes")         -> bool
    ReasonDialog(message, title=..., reason_label="Reason", required=False) -> str | None
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from itsm_tui.display import user_text
from itsm_tui.domain.enums import HoldReason, IncidentState, ResolutionCode, Role
from itsm_tui.domain.workflow import (
    TransitionRefused,
    TransitionRequest,
    allowed_targets,
    check_incident_transition,
    is_reopen,
)
from itsm_tui.screens.context import desk
from itsm_tui.services import directory
from itsm_tui.services.incident_inputs import UNASSIGNED
from itsm_tui.services.records import GroupRecord, UserRecord

ResultT = TypeVar("ResultT")

# The order states are offered in: the order work normally flows.
STATE_ORDER: tuple[IncidentState, ...] = tuple(IncidentState)


def state_label(state: IncidentState | str) -> str:
    return str(state).replace("_", " ")


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class AssignChoice:
    """What AssignDialog returns. None means "leave as is"; at least one field is set.

    `assignee` is a username, or `UNASSIGNED` ("none") to clear the assignee, exactly what
    `services.incidents.assign(assignee=..., group=...)` takes.
    """

    assignee: str | None
    group: str | None


@dataclass(frozen=True)
class StateChoice:
    """What StateDialog returns: the target state and only the fields that state needs.

    A reopen (resolved -> in_progress, see `domain.workflow.is_reopen`) carries `reason` and
    should go through `services.incidents.reopen`; everything else through `transition`.
    """

    state: IncidentState
    hold_reason: HoldReason | None = None
    resolution_code: ResolutionCode | None = None
    resolution_notes: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class EscalateChoice:
    """What EscalateDialog returns; `to_group` None means the group's escalation group."""

    reason: str
    to_group: str | None = None


# ---------------------------------------------------------------------------- building blocks


class ActionDialog(ModalScreen[ResultT]):
    """Shared frame: a title, the body, an inline error line and a key hint.

    Subclasses compose `body()`, implement `submit()` and return `cancel_result()` on escape.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
    ]
    HINT = "enter/ctrl+s: submit · escape: cancel"

    def __init__(self, title: str | Text) -> None:
        super().__init__()
        # A str title is plain text: wrapping it in Text keeps any brackets literal.
        self.dialog_title = title if isinstance(title, Text) else Text(title)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.dialog_title, classes="dialog-title")
            yield from self.body()
            yield Static("", classes="dialog-error")
            yield Static(Text(self.HINT), classes="dialog-hint")

    def body(self) -> ComposeResult:
        yield from ()

    def cancel_result(self) -> ResultT:
        return None  # type: ignore[return-value]

    def action_cancel(self) -> None:
        self.dismiss(self.cancel_result())

    def action_submit(self) -> None:
        self.submit()

    def submit(self) -> None:
        raise NotImplementedError

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    @property
    def error(self) -> str:
        """The inline error currently shown ("" when none); tests and callers read it."""
        return str(self.query_one(".dialog-error", Static).content)

    def show_error(self, message: str, focus: Widget | None = None) -> None:
        """Explain inline what is missing, and put the cursor where it can be fixed."""
        line = self.query_one(".dialog-error", Static)
        line.update(user_text(message))
        line.set_class(bool(message), "-visible")
        if focus is not None:
            focus.focus()

    def clear_error(self) -> None:
        self.show_error("")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed directory read is shown in the dialog instead of vanishing: the agent
        can still cancel, or type and let the service decide."""
        if event.state is WorkerState.ERROR and self.is_attached:
            self.show_error(f"Could not load choices: {event.worker.error}")


@dataclass(frozen=True)
class Pick:
    """One entry of a PickList: the value returned when chosen, what is shown, and the
    lower-case text that type-to-search matches against."""

    value: str | None
    label: Text
    keywords: str


class PickOptions(OptionList, can_focus=False):
    """The option half of a PickList. Not focusable: the search input drives it, so the
    whole picker is one tab stop."""


class SearchInput(Input):
    """The search half of a PickList: typing filters, up/down move the highlight."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("pagedown", "move(5)", "Page down", show=False),
        Binding("pageup", "move(-5)", "Page up", show=False),
    ]

    def action_move(self, step: int) -> None:
        parent = self.parent
        if isinstance(parent, PickList):
            parent.move(step)


class PickList(Vertical):
    """Type-to-search over a short list; the highlighted entry is the choice.

    `fixed` entries ("keep current", "unassign") stay visible whatever is typed, ahead of
    the matches; typing highlights the first match.
    """

    class Changed(Message):
        """The highlighted entry changed; `value` is the new choice."""

        def __init__(self, pick_list: PickList, value: str | None) -> None:
            super().__init__()
            self.pick_list = pick_list
            self.value = value

        @property
        def control(self) -> PickList:
            return self.pick_list

    def __init__(
        self,
        label: str,
        *,
        fixed: Sequence[Pick] = (),
        placeholder: str = "type to search",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="pick-list")
        self.label = label
        self.fixed = list(fixed)
        self.placeholder = placeholder
        self.picks: list[Pick] = []
        self.offered: list[Pick] = list(fixed)

    def compose(self) -> ComposeResult:
        yield Label(Text(self.label), classes="pick-label")
        yield SearchInput(placeholder=self.placeholder, compact=True)
        yield PickOptions(*self._options())

    def on_mount(self) -> None:
        if self.offered:
            self.query_one(PickOptions).highlighted = 0

    @property
    def search(self) -> SearchInput:
        return self.query_one(SearchInput)

    @property
    def value(self) -> str | None:
        """The chosen value (None when a fixed "keep" entry, or nothing, is highlighted)."""
        pick = self.chosen
        return pick.value if pick is not None else None

    @property
    def chosen(self) -> Pick | None:
        index = self.query_one(PickOptions).highlighted
        if index is None or not 0 <= index < len(self.offered):
            return None
        return self.offered[index]

    def set_picks(self, picks: Iterable[Pick]) -> None:
        """Replace the searchable entries, keeping the current choice if it is still there."""
        self.picks = list(picks)
        self._refilter(keep=self.chosen)

    def move(self, step: int) -> None:
        options = self.query_one(PickOptions)
        if not self.offered:
            return
        current = options.highlighted if options.highlighted is not None else 0
        options.highlighted = max(0, min(len(self.offered) - 1, current + step))

    def _options(self) -> list[Option]:
        return [Option(pick.label, id=str(index)) for index, pick in enumerate(self.offered)]

    def _refilter(self, *, keep: Pick | None = None) -> None:
        query = self.search.value.strip().lower() if self.is_mounted else ""
        matches = [pick for pick in self.picks if query in pick.keywords]
        self.offered = [*self.fixed, *matches]
        options = self.query_one(PickOptions)
        options.set_options(self._options())
        if keep is not None and keep in self.offered:
            index = self.offered.index(keep)
        elif query and matches:
            index = len(self.fixed)
        else:
            index = 0
        options.highlighted = index if self.offered else None
        self.post_message(self.Changed(self, self.value))

    @on(Input.Changed)
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._refilter()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.Changed(self, self.value))

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # a click only highlights; submitting stays explicit
        self.search.focus()


def group_picks(groups: Iterable[GroupRecord]) -> list[Pick]:
    picks = []
    for group in groups:
        label = user_text(group.name)
        if group.escalates_to:
            label.append_text(Text("  escalates to ")).append_text(user_text(group.escalates_to))
        picks.append(Pick(group.name, label, group.name.lower()))
    return picks


def user_picks(users: Iterable[UserRecord]) -> list[Pick]:
    picks = []
    for user in users:
        label = user_text(user.username)
        if user.display_name and user.display_name != user.username:
            label.append_text(Text("  ")).append_text(user_text(user.display_name))
        keywords = f"{user.username} {user.display_name}".lower()
        picks.append(Pick(user.username, label, keywords))
    return picks


def can_take_incidents(user: UserRecord) -> bool:
    """Who the assignee list offers: the service refuses inactive users and viewers."""
    return user.active and user.role != Role.VIEWER.value


# ---------------------------------------------------------------------------- assign


class AssignDialog(ActionDialog[AssignChoice | None]):
    """Pick a group and/or an assignee, each by typing to search.

    The assignee list offers the members of the chosen group (or of the current group when
    the group is kept), so what can be picked is what the service accepts. The directory is
    read in a worker when the dialog opens.
    """

    def __init__(
        self,
        *,
        current_group: str | None = None,
        current_assignee: str | None = None,
        subject: str = "",
    ) -> None:
        super().__init__(f"Assign {subject}".strip())
        self.current_group = current_group
        self.current_assignee = current_assignee
        self.users: list[UserRecord] = []
        self.groups: dict[str, GroupRecord] = {}

    def body(self) -> ComposeResult:
        keep_group = Text(f"(keep {self.current_group})" if self.current_group else "(keep group)")
        keep_user = Text(
            f"(keep {self.current_assignee})" if self.current_assignee else "(keep assignee)"
        )
        yield PickList("Group", fixed=[Pick(None, keep_group, "")], id="assign-group")
        yield PickList(
            "Assignee",
            fixed=[Pick(None, keep_user, ""), Pick(UNASSIGNED, Text("(unassign)"), "")],
            id="assign-user",
        )

    def on_mount(self) -> None:
        self.query_one("#assign-group", PickList).search.focus()
        self.load_directory()

    @work(thread=True, exclusive=True, group="assign-dialog", exit_on_error=False)
    def load_directory(self) -> None:
        with desk(self.app).database.session() as session:
            users = directory.list_users(session)
            groups = directory.list_groups(session)
        self.app.call_from_thread(self._loaded, users, groups)

    def _loaded(self, users: list[UserRecord], groups: list[GroupRecord]) -> None:
        if not self.is_attached:
            return  # dismissed while the directory was read
        self.users = [user for user in users if can_take_incidents(user)]
        self.groups = {group.name: group for group in groups}
        self.query_one("#assign-group", PickList).set_picks(group_picks(groups))
        self._offer_members()

    @on(PickList.Changed, "#assign-group")
    def _group_changed(self) -> None:
        self._offer_members()

    def _offer_members(self) -> None:
        group_name = self.query_one("#assign-group", PickList).value or self.current_group
        group = self.groups.get(group_name) if group_name else None
        users = self.users
        if group is not None:
            members = set(group.members)
            users = [user for user in users if user.username in members]
        self.query_one("#assign-user", PickList).set_picks(user_picks(users))

    def submit(self) -> None:
        group = self.query_one("#assign-group", PickList).value
        assignee = self.query_one("#assign-user", PickList).value
        if group == self.current_group:
            group = None  # picking the group it already has changes nothing
        if group is None and assignee is None:
            self.show_error(
                "Pick a group or an assignee (type to search, up/down to choose).",
                self.query_one("#assign-group", PickList).search,
            )
            return
        self.dismiss(AssignChoice(assignee=assignee, group=group))


# ---------------------------------------------------------------------------- state


class StateDialog(ActionDialog[StateChoice | None]):
    """Move to another state, asking for exactly what that state needs.

    Only the states `domain.workflow` allows from `current_state` are offered; the same
    guard the service applies checks the input here first, so a missing hold reason or
    resolution is reported inline instead of after a round trip. `current_state=None` (bulk
    changes over mixed states) offers every reachable state and leaves the per-incident
    refusals to the service.
    """

    HINT = "enter on a state or ctrl+s: apply · tab: next field · escape: cancel"

    def __init__(self, current_state: IncidentState | str | None, *, subject: str = "") -> None:
        self.current = IncidentState(current_state) if current_state is not None else None
        heading = f"Change state {subject}".strip()
        if self.current is not None:
            heading += f" (now {state_label(self.current)})"
        super().__init__(heading)
        if self.current is not None:
            allowed = allowed_targets(self.current)
        else:  # several incidents in different states: every state something can reach
            allowed = frozenset().union(*(allowed_targets(state) for state in STATE_ORDER))
        self.targets = [state for state in STATE_ORDER if state in allowed]

    def body(self) -> ComposeResult:
        yield OptionList(
            *[Option(Text(self._target_label(state)), id=state.value) for state in self.targets],
            id="state-targets",
        )
        with Vertical(id="hold-fields", classes="state-fields"):
            yield Label("Hold reason")
            yield Select[HoldReason](
                [(state_label(reason), reason) for reason in HoldReason],
                prompt="choose a hold reason",
                id="hold-reason",
                compact=True,
            )
        with Vertical(id="resolve-fields", classes="state-fields"):
            yield Label("Resolution code")
            yield Select[ResolutionCode](
                [(state_label(code), code) for code in ResolutionCode],
                prompt="choose a resolution code",
                id="resolution-code",
                compact=True,
            )
            yield Label("Resolution notes")
            yield TextArea(id="resolution-notes", compact=True)
        with Vertical(id="reason-fields", classes="state-fields"):
            yield Label("Reason", id="reason-label")
            yield Input(id="reason", compact=True, placeholder="why")

    def _reopens(self, target: IncidentState | None) -> bool:
        return self.current is not None and target is not None and is_reopen(self.current, target)

    def _target_label(self, state: IncidentState) -> str:
        if self._reopens(state):
            return f"{state_label(state)} (reopen)"
        return state_label(state)

    def on_mount(self) -> None:
        targets = self.query_one("#state-targets", OptionList)
        if self.targets:
            targets.highlighted = 0
        targets.focus()
        self._show_fields()

    @property
    def target(self) -> IncidentState | None:
        option = self.query_one("#state-targets", OptionList).highlighted_option
        return IncidentState(option.id) if option is not None and option.id else None

    def needs_reason(self, target: IncidentState | None) -> bool:
        """A reopen must say why (the service refuses one without); a cancel may. With mixed
        states, moving to in_progress may reopen some, so the reason is offered then too."""
        if target is None:
            return False
        if self.current is None and target is IncidentState.IN_PROGRESS:
            return True
        return self._reopens(target) or target is IncidentState.CANCELLED

    def _show_fields(self) -> None:
        target = self.target
        frame = self.query_one(".dialog", Vertical)
        frame.set_class(target is IncidentState.ON_HOLD, "-hold")
        frame.set_class(target is IncidentState.RESOLVED, "-resolve")
        frame.set_class(self.needs_reason(target), "-reason")
        if self._reopens(target):
            label = "Reason (required)"
        elif self.current is None and target is IncidentState.IN_PROGRESS:
            label = "Reason (required to reopen resolved incidents)"
        else:
            label = "Reason (optional)"
        self.query_one("#reason-label", Label).update(label)

    @on(OptionList.OptionHighlighted, "#state-targets")
    def _target_changed(self) -> None:
        self.clear_error()
        self._show_fields()

    @on(OptionList.OptionSelected, "#state-targets")
    def _target_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        target = self.target
        if target is None:
            self.show_error("No state change is possible from here.")
            return
        hold = self.query_one("#hold-reason", Select).selection
        code = self.query_one("#resolution-code", Select).selection
        notes = self.query_one("#resolution-notes", TextArea).text
        reason = self.query_one("#reason", Input).value.strip()
        request = TransitionRequest(
            hold_reason=hold if target is IncidentState.ON_HOLD else None,
            resolution_code=code if target is IncidentState.RESOLVED else None,
            resolution_notes=notes if target is IncidentState.RESOLVED else None,
        )
        # The workflow's own guard checks the input, so the dialog asks for exactly what the
        # service would refuse without. With mixed states any state the target is reachable
        # from stands in for the current one: only the required fields are checked then.
        source = (
            self.current
            if self.current is not None
            else next(state for state in STATE_ORDER if target in allowed_targets(state))
        )
        try:
            check_incident_transition(source, target, request)
        except TransitionRefused as refused:
            self.show_error(str(refused), self._field_to_fix(request))
            return
        if self._reopens(target) and not reason:
            self.show_error("Reopening needs a reason.", self.query_one("#reason", Input))
            return
        self.dismiss(
            StateChoice(
                state=target,
                hold_reason=request.hold_reason,
                resolution_code=request.resolution_code,
                resolution_notes=request.resolution_notes,
                reason=reason if self.needs_reason(target) and reason else None,
            )
        )

    def _field_to_fix(self, request: TransitionRequest) -> Widget | None:
        target = self.target
        if target is IncidentState.ON_HOLD and request.hold_reason is None:
            return self.query_one("#hold-reason", Select)
        if target is IncidentState.RESOLVED:
            if request.resolution_code is None:
                return self.query_one("#resolution-code", Select)
            return self.query_one("#resolution-notes", TextArea)
        return None


# ---------------------------------------------------------------------------- notes


class NoteDialog(ActionDialog[str | None]):
    """A work note (internal) or, with `comment=True`, a comment the caller will see.

    The title says which, since sending an internal remark to a customer is the mistake
    this dialog exists to prevent. Returns the text as typed (not stripped).
    """

    HINT = "ctrl+s: save · escape: cancel · enter: new line"

    def __init__(self, *, comment: bool = False, subject: str = "") -> None:
        what = "Customer comment (the caller sees this)" if comment else "Work note (internal)"
        super().__init__(f"{what} for {subject}" if subject else what)
        self.comment = comment

    def body(self) -> ComposeResult:
        yield TextArea(id="note-text", classes="-comment" if self.comment else "-work-note")

    def on_mount(self) -> None:
        self.query_one("#note-text", TextArea).focus()

    def submit(self) -> None:
        area = self.query_one("#note-text", TextArea)
        if not area.text.strip():
            self.show_error("Write something first (or escape to cancel).", area)
            return
        self.dismiss(area.text)


# ---------------------------------------------------------------------------- escalate


class EscalateDialog(ActionDialog[EscalateChoice | None]):
    """Hand the incident to another group with a reason.

    The target may be left at the default: the current group's escalation group, which the
    dialog names when it knows it, so the agent sees where the incident will go.
    """

    def __init__(self, *, current_group: str | None = None, subject: str = "") -> None:
        super().__init__(f"Escalate {subject}".strip())
        self.current_group = current_group
        self.groups: dict[str, GroupRecord] = {}

    def body(self) -> ComposeResult:
        yield Label("Reason (required)")
        yield Input(id="escalate-reason", compact=True, placeholder="why it needs escalating")
        yield PickList(
            "Target group",
            fixed=[Pick(None, Text("(default: the escalation group)"), "")],
            id="escalate-group",
        )

    def on_mount(self) -> None:
        self.query_one("#escalate-reason", Input).focus()
        self.load_groups()

    @work(thread=True, exclusive=True, group="escalate-dialog", exit_on_error=False)
    def load_groups(self) -> None:
        with desk(self.app).database.session() as session:
            groups = directory.list_groups(session)
        self.app.call_from_thread(self._loaded, groups)

    def _loaded(self, groups: list[GroupRecord]) -> None:
        if not self.is_attached:
            return  # dismissed while the groups were read
        self.groups = {group.name: group for group in groups}
        picker = self.query_one("#escalate-group", PickList)
        current = self.groups.get(self.current_group) if self.current_group else None
        if current is not None:
            default = (
                Text("(default: ").append_text(user_text(current.escalates_to)).append(")")
                if current.escalates_to
                else Text("(no escalation group: pick one)")
            )
            picker.fixed = [Pick(None, default, "")]
        others = [group for group in groups if group.name != self.current_group]
        picker.set_picks(group_picks(others))

    def submit(self) -> None:
        reason_input = self.query_one("#escalate-reason", Input)
        reason = reason_input.value.strip()
        if not reason:
            self.show_error("Give a reason for the escalation.", reason_input)
            return
        target = self.query_one("#escalate-group", PickList).value
        current = self.groups.get(self.current_group) if self.current_group else None
        if target is None and current is not None and not current.escalates_to:
            self.show_error(
                f"{current.name} has no escalation group; pick a target group.",
                self.query_one("#escalate-group", PickList).search,
            )
            return
        self.dismiss(EscalateChoice(reason=reason, to_group=target))


# ---------------------------------------------------------------------------- confirm


class ConfirmDialog(ActionDialog[bool]):
    """Yes or no. `message` is shown as plain text (a str is never parsed as markup).

    enter or y confirms; escape or n declines.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,y", "submit", "Yes"),
        Binding("escape,n", "cancel", "No"),
    ]

    def __init__(
        self, message: str | Text, *, title: str = "Confirm", confirm_label: str = "Yes"
    ) -> None:
        super().__init__(title)
        self.message = message if isinstance(message, Text) else Text(message)
        self.HINT = f"enter/y: {confirm_label} · escape/n: cancel"

    def body(self) -> ComposeResult:
        yield Static(self.message, classes="dialog-message")

    def cancel_result(self) -> bool:
        return False

    def submit(self) -> None:
        self.dismiss(True)


class ReasonDialog(ActionDialog[str | None]):
    """A confirmation that also asks why (declare major and similar).

    Returns the reason (stripped; "" when optional and left empty), or None if cancelled.
    """

    def __init__(
        self,
        message: str | Text,
        *,
        title: str = "Confirm",
        reason_label: str = "Reason",
        required: bool = False,
    ) -> None:
        super().__init__(title)
        self.message = message if isinstance(message, Text) else Text(message)
        self.reason_label = reason_label
        self.required = required

    def body(self) -> ComposeResult:
        yield Static(self.message, classes="dialog-message")
        suffix = " (required)" if self.required else " (optional)"
        yield Label(Text(self.reason_label + suffix))
        yield Input(id="confirm-reason", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-reason", Input).focus()

    def submit(self) -> None:
        field = self.query_one("#confirm-reason", Input)
        reason = field.value.strip()
        if self.required and not reason:
            self.show_error(f"{self.reason_label} is required.", field)
            return
        self.dismiss(reason)
