"""Record a problem or edit one, without ever losing what was typed.

The change form's approach, on the problem's fields: the database is only touched in
thread workers; input is checked with the service's own pydantic models field by field
(`form_checks.checked`); an edit sends only what changed, with the version it was read at,
and when someone saved in between the conflict dialog offers to reapply the typed values on
top of theirs or to go back to editing (`conflict_dialog`). Whether a problem becomes a
known error is the service's rule (root cause and workaround both written); the form says
so next to the two fields but decides nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from sqlmodel import Session
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Select, SelectionList, Static, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import printable, user_text
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.change_dialogs import ChangeConflictDialog
from itsm_tui.screens.conflict_dialog import ConflictResolution, ConflictRow
from itsm_tui.screens.context import desk
from itsm_tui.screens.failures import failure_text
from itsm_tui.screens.form_checks import checked
from itsm_tui.screens.form_choices import (
    NOBODY,
    Choices,
    offer,
    offer_directory,
    pick,
    pick_cis,
)
from itsm_tui.screens.form_save import write_and_report
from itsm_tui.screens.incident_form import DiscardChangesDialog
from itsm_tui.services import problems
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.problems import NONE, ProblemCreate, ProblemRecord, ProblemUpdate

LEVELS: tuple[tuple[int, str], ...] = ((1, "high"), (2, "medium"), (3, "low"))
FIELD_LABELS: dict[str, str] = {
    "title": "Title",
    "impact": "Impact",
    "urgency": "Urgency",
    "service": "Service",
    "cis": "Configuration items (space toggles)",
    "group": "Assignment group",
    "assignee": "Assignee",
    "description": "Description",
    "root_cause": "Root cause",
    "workaround": "Workaround (with the root cause it makes a known error)",
    "fix_change": "Fix change (CHG number; empty: none)",
    "resolution_notes": "Resolution notes",
}
FIELD_NAMES = tuple(FIELD_LABELS)
TEXT_AREAS = ("description", "root_cause", "workaround", "resolution_notes")
# Service refusals that name a field in prose: the message goes under that field.
_FIELD_HINTS: tuple[tuple[str, str], ...] = (
    ("unknown service", "service"),
    ("unknown ci", "cis"),
    ("unknown group", "group"),
    ("unknown assignee", "assignee"),
    ("as the fix", "fix_change"),
)


@dataclass(frozen=True)
class ProblemValues:
    """What the form holds, as plain values: compared, overlaid and sent, never widgets."""

    title: str = ""
    impact: int = 3
    urgency: int = 3
    service: str | None = None
    cis: tuple[str, ...] = ()
    group: str | None = None
    assignee: str | None = None
    description: str = ""
    root_cause: str = ""
    workaround: str = ""
    fix_change: str = ""
    resolution_notes: str = ""

    @classmethod
    def of(cls, record: ProblemRecord) -> ProblemValues:
        def text(value: str | None) -> str:
            return printable(value.replace("\r\n", "\n"), multiline=True) if value else ""

        return cls(
            title=printable(record.title),
            impact=record.impact,
            urgency=record.urgency,
            service=record.service,
            cis=tuple(sorted(record.cis)),
            group=record.group,
            assignee=record.assignee,
            description=text(record.description),
            root_cause=text(record.root_cause),
            workaround=text(record.workaround),
            fix_change=record.fix_change or "",
            resolution_notes=text(record.resolution_notes),
        )

    def changed_from(self, base: ProblemValues) -> tuple[str, ...]:
        return tuple(name for name in FIELD_NAMES if _norm(self, name) != _norm(base, name))

    def reapplied_on(self, theirs: ProblemValues, base: ProblemValues) -> ProblemValues:
        """`theirs` with this form's edits (relative to `base`) on top."""
        return replace(theirs, **{name: getattr(self, name) for name in self.changed_from(base)})

    def shown(self, name: str) -> str:
        value = getattr(self, name)
        if name in ("impact", "urgency"):
            return f"{value} ({dict(LEVELS).get(value, '?')})"
        if name == "cis":
            return ", ".join(value) or "-"
        return str(value) if value else "-"


