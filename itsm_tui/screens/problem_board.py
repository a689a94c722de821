"""The problem board (mode 3): a column per problem state plus the recurring-incident
candidates the detector found, as a kanban worked from the keyboard.

The screen keeps where the user is (the cursor, the filter) and reads what the board holds
in a thread worker: the problems (`services.problems.list_problems`) and the candidates
(`services.problem_candidates.find_candidates`), again whenever the change feed reports a
write. `m` moves a card on to its usual next state (`domain.problem_workflow.FORWARD`):
straight away when the guard has what it needs, through the move dialog when it asks for
something (a root cause, resolution notes, a reason). The guard is the domain's; the screen
only asks it first so as not to open a dialog with nothing in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from rich.text import Text
from sqlmodel import Session
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.clock import Clock
from itsm_tui.display import printable, user_text
from itsm_tui.domain.enums import ChangeOutcome, ChangeState, ProblemState
from itsm_tui.domain.patterns import Candidate
from itsm_tui.domain.problem_workflow import (
    BOARD_ORDER,
    FORWARD,
    FixChange,
    ProblemFacts,
    check_problem_transition,
)
from itsm_tui.domain.workflow import TransitionRefused
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.screens.dialogs import ConfirmDialog, state_label
from itsm_tui.screens.problem_dialogs import (
    BoardFilter,
    BoardFilterDialog,
    CandidateChoice,
    CandidateDialog,
    MoveCall,
    ProblemMoveDialog,
    SearchDialog,
)
from itsm_tui.services import problem_candidates, problems
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.problems import ProblemMove, ProblemRecord
from itsm_tui.store.models import User
from itsm_tui.widgets.problem_board import (
    LEGEND,
    BoardColumn,
    ProblemBoard,
    candidate_card,
    problem_card,
)

LOAD_GROUP = "problem-board-load"
WRITE_GROUP = "problem-board-write"
CANDIDATES = "candidates"
# Column titles short enough for a 22-cell column with its count.
TITLES = {ProblemState.ROOT_CAUSE_ANALYSIS.value: "Root cause"}
Write = Callable[[Session, User, Clock], object]


@dataclass(frozen=True)
class BoardData:
    """One read of the board: the problems by state and the recurring-incident candidates."""

    problems: dict[str, list[ProblemRecord]]
    candidates: list[Candidate]


def read_board(session: Session, clock: Clock, query: BoardFilter) -> BoardData:
    states = tuple(BOARD_ORDER) + ((ProblemState.CANCELLED,) if query.cancelled else ())
    found = problems.list_problems(
        session,
        states=states,
        service=query.service,
        known_error=True if query.known_errors else None,
        text=query.text or None,
    )
    by_state: dict[str, list[ProblemRecord]] = {state.value: [] for state in states}
    for record in found:
        by_state.setdefault(record.state, []).append(record)
    return BoardData(by_state, _candidates(session, clock, query))


def _candidates(session: Session, clock: Clock, query: BoardFilter) -> list[Candidate]:
    """The candidates matching the board's filter; known errors only means none."""
    if query.known_errors:
        return []
    found = problem_candidates.find_candidates(session, clock)
    if query.service:
        found = [c for c in found if c.service == query.service]
    if query.text:
        needle = query.text.lower()
        found = [c for c in found if needle in c.label.lower() or needle in c.key.lower()]
    return found


def fix_of(record: ProblemRecord) -> FixChange | None:
    if record.fix_change is None or record.fix_change_state is None:
        return None
    outcome = ChangeOutcome(record.fix_change_outcome) if record.fix_change_outcome else None
    return FixChange(record.fix_change, ChangeState(record.fix_change_state), outcome)


def needs_dialog(record: ProblemRecord, target: ProblemState) -> bool:
    """Whether the domain guard would refuse `target` with what the problem holds now, so
    the user has to supply something (a root cause, resolution notes, a reason)."""
    facts = ProblemFacts(
        root_cause=record.root_cause,
        fix_change=fix_of(record),
        resolution_notes=record.resolution_notes or "",
    )
    try:
        check_problem_transition(ProblemState(record.state), target, facts)
    except TransitionRefused:
        return True
    return False


