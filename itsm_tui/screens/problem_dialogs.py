"""Dialogs for working a problem: move it on (with what the guard needs), link incidents,
filter and search the board, and look into a recurring-incident candidate.

The write dialogs are `ServiceCallDialog`s (see `change_dialogs`): the screen builds the
service call, the dialog runs it and keeps a refusal inline next to what was typed. They
decide nothing: the problem service and the domain guards do.

    ProblemMoveDialog(record, targets, perform)     -> ProblemRecord | None
    LinkIncidentsDialog(record, perform)            -> ProblemRecord | None
    BoardFilterDialog(current)                      -> BoardFilter | None
    SearchDialog(current)                           -> str | None ("" clears)
    CandidateDialog(candidate)                      -> CandidateChoice | None
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import ValidationError
from rich.text import Text
from sqlmodel import Session
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from itsm_tui.clock import Clock
from itsm_tui.display import printable, user_text
from itsm_tui.domain.enums import ProblemState
from itsm_tui.domain.patterns import Candidate
from itsm_tui.domain.problem_workflow import BOARD_ORDER, FORWARD, allowed_problem_targets
from itsm_tui.screens.change_dialogs import Call, ServiceCallDialog, first_error
from itsm_tui.screens.change_time import when_text
from itsm_tui.screens.context import desk
from itsm_tui.screens.dialogs import ActionDialog, state_label
from itsm_tui.services import directory, problems
from itsm_tui.services.problems import ProblemMove, ProblemRecord, ProblemUpdate
from itsm_tui.store.models import User

ANY_SERVICE = ""


def offered_targets(current: ProblemState) -> list[ProblemState]:
    """The states a problem may go to from `current`: the usual next step first, then the
    steps back (nearest first), cancel last."""
    allowed = allowed_problem_targets(current)

    def rank(state: ProblemState) -> tuple[int, int]:
        if state is FORWARD.get(current):
            return (0, 0)
        if state is ProblemState.CANCELLED:
            return (3, 0)
        return (1, -BOARD_ORDER.index(state))

    return sorted(allowed, key=rank)


def is_backwards(current: ProblemState, target: ProblemState) -> bool:
    return target in BOARD_ORDER and BOARD_ORDER.index(target) < BOARD_ORDER.index(current)


# ---------------------------------------------------------------------------- moving


@dataclass(frozen=True)
class MoveRequest:
    """What the move dialog gathered: the move, and edits to save first (the root cause
    the fix needs, the fix change a resolution points at). Both already validated."""

    move: ProblemMove
    root_cause: str | None = None
    fix_change: str | None = None


class MoveCall:
    """Builds the service call for a move from one problem as the screen showed it: the
    edits the guard needs travel in the move itself, so the edit and the move are one
    transaction, checked against the version on screen."""

    def __init__(self, record: ProblemRecord) -> None:
        self.number = record.number
        self.version = record.version
        self.root_cause = record.root_cause
        self.fix_change = record.fix_change

    def __call__(self, request: MoveRequest) -> Call[ProblemRecord]:
        updates: dict[str, str] = {}
        if request.root_cause is not None and request.root_cause != self.root_cause:
            updates["root_cause"] = request.root_cause
        if request.fix_change is not None and (request.fix_change or None) != self.fix_change:
            updates["fix_change"] = request.fix_change or problems.NONE
        move = request.move.model_copy(update=updates)

        def call(session: Session, actor: User, clock: Clock) -> ProblemRecord:
            return problems.move_problem(
                session, actor, clock, self.number, move, expect_version=self.version
            )

        return call


class ProblemMoveDialog(ServiceCallDialog[ProblemRecord]):
    """Move a problem to one of `targets`, with the fields the highlighted one takes: the
    root cause (fix_in_progress), the fix change and resolution notes (resolved), and a
    reason (required to step back or cancel, or to resolve without a successful fix)."""

    HINT = "ctrl+s: apply · tab: next field · escape: cancel"

    def __init__(
        self,
        record: ProblemRecord,
        targets: Sequence[ProblemState],
        perform: Callable[[MoveRequest], Call[ProblemRecord]],
    ) -> None:
        self.current = ProblemState(record.state)
        super().__init__(Text(f"Move {record.number} (now {state_label(self.current)})"))
        self.record = record
        self.targets = list(targets)
        self.perform = perform

    def body(self) -> ComposeResult:
        yield OptionList(
            *[Option(Text(state_label(state)), id=state.value) for state in self.targets],
            id="move-targets",
        )
        with Vertical(id="move-root-cause", classes="move-fields"):
            yield Label("Root cause (needed before the fix is worked on)")
            yield TextArea(
                printable(self.record.root_cause, multiline=True),
                id="move-root-cause-text",
                soft_wrap=True,
                tab_behavior="focus",
            )
        with Vertical(id="move-resolve", classes="move-fields"):
            yield Label(self._fix_status(), id="move-fix-status")
            yield Input(
                self.record.fix_change or "",
                id="move-fix-change",
                compact=True,
                placeholder="CHG… (the fix change; empty: none)",
            )
            yield Label("Resolution notes (required)")
            yield TextArea(
                printable(self.record.resolution_notes or "", multiline=True),
                id="move-resolution-notes",
                soft_wrap=True,
                tab_behavior="focus",
            )
        yield Label("Reason (optional)", id="move-reason-label")
        yield Input(id="move-reason", compact=True, placeholder="why (journaled)")

    def _fix_status(self) -> Text:
        record = self.record
        if record.fix_change is None:
            return Text("Fix change: none linked (then a reason is required)")
        outcome = f", {state_label(record.fix_change_outcome)}" if record.fix_change_outcome else ""
        state = state_label(record.fix_change_state or "?")
        return Text(f"Fix change: {record.fix_change} ({state}{outcome})")

    def on_mount(self) -> None:
        targets = self.query_one("#move-targets", OptionList)
        if self.targets:
            targets.highlighted = 0
        self._show_fields()
        target = self.target
        if len(self.targets) == 1 and target is ProblemState.FIX_IN_PROGRESS:
            self.query_one("#move-root-cause-text", TextArea).focus()
        elif len(self.targets) == 1 and target is ProblemState.RESOLVED:
            self.query_one("#move-resolution-notes", TextArea).focus()
        else:
            targets.focus()

    @property
    def target(self) -> ProblemState | None:
        option = self.query_one("#move-targets", OptionList).highlighted_option
        return ProblemState(option.id) if option is not None and option.id else None

    def _show_fields(self) -> None:
        target = self.target
        frame = self.query_one(".dialog", Vertical)
        frame.set_class(target is ProblemState.FIX_IN_PROGRESS, "-root-cause")
        frame.set_class(target is ProblemState.RESOLVED, "-resolve")
        if target is None:
            label = "Reason"
        elif target is ProblemState.CANCELLED:
            label = "Reason (required to cancel)"
        elif is_backwards(self.current, target):
            label = f"Reason (required to go back to {state_label(target)})"
        elif target is ProblemState.RESOLVED:
            label = "Reason (required unless the fix change closed successfully)"
        else:
            label = "Reason (optional)"
        self.query_one("#move-reason-label", Label).update(Text(label))

    @on(OptionList.OptionHighlighted, "#move-targets")
    def _target_changed(self) -> None:
        self.clear_error()
        self._show_fields()

    @on(OptionList.OptionSelected, "#move-targets")
    def _target_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.submit()

    def request(self) -> MoveRequest:
        """The dialog's values for the highlighted target (only the fields it shows)."""
        target = self.target
        assert target is not None
        values: dict[str, object] = {
            "state": target,
            "reason": self.query_one("#move-reason", Input).value.strip(),
        }
        root_cause = fix_change = None
        if target is ProblemState.FIX_IN_PROGRESS:
            typed = self.query_one("#move-root-cause-text", TextArea).text
            # Untouched, the stored text stays as it is (the area shows it escaped).
            if typed != printable(self.record.root_cause, multiline=True):
                root_cause = typed.strip()
        if target is ProblemState.RESOLVED:
            values["resolution_notes"] = self.query_one("#move-resolution-notes", TextArea).text
            fix_change = self.query_one("#move-fix-change", Input).value.strip().upper()
        move = ProblemMove.model_validate(values)
        edits = {"root_cause": root_cause, "fix_change": fix_change}
        ProblemUpdate.model_validate({k: v for k, v in edits.items() if v})  # refuse early
        return MoveRequest(move, root_cause, fix_change)

    def prepare(self) -> Call[ProblemRecord] | None:
        if self.target is None:
            self.show_error("No state change is possible from here.")
            return None
        try:
            request = self.request()
        except ValidationError as error:
            self.show_error(first_error(error))
            return None
        return self.perform(request)