def _norm(values: ProblemValues, name: str) -> object:
    value = getattr(values, name)
    if name == "fix_change":
        return value.strip().upper()
    return value.strip() if isinstance(value, str) and name not in TEXT_AREAS else value


def create_data(values: ProblemValues) -> dict[str, object]:
    return {
        "title": values.title,
        "impact": values.impact,
        "urgency": values.urgency,
        "service": values.service,
        "cis": values.cis,
        "group": values.group,
        "assignee": values.assignee or None,
        "description": values.description,
        "root_cause": values.root_cause,
        "workaround": values.workaround,
    }


def update_data(base: ProblemValues, values: ProblemValues) -> dict[str, object]:
    """The `ProblemUpdate` fields for what changed; cleared references become "none"."""
    data: dict[str, object] = {}
    for name in values.changed_from(base):
        value = getattr(values, name)
        if name in ("assignee", "group", "service"):
            data[name] = value or NONE
        elif name == "fix_change":
            data[name] = value.strip().upper() or NONE
        else:
            data[name] = value
    return data


def field_of(error: ServiceError) -> str | None:
    lowered = str(error).lower()
    return next((name for hint, name in _FIELD_HINTS if hint in lowered), None)


def conflict_rows(
    base: ProblemValues, mine: ProblemValues, theirs: ProblemValues
) -> list[ConflictRow]:
    """My edits first, then fields only they changed (what reapplying keeps of theirs)."""
    edited = set(mine.changed_from(base))
    rows = [
        ConflictRow(FIELD_LABELS[name], theirs.shown(name), mine.shown(name), edited=True)
        for name in FIELD_NAMES
        if name in edited and _norm(theirs, name) != _norm(mine, name)
    ]
    rows += [
        ConflictRow(FIELD_LABELS[name], theirs.shown(name), mine.shown(name), edited=False)
        for name in theirs.changed_from(base)
        if name not in edited
    ]
    return rows