class ProblemBoardScreen(DeskScreen[None]):
    SECTION = "Problems"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("m", "move_on", "Move on"),
        Binding("p", "promote", "Promote"),
        Binding("d", "dismiss_candidate", "Dismiss"),
        Binding("n", "new_problem", "New"),
        Binding("f", "filters", "Filter"),
        Binding("slash", "search", "Search"),
        Binding("x", "clear_filters", "Clear", show=False),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = BoardFilter()
        self.data: BoardData | None = None
        self.records: dict[str, ProblemRecord] = {}
        self.candidates: dict[str, Candidate] = {}
        self._after_load: str | None = None  # a card to put the cursor on once loaded
        self._writes = 0  # writes finished here: reads begun before the last one are stale

    def compose_body(self) -> ComposeResult:
        yield Static(id="board-title")
        yield ProblemBoard(id="problem-board")
        yield Static(id="board-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(ProblemBoard).focus()
        self._draw_title()
        self.load()
        signal = getattr(self.app, "feed_changed", None)
        if signal is not None:
            signal.subscribe(self, self.on_feed)

    def on_screen_resume(self) -> None:
        """Back from a detail or form: the board as it is now."""
        if self.data is not None:
            self.load()

    def on_feed(self, batch: FeedBatch) -> None:
        """Problem writes arrive as `other`; incident writes change counts and candidates."""
        if batch.other or batch.changed:
            self.load()

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        self._read(self.filter, self._writes)

    @work(thread=True, exclusive=True, group=LOAD_GROUP, exit_on_error=False)
    def _read(self, query: BoardFilter, writes: int) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            data = read_board(session, app.clock, query)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._loaded, query, writes, data)

    def _loaded(self, query: BoardFilter, writes: int, data: BoardData) -> None:
        """Show a read unless the user has since changed the filter, or it began before one
        of this screen's writes finished (the read started after the write is coming)."""
        if query != self.filter or writes != self._writes or not self.is_attached:
            return
        self.data = data
        self.records = {r.number: r for rs in data.problems.values() for r in rs}
        self.candidates = {c.key: c for c in data.candidates}
        self.query_one(ProblemBoard).show(self._columns(data))
        if self._after_load is not None:
            self.query_one(ProblemBoard).select(self._after_load)
            self._after_load = None
        self._draw_title()
        self._draw_status()
        self.refresh_bindings()

    def _columns(self, data: BoardData) -> list[BoardColumn]:
        now = desk(self.app).clock.now()
        columns = [
            BoardColumn(
                key=state,
                title=TITLES.get(state, state_label(state).capitalize()),
                cards=tuple(
                    problem_card(
                        number=r.number,
                        title=r.title,
                        priority=r.priority,
                        incident_count=r.incident_count,
                        known_error=r.known_error,
                        opened_at=r.opened_at,
                        now=now,
                    )
                    for r in records
                ),
            )
            for state, records in data.problems.items()
        ]
        found = data.candidates
        columns.append(
            BoardColumn(
                key=CANDIDATES,
                title="Candidates",
                cards=tuple(
                    candidate_card(
                        key=c.key,
                        label=c.label,
                        size=len(c.members),
                        per_week=c.per_week,
                        last_seen=c.last_seen,
                        now=now,
                    )
                    for c in found
                ),
                note="No recurring incidents.",
            )
        )
        return columns

    def on_worker_state_changed(self, event: Worker[Any].StateChanged) -> None:
        if event.state is not WorkerState.ERROR or event.worker.group not in (
            LOAD_GROUP,
            WRITE_GROUP,
        ):
            return
        error = event.worker.error
        verb = "load the board" if event.worker.group == LOAD_GROUP else "save"
        self._draw_status(f"Could not {verb}: {error} (r retries)")

    # ------------------------------------------------------------------ drawing

    def _draw_title(self) -> None:
        line = Text(" Problem board ", style="bold")
        if self.data is not None:
            total = sum(len(rs) for rs in self.data.problems.values())
            known = sum(1 for r in self.records.values() if r.known_error)
            line.append(f"· {total} problem{'' if total == 1 else 's'}, ")
            line.append(f"{known} known error{'' if known == 1 else 's'} ")
            if self.data.candidates:
                count = len(self.data.candidates)
                line.append(f"· {count} candidate{'' if count == 1 else 's'} ", style="bold")
        for chip in self.filter.chips():
            line.append(" ")
            line.append(f" {printable(chip)} ", style="reverse")
        self.query_one("#board-title", Static).update(line)

    def _draw_status(self, error: str | None = None) -> None:
        status = self.query_one("#board-status", Static)
        status.set_class(error is not None, "error")
        if error is not None:
            status.update(user_text(error))
            return
        line = Text()
        board = self.query_one(ProblemBoard)
        card = board.current
        column = board.current_column
        if card is not None and column is not None and column.key == CANDIDATES:
            line.append("enter: its incidents · p: open a problem · d: dismiss  ")
        elif card is not None:
            record = self.records.get(card.key)
            if record is not None:
                state = ProblemState(record.state)
                target = FORWARD.get(state)
                step = f"m: to {state_label(target)}" if target else "no next step"
                line.append(f"{record.number} · {record.open_incident_count} open · {step}  ")
        line.append(LEGEND, style="dim")
        status.update(line)

    @on(ProblemBoard.Moved)
    def _cursor_moved(self) -> None:
        self._draw_status()
        self.refresh_bindings()

    # ------------------------------------------------------------------ what is selected

    def selected_problem(self) -> ProblemRecord | None:
        board = self.query_one(ProblemBoard)
        card, column = board.current, board.current_column
        if card is None or column is None or column.key == CANDIDATES:
            return None
        return self.records.get(card.key)

    def selected_candidate(self) -> Candidate | None:
        board = self.query_one(ProblemBoard)
        card, column = board.current, board.current_column
        if card is None or column is None or column.key != CANDIDATES:
            return None
        return self.candidates.get(card.key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer offers what the card under the cursor takes: a problem moves on, a
        candidate is promoted or dismissed."""
        if action in ("promote", "dismiss_candidate"):
            return self.selected_candidate() is not None
        if action == "move_on":
            record = self.selected_problem()
            return record is not None and ProblemState(record.state) in FORWARD
        return True

    # ------------------------------------------------------------------ writing

    @work(thread=True, exclusive=True, group=WRITE_GROUP, exit_on_error=False)
    def write(self, done: str, call: Write, select: str | None = None) -> None:
        app = desk(self.app)
        try:
            with app.database.session() as session:
                result = call(session, app.actor, app.clock)
        except ServiceError as refused:
            self.app.call_from_thread(self._refused, str(refused))
            return
        number = getattr(result, "number", None) or select
        self.app.call_from_thread(self._written, done, number)

    def _written(self, done: str, number: str | None) -> None:
        self.notify(done, markup=False)
        self._writes += 1
        self._after_load = number
        self.load()

    def _refused(self, message: str) -> None:
        self.notify(message, title="Not done", severity="error", markup=False)
        self._draw_status(f"Refused: {message}")

    # ------------------------------------------------------------------ actions

    def action_move_on(self) -> None:
        record = self.selected_problem()
        if record is None:
            return
        target = FORWARD.get(ProblemState(record.state))
        if target is None:
            self.notify(f"{record.number} is {record.state}: no next step.", markup=False)
            return
        done = f"{record.number} moved to {state_label(target)}."
        perform = MoveCall(record)
        if not needs_dialog(record, target):
            move = ProblemMove(state=target)
            version, number = record.version, record.number

            def call(session: Session, actor: User, clock: Clock) -> object:
                return problems.move_problem(
                    session, actor, clock, number, move, expect_version=version
                )

            self.write(done, call)
            return

        def moved(result: ProblemRecord | None) -> None:
            if result is not None:
                self._written(done, result.number)

        self.app.push_screen(ProblemMoveDialog(record, [target], perform), moved)

    def action_open(self) -> None:
        candidate = self.selected_candidate()
        if candidate is not None:
            zone = str(getattr(self.app, "timezone", "UTC"))
            self.app.push_screen(CandidateDialog(candidate, zone), self._candidate_chosen)
            return
        record = self.selected_problem()
        if record is not None:
            self._open_problem(record.number)

    def _open_problem(self, number: str) -> None:
        opener = getattr(self.app, "open_problem", None)
        if opener is not None:
            opener(number)

    def _candidate_chosen(self, choice: CandidateChoice | None) -> None:
        if choice is None:
            return
        if choice.action == "open" and choice.incident:
            desk(self.app).open_incident(choice.incident)
        elif choice.action == "promote":
            self.action_promote()
        elif choice.action == "dismiss":
            self.action_dismiss_candidate()

    def action_promote(self) -> None:
        candidate = self.selected_candidate()
        if candidate is None:
            return
        key = candidate.key
        message = Text(f"Open a problem for {len(candidate.members)} incidents: ")
        message.append_text(user_text(candidate.label))

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return

            def call(session: Session, actor: User, clock: Clock) -> object:
                return problem_candidates.promote_candidate(session, actor, clock, key)

            self.write("Problem opened from the candidate.", call)

        self.app.push_screen(
            ConfirmDialog(message, title="Promote to a problem", confirm_label="Open problem"),
            confirmed,
        )

    def action_dismiss_candidate(self) -> None:
        candidate = self.selected_candidate()
        if candidate is None:
            return
        key, size = candidate.key, len(candidate.members)
        message = Text("Dismiss ").append_text(user_text(candidate.label))
        message.append(f" ({size} incidents)? It comes back only if it grows.")

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return

            def call(session: Session, actor: User, clock: Clock) -> object:
                return problem_candidates.dismiss_candidate(session, actor, clock, key, size)

            self.write("Candidate dismissed.", call)

        self.app.push_screen(
            ConfirmDialog(message, title="Dismiss candidate", confirm_label="Dismiss"), confirmed
        )

    def action_new_problem(self) -> None:
        opener = getattr(self.app, "open_problem_form", None)
        if opener is not None:
            opener(None)

    def action_filters(self) -> None:
        self.app.push_screen(BoardFilterDialog(self.filter), self._filtered)

    def action_search(self) -> None:
        def searched(text: str | None) -> None:
            if text is not None:
                self._filtered(replace(self.filter, text=text))

        self.app.push_screen(SearchDialog(self.filter.text), searched)

    def _filtered(self, query: BoardFilter | None) -> None:
        if query is not None:
            self.apply_filter(query)

    def action_clear_filters(self) -> None:
        self.apply_filter(BoardFilter())

    def apply_filter(self, query: BoardFilter) -> None:
        self.filter = query
        self._draw_title()
        self.load()

    def action_reload(self) -> None:
        self.load()

    def show_columns(self) -> Sequence[BoardColumn]:
        """The columns as drawn (for tests and help)."""
        return self.query_one(ProblemBoard).columns