# ---------------------------------------------------------------------------- linking

_NUMBER_SEPARATORS = re.compile(r"[\s,;]+")


def incident_numbers(typed: str) -> list[str]:
    """`INC0000004, inc5 6` -> the numbers as typed, upper-cased; digits alone get INC and
    their zeros (the palette reads numbers the same way)."""
    found = []
    for part in _NUMBER_SEPARATORS.split(typed.strip()):
        if not part:
            continue
        part = part.upper()
        digits = part.removeprefix("INC")
        ascii_digits = digits.isascii() and digits.isdigit()  # not '²', which int() refuses
        found.append(f"INC{int(digits):07d}" if ascii_digits else part)
    return list(dict.fromkeys(found))


class LinkIncidentsDialog(ServiceCallDialog[ProblemRecord]):
    """Link incidents (by number, many at once) to a problem; `perform(numbers, apply)`
    builds the write. A known error offers to add its workaround to each as a work note."""

    def __init__(
        self, record: ProblemRecord, perform: Callable[[list[str], bool], Call[ProblemRecord]]
    ) -> None:
        super().__init__(f"Link incidents to {record.number}")
        self.record = record
        self.perform = perform

    def body(self) -> ComposeResult:
        yield Label("Incident numbers (spaces or commas between; 12 means INC0000012)")
        yield Input(id="link-numbers", compact=True, placeholder="INC0000012 INC0000015")
        yield Checkbox(
            "Add the known error's workaround to each as a work note",
            value=self.record.known_error,
            id="link-workaround",
            disabled=not self.record.known_error,
        )

    def on_mount(self) -> None:
        self.query_one("#link-numbers", Input).focus()

    def prepare(self) -> Call[ProblemRecord] | None:
        numbers = incident_numbers(self.query_one("#link-numbers", Input).value)
        if not numbers:
            self.show_error("Type at least one incident number (or escape to cancel).")
            return None
        return self.perform(numbers, self.query_one("#link-workaround", Checkbox).value)