class ProblemFormScreen(DeskScreen[str | None]):
    """`ProblemFormScreen(number=None)`: None records a new problem, a number edits it.
    Dismisses with the saved problem's number, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "app.focus_next", "Next"),
        Binding("shift+tab", "app.focus_previous", "Prev"),
    ]
    AUTO_FOCUS = "#field-title"
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-short"), (36, "-tall")]

    def __init__(self, number: str | None = None) -> None:
        super().__init__()
        self.number = number.strip().upper() if number else None
        self.base = ProblemValues()
        self.version: int | None = None
        self.loaded = False
        self.saving = False
        self._options: dict[str, list[tuple[Text, str]]] = {}

    @property
    def section(self) -> str:
        return f"Edit {self.number}" if self.number else "New problem"

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        yield Static(Text(self.section), id="form-heading")
        yield Static(id="form-error", classes="form-error")
        with VerticalScroll(id="form-body"):
            yield from self._field("title", Input(id="field-title", placeholder="Short summary"))
            with Horizontal(classes="form-row"):
                for name in ("impact", "urgency"):
                    with Vertical(classes="form-cell"):
                        yield from self._field(
                            name,
                            Select[int](
                                [(Text(f"{level} {word}"), level) for level, word in LEVELS],
                                id=f"field-{name}",
                                allow_blank=False,
                                value=3,
                            ),
                        )
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "service", Select[str]([], id="field-service", prompt="(none)")
                    )
            yield from self._field("cis", SelectionList[str](id="field-cis"))
            with Horizontal(classes="form-row"):
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "group", Select[str]([], id="field-group", prompt="(none)")
                    )
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "assignee",
                        Select[str](
                            [(Text("(unassigned)"), NOBODY)],
                            id="field-assignee",
                            allow_blank=False,
                            value=NOBODY,
                        ),
                    )
            for name in ("description", "root_cause", "workaround"):
                yield from self._field(name, self._area(name))
            with Vertical(id="edit-only", classes="-hidden"):
                yield from self._field("fix_change", Input(id="field-fix_change"))
                yield from self._field("resolution_notes", self._area("resolution_notes"))

    @staticmethod
    def _area(name: str) -> TextArea:
        return TextArea(id=f"field-{name}", soft_wrap=True, tab_behavior="focus")

    def _field(self, name: str, widget: Widget) -> Iterable[Widget]:
        yield Label(FIELD_LABELS[name], classes="field-label")
        yield widget
        yield Static(id=f"error-{name}", classes="field-error")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#form-body").disabled = True
        if self.number:
            self.query_one("#edit-only").remove_class("-hidden")
        self.load_form(self.number)

    # ------------------------------------------------------------------ reading and filling

    def read_form(self) -> ProblemValues:
        return ProblemValues(
            title=self.query_one("#field-title", Input).value,
            impact=self.query_one("#field-impact", Select).selection or 3,
            urgency=self.query_one("#field-urgency", Select).selection or 3,
            service=self._choice("service"),
            cis=tuple(sorted(self.query_one("#field-cis", SelectionList).selected)),
            group=self._choice("group"),
            assignee=self._choice("assignee") or None,
            description=self._text("description"),
            root_cause=self._text("root_cause"),
            workaround=self._text("workaround"),
            fix_change=self.query_one("#field-fix_change", Input).value,
            resolution_notes=self._text("resolution_notes"),
        )

    def _choice(self, name: str) -> str | None:
        return self.query_one(f"#field-{name}", Select).selection

    def _text(self, name: str) -> str:
        return self.query_one(f"#field-{name}", TextArea).text

    def fill(self, values: ProblemValues) -> None:
        self.query_one("#field-title", Input).value = values.title
        self.query_one("#field-fix_change", Input).value = values.fix_change
        for name in TEXT_AREAS:
            self.query_one(f"#field-{name}", TextArea).text = getattr(values, name)
        self.query_one("#field-impact", Select).value = values.impact
        self.query_one("#field-urgency", Select).value = values.urgency
        self._pick("service", values.service)
        self._pick("group", values.group)
        self._pick("assignee", values.assignee or NOBODY)
        pick_cis(self, values.cis)

    def _offer(self, name: str, options: list[tuple[Text, str]]) -> None:
        offer(self, self._options, name, options)

    def _pick(self, name: str, value: str | None) -> None:
        pick(self, self._options, name, value)

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group="problem-form-load", exit_on_error=False)
    def load_form(self, number: str | None) -> None:
        d = desk(self.app)
        try:
            with d.database.session() as session:
                record = problems.get_problem(session, number) if number else None
                choices = Choices.load(session)
        except ServiceError as error:
            self.app.call_from_thread(self.show_error, error)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.populate, choices, record)

    def populate(self, choices: Choices, record: ProblemRecord | None) -> None:
        offer_directory(self, self._options, choices)
        if record is not None:
            self._rebase(record)
            self.fill(self.base)
        self.loaded = True
        self.query_one("#form-body").disabled = False
        self.query_one("#field-title", Input).focus()

    def _rebase(self, record: ProblemRecord) -> None:
        self.base = ProblemValues.of(record)
        self.version = record.version
        heading = Text(f"Edit {record.number} (version {record.version}, {record.state}): ")
        heading.append_text(user_text(record.title))
        self.query_one("#form-heading", Static).update(heading)

    @work(thread=True, exclusive=True, group="problem-form-save", exit_on_error=False)
    def save_problem(
        self, number: str | None, payload: ProblemCreate | ProblemUpdate, version: int | None
    ) -> None:
        """Write the form; hand back the record, the refusal, or theirs on a conflict."""
        d = desk(self.app)

        def write(session: Session) -> ProblemRecord:
            if number is None:
                assert isinstance(payload, ProblemCreate)
                return problems.create_problem(session, d.actor, d.clock, payload)
            assert isinstance(payload, ProblemUpdate)
            return problems.update_problem(
                session, d.actor, d.clock, number, payload, expect_version=version
            )

        reread = (lambda session: problems.get_problem(session, number)) if number else None
        write_and_report(self, write, reread)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Anything a worker did not expect is shown, never a crash; the typing stays."""
        if event.state is WorkerState.ERROR:
            if event.worker.group == "problem-form-save":
                self.saving = False
            self.show_error(failure_text(event.worker.error))

    # ------------------------------------------------------------------ saving

    def action_save(self) -> None:
        if not self.loaded or self.saving:
            return
        values = self.read_form()
        self.clear_errors()
        payload: ProblemCreate | ProblemUpdate | None
        if self.number is None:
            payload, errors = checked(ProblemCreate, create_data(values))
        else:
            data = update_data(self.base, values)
            if not data:
                self.notify("Nothing to save: no field was changed.", markup=False)
                return
            payload, errors = checked(ProblemUpdate, data)
        if errors or payload is None:
            self.show_field_errors(errors)
            return
        self.saving = True
        line = self.query_one("#form-error", Static)
        line.update(Text("Saving…"))
        line.set_class(True, "-shown", "-busy")
        self.save_problem(self.number, payload, self.version)

    def saved(self, record: ProblemRecord) -> None:
        """Close with the number; the form first becomes an edit of what was saved, so if
        another screen is on top by now, staying open never records the problem twice."""
        self.saving = False
        verb = "Recorded" if self.number is None else "Saved"
        self.number = record.number
        self._rebase(record)
        self.notify(f"{verb} {record.number}", markup=False)
        if self.is_current:
            self.dismiss(record.number)
        else:
            self.show_error(f"{verb} {record.number}.", failure=False)

    def save_failed(self, error: ServiceError) -> None:
        self.saving = False
        field = field_of(error)
        if field is not None:
            self.show_field_errors({field: str(error)})
        else:
            self.show_error(error)
            self.notify(str(error), severity="error", markup=False)

    def on_conflict(self, theirs: ProblemRecord) -> None:
        self.saving = False
        self.clear_errors()
        mine = self.read_form()
        rows = conflict_rows(self.base, mine, ProblemValues.of(theirs))

        def resolved(choice: ConflictResolution | None) -> None:
            self.resolve_conflict(choice or ConflictResolution.BACK_TO_EDIT, theirs, mine)

        self.app.push_screen(ChangeConflictDialog(theirs.number, rows, theirs.version), resolved)

    def resolve_conflict(
        self, choice: ConflictResolution, theirs: ProblemRecord, mine: ProblemValues
    ) -> None:
        if choice is ConflictResolution.RELOAD_AND_REAPPLY:
            merged = mine.reapplied_on(ProblemValues.of(theirs), self.base)
            self._rebase(theirs)
            self.fill(merged)
            self.show_error(
                f"Reloaded version {theirs.version}; your changes are reapplied on top. "
                "Review and save again (ctrl+s).",
                failure=False,
            )
        else:
            self.show_error(
                f"Not saved: {theirs.number} changed meanwhile. Your edit is as you left it.",
                failure=False,
            )

    # ------------------------------------------------------------------ cancelling

    def action_cancel(self) -> None:
        if self.saving:
            self.notify("Still saving; one moment.", markup=False)
            return
        if not self.loaded or self.read_form().changed_from(self.base) == ():
            self.dismiss(None)
            return

        def decided(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(DiscardChangesDialog(), decided)

    # ------------------------------------------------------------------ messages

    def clear_errors(self) -> None:
        for name in FIELD_NAMES:
            self._set_field_error(name, None)
        self.show_error(None)

    def show_field_errors(self, errors: Mapping[str, str]) -> None:
        unplaced = [
            f"{name}: {message}" if name else message
            for name, message in errors.items()
            if name not in FIELD_LABELS
        ]
        for name, message in errors.items():
            if name in FIELD_LABELS:
                self._set_field_error(name, message)
        count = sum(1 for name in errors if name in FIELD_LABELS)
        summary = f"Not saved: {count} field(s) need attention." if count else "Not saved."
        self.show_error(" ".join([summary, *unplaced]))
        first = next((name for name in FIELD_NAMES if name in errors), None)
        if first is not None:
            widget = self.query_one(f"#field-{first}")
            widget.focus()
            widget.scroll_visible()

    def _set_field_error(self, name: str, message: str | None) -> None:
        label = self.query_one(f"#error-{name}", Static)
        label.update(user_text(message) if message else "")
        label.set_class(bool(message), "-shown")

    def show_error(self, message: ServiceError | str | None, *, failure: bool = True) -> None:
        line = self.query_one("#form-error", Static)
        line.update(user_text(str(message)) if message is not None else "")
        line.set_class(message is not None, "-shown")
        line.set_class(failure, "-failure")
        line.remove_class("-busy")