# ---------------------------------------------------------------------------- board filter


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows: a service, known errors only, text, and cancelled problems."""

    service: str | None = None
    known_errors: bool = False
    text: str = ""
    cancelled: bool = False

    def chips(self) -> list[str]:
        chips = []
        if self.service:
            chips.append(f"service: {self.service}")
        if self.known_errors:
            chips.append("known errors")
        if self.text:
            chips.append(f"“{self.text}”")
        if self.cancelled:
            chips.append("with cancelled")
        return chips


class BoardFilterDialog(ActionDialog[BoardFilter | None]):
    """Pick the service, known errors only, and whether cancelled problems get a column."""

    HINT = "ctrl+s: apply · tab: next field · escape: cancel"

    def __init__(self, current: BoardFilter) -> None:
        super().__init__("Filter the problem board")
        self.current = current

    def body(self) -> ComposeResult:
        yield Label("Service")
        yield Select[str](
            [(Text("(any service)"), ANY_SERVICE)],
            value=ANY_SERVICE,
            allow_blank=False,
            id="board-service",
            compact=True,
        )
        yield Checkbox("Known errors only", self.current.known_errors, id="board-known")
        yield Checkbox("Show cancelled problems", self.current.cancelled, id="board-cancelled")

    def on_mount(self) -> None:
        self.query_one("#board-service", Select).focus()
        self.load_services()

    @work(thread=True, exclusive=True, group="board-filter-services", exit_on_error=False)
    def load_services(self) -> None:
        with desk(self.app).database.session() as session:
            names = [service.name for service in directory.list_services(session)]
        self.app.call_from_thread(self._services_loaded, names)

    def _services_loaded(self, names: Iterable[str]) -> None:
        if not self.is_attached:
            return
        names = list(names)
        if self.current.service and self.current.service not in names:
            names.append(self.current.service)
        select = self.query_one("#board-service", Select)
        select.set_options(
            [(Text("(any service)"), ANY_SERVICE)] + [(user_text(n), n) for n in names]
        )
        select.value = self.current.service or ANY_SERVICE

    def submit(self) -> None:
        service = self.query_one("#board-service", Select).selection or None
        self.dismiss(
            BoardFilter(
                service=service,
                known_errors=self.query_one("#board-known", Checkbox).value,
                text=self.current.text,
                cancelled=self.query_one("#board-cancelled", Checkbox).value,
            )
        )


class SearchDialog(ActionDialog[str | None]):
    """Text to look for in problems' numbers, titles, descriptions, root causes and
    workarounds; empty clears the search."""

    def __init__(self, current: str) -> None:
        super().__init__("Search problems (empty clears)")
        self.current = current

    def body(self) -> ComposeResult:
        yield Input(self.current, id="board-search", compact=True, placeholder="text")

    def on_mount(self) -> None:
        self.query_one("#board-search", Input).focus()

    def submit(self) -> None:
        self.dismiss(self.query_one("#board-search", Input).value.strip())


# ---------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class CandidateChoice:
    action: str  # "open" (an incident), "promote" or "dismiss"
    incident: str | None = None


class CandidateDialog(ActionDialog[CandidateChoice | None]):
    """A candidate's incidents, first and last seen and frequency; enter opens the
    highlighted incident, p turns the candidate into a problem, d dismisses it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("p", "choose('promote')", "Promote"),
        Binding("d", "choose('dismiss')", "Dismiss"),
    ]
    HINT = "enter: open incident · p: promote to a problem · d: dismiss · escape: close"

    def __init__(self, candidate: Candidate, zone: str = "UTC") -> None:
        super().__init__(Text("Recurring incidents: ").append_text(user_text(candidate.label)))
        self.candidate = candidate
        self.zone = zone

    def body(self) -> ComposeResult:
        c = self.candidate
        facts = Text(f"{len(c.members)} incidents · first ")
        facts.append_text(when_text(c.first_seen, self.zone)).append(" · last ")
        facts.append_text(when_text(c.last_seen, self.zone))
        facts.append(f" · {c.per_week:.1f} a week")
        yield Static(facts, classes="dialog-message")
        yield OptionList(
            *[Option(Text(number), id=number) for number in c.members], id="candidate-members"
        )

    def on_mount(self) -> None:
        members = self.query_one("#candidate-members", OptionList)
        if self.candidate.members:
            members.highlighted = 0
        members.focus()

    @on(OptionList.OptionSelected, "#candidate-members")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(CandidateChoice("open", event.option.id))

    def action_choose(self, action: str) -> None:
        self.dismiss(CandidateChoice(action))

    def submit(self) -> None:
        option = self.query_one("#candidate-members", OptionList).highlighted_option
        if option is not None:
            self.dismiss(CandidateChoice("open", option.id))
