"""Request a change or edit one, without ever losing what was typed.

Built like the incident form, for the same reasons:
- The database is only touched in thread workers; results come back via `call_from_thread`.
- Input is checked with the services' own pydantic models before anything is written (and
  typed times are parsed in the desk's zone), each message under its field; a refused save
  keeps the form as it was, and the service's refusal goes under the field it names.
- An edit sends only the fields that changed, with the version it was read at. If someone
  saved in between, the service raises `Conflict` and the conflict dialog offers to reapply
  the typed values on top of the new version, or to go back to editing.
- Fields the change's state no longer lets change (`services.changes.EDITABLE_IN`) are
  disabled, so the form offers what the service accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from sqlmodel import Session
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, SelectionList, Static, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import printable, user_text
from itsm_tui.domain.change_approvals import CabPolicy
from itsm_tui.domain.enums import ChangeRisk, ChangeState, ChangeType
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.change_dialogs import ChangeConflictDialog
from itsm_tui.screens.change_time import INPUT_HINT, input_text, parse_local, zone
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
from itsm_tui.services import changes
from itsm_tui.services.changes import NONE, ChangeCreate, ChangeRecord, ChangeUpdate
from itsm_tui.services.errors import ServiceError

IMPACTS: tuple[tuple[int, str], ...] = ((1, "high"), (2, "medium"), (3, "low"))
QUESTIONNAIRE = ""  # risk override Select: no override, the questionnaire decides
FIELD_LABELS: dict[str, str] = {
    "title": "Title",
    "change_type": "Type",
    "impact": "Impact",
    "service": "Service",
    "cis": "Configuration items (space toggles)",
    "outage_expected": "Outage expected",
    "tested": "Tested",
    "backout_possible": "Backout possible",
    "risk_override": "Risk override",
    "risk_override_reason": "Override reason",
    "planned_start": "Planned start",
    "planned_end": "Planned end",
    "implementation_plan": "Implementation plan",
    "backout_plan": "Backout plan",
    "test_plan": "Test plan",
    "group": "Assignment group",
    "assignee": "Assignee",
    "description": "Description",
    "justification": "Justification",
    "freeze_justification": "Freeze justification (emergency: why a freeze cannot stop it)",
}
FIELD_NAMES = tuple(FIELD_LABELS)
CHECKS = ("outage_expected", "tested", "backout_possible")
TEXT_AREAS = (
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "description",
    "justification",
    "freeze_justification",
)
# Service refusals that name a field in prose: the message goes under that field.
_FIELD_HINTS: tuple[tuple[str, str], ...] = (
    ("unknown service", "service"),
    ("unknown ci", "cis"),
    ("unknown group", "group"),
    ("unknown assignee", "assignee"),
    ("planned start", "planned_start"),
    ("planned end", "planned_end"),
    ("overriding it", "risk_override_reason"),
    ("freeze justification", "freeze_justification"),
    ("change type", "change_type"),
)


@dataclass(frozen=True)
class ChangeValues:
    """What the form holds, as plain values: compared, overlaid and sent, never widgets.
    Planned times are kept as typed (desk zone) and parsed when sent."""

    title: str = ""
    change_type: str = ChangeType.NORMAL.value
    impact: int = 3
    service: str | None = None
    cis: tuple[str, ...] = ()
    outage_expected: bool = False
    tested: bool = True
    backout_possible: bool = True
    risk_override: str = QUESTIONNAIRE
    risk_override_reason: str = ""
    planned_start: str = ""
    planned_end: str = ""
    implementation_plan: str = ""
    backout_plan: str = ""
    test_plan: str = ""
    group: str | None = None
    assignee: str | None = None
    description: str = ""
    justification: str = ""
    freeze_justification: str = ""

    @classmethod
    def of(cls, record: ChangeRecord, zone_name: str) -> ChangeValues:
        """The record as the form shows it (stored control characters escaped, as the
        incident form does; an untouched field is not sent, so the stored text stays)."""

        def text(value: str | None) -> str:
            return printable(value.replace("\r\n", "\n"), multiline=True) if value else ""

        return cls(
            title=printable(record.title),
            change_type=record.change_type,
            impact=record.impact,
            service=record.service,
            cis=tuple(sorted(record.cis)),
            outage_expected=record.outage_expected,
            tested=record.tested,
            backout_possible=record.backout_possible,
            # An override is in force exactly when a reason is recorded for it.
            risk_override=record.risk if record.risk_override_reason else QUESTIONNAIRE,
            risk_override_reason=text(record.risk_override_reason),
            planned_start=input_text(record.planned_start, zone_name),
            planned_end=input_text(record.planned_end, zone_name),
            implementation_plan=text(record.implementation_plan),
            backout_plan=text(record.backout_plan),
            test_plan=text(record.test_plan),
            group=record.group,
            assignee=record.assignee,
            description=text(record.description),
            justification=text(record.justification),
            freeze_justification=text(record.freeze_justification),
        )

    def changed_from(self, base: ChangeValues) -> tuple[str, ...]:
        return tuple(name for name in FIELD_NAMES if _norm(self, name) != _norm(base, name))

    def reapplied_on(self, theirs: ChangeValues, base: ChangeValues) -> ChangeValues:
        """`theirs` with this form's edits (relative to `base`) on top."""
        return replace(theirs, **{name: getattr(self, name) for name in self.changed_from(base)})

    def shown(self, name: str) -> str:
        """A field's value as words, for the conflict table."""
        value = getattr(self, name)
        if name == "impact":
            return f"{value} ({dict(IMPACTS).get(value, '?')})"
        if name in CHECKS:
            return "yes" if value else "no"
        if name == "cis":
            return ", ".join(value) or "-"
        if name == "risk_override" and not value:
            return "(questionnaire)"
        return str(value) if value else "-"


def _norm(values: ChangeValues, name: str) -> object:
    value = getattr(values, name)
    return value.strip() if isinstance(value, str) and name not in TEXT_AREAS else value


def _times(
    values: ChangeValues, zone_name: str, names: Iterable[str]
) -> tuple[dict[str, object], dict[str, str]]:
    """Parse the typed planned times; (parsed, errors) keyed by field name."""
    parsed: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name in names:
        try:
            parsed[name] = parse_local(getattr(values, name), zone_name)
        except ValueError as error:
            errors[name] = str(error)
    return parsed, errors


def create_data(values: ChangeValues, zone_name: str) -> tuple[dict[str, object], dict[str, str]]:
    """The `ChangeCreate` fields, and errors for times that do not parse."""
    times, errors = _times(values, zone_name, ("planned_start", "planned_end"))
    override = values.risk_override or None
    data: dict[str, object] = {
        "title": values.title,
        "change_type": values.change_type,
        "impact": values.impact,
        "service": values.service,
        "cis": values.cis,
        "outage_expected": values.outage_expected,
        "tested": values.tested,
        "backout_possible": values.backout_possible,
        "risk_override": override,
        "risk_override_reason": values.risk_override_reason if override else "",
        **times,
        "implementation_plan": values.implementation_plan,
        "backout_plan": values.backout_plan,
        "test_plan": values.test_plan,
        "group": values.group,
        "assignee": values.assignee or None,
        "description": values.description,
        "justification": values.justification,
        "freeze_justification": values.freeze_justification,
    }
    return data, errors


def update_data(
    base: ChangeValues, values: ChangeValues, zone_name: str
) -> tuple[dict[str, object], dict[str, str]]:
    """The `ChangeUpdate` fields for what changed, and errors for what it cannot say."""
    changed = values.changed_from(base)
    data: dict[str, object] = {}
    times, errors = _times(values, zone_name, [n for n in changed if n.startswith("planned_")])
    for name in changed:
        value = getattr(values, name)
        if name in ("assignee", "group", "service"):
            data[name] = value or NONE
        elif name.startswith("planned_"):
            if times.get(name) is None and name not in errors:
                errors[name] = "cannot be cleared once set; type another time"
            data[name] = times.get(name)
        elif name in ("risk_override", "risk_override_reason"):
            if values.risk_override:
                data["risk_override"] = values.risk_override
                data["risk_override_reason"] = values.risk_override_reason
            else:
                data["recompute_risk"] = True  # the override is dropped
        else:
            data[name] = value
    return data, errors


def field_of(error: ServiceError) -> str | None:
    """The field a service refusal is about, when its message says so; else None."""
    lowered = str(error).lower()
    return next((name for hint, name in _FIELD_HINTS if hint in lowered), None)


def conflict_rows(
    base: ChangeValues, mine: ChangeValues, theirs: ChangeValues
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


class ChangeFormScreen(DeskScreen[str | None]):
    """`ChangeFormScreen(number=None)`: None requests a new change, a number edits it.

    Dismisses with the saved change's number, or None when cancelled.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "app.focus_next", "Next"),
        Binding("shift+tab", "app.focus_previous", "Prev"),
        Binding("q", "cancel", "Cancel", show=False),
    ]
    AUTO_FOCUS = "#field-title"
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-short"), (36, "-tall")]

    def __init__(self, number: str | None = None) -> None:
        super().__init__()
        self.number = number.strip().upper() if number else None
        self.base = ChangeValues()
        self.version: int | None = None
        self.state: ChangeState = ChangeState.NEW
        self.loaded = False
        self.saving = False
        self._options: dict[str, list[tuple[Text, str]]] = {}

    @property
    def section(self) -> str:
        return f"Edit {self.number}" if self.number else "New change"

    @property
    def zone(self) -> str:
        return str(getattr(self.app, "timezone", "UTC"))

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        yield Static(Text(self.section), id="form-heading")
        yield Static(id="form-error", classes="form-error")
        zone_name = zone(self.zone).key
        with VerticalScroll(id="form-body"):
            yield from self._field("title", Input(id="field-title", placeholder="Short summary"))
            with Horizontal(classes="form-row"):
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "change_type",
                        Select[str](
                            [(Text(kind.value), kind.value) for kind in ChangeType],
                            id="field-change_type",
                            allow_blank=False,
                            value=ChangeType.NORMAL.value,
                        ),
                    )
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "impact",
                        Select[int](
                            [(Text(f"{level} {word}"), level) for level, word in IMPACTS],
                            id="field-impact",
                            allow_blank=False,
                            value=3,
                        ),
                    )
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "service", Select[str]([], id="field-service", prompt="(none)")
                    )
            yield from self._field("cis", SelectionList[str](id="field-cis"))
            yield Label("Risk questionnaire", classes="field-label")
            with Horizontal(classes="form-checks"):
                for name in CHECKS:
                    yield Checkbox(FIELD_LABELS[name], id=f"field-{name}", compact=True)
            yield Static(id="error-questionnaire", classes="field-error")
            with Horizontal(classes="form-row"):
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "risk_override",
                        Select[str](
                            [(Text("(questionnaire)"), QUESTIONNAIRE)]
                            + [(Text(risk.value), risk.value) for risk in ChangeRisk],
                            id="field-risk_override",
                            allow_blank=False,
                            value=QUESTIONNAIRE,
                        ),
                    )
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "risk_override_reason", Input(id="field-risk_override_reason")
                    )
            with Horizontal(classes="form-row"):
                for name in ("planned_start", "planned_end"):
                    with Vertical(classes="form-cell"):
                        yield from self._field(
                            name,
                            Input(id=f"field-{name}", placeholder=f"{INPUT_HINT} {zone_name}"),
                            label=f"{FIELD_LABELS[name]} ({zone_name})",
                        )
            for name in ("implementation_plan", "backout_plan", "test_plan"):
                yield from self._field(name, self._area(name))
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
            for name in ("description", "justification"):
                yield from self._field(name, self._area(name))
            with Vertical(id="freeze-cell", classes="-hidden"):
                yield from self._field("freeze_justification", self._area("freeze_justification"))
            with Vertical(id="edit-extras", classes="-hidden"):
                yield Label(
                    "Reason for this edit (journaled; needed to move a scheduled change "
                    "over conflicts)",
                    classes="field-label",
                )
                yield Input(id="field-reason")
                yield Checkbox(
                    "Schedule over conflicts (change managers)", id="field-conflict_override"
                )

    @staticmethod
    def _area(name: str) -> TextArea:
        return TextArea(id=f"field-{name}", soft_wrap=True, tab_behavior="focus")

    def _field(self, name: str, widget: Widget, *, label: str | None = None) -> Iterable[Widget]:
        yield Label(label or FIELD_LABELS[name], classes="field-label")
        yield widget
        yield Static(id=f"error-{name}", classes="field-error")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#field-tested", Checkbox).value = True
        self.query_one("#field-backout_possible", Checkbox).value = True
        if self.number:
            self.query_one("#form-body").disabled = True
            self.query_one("#edit-extras").remove_class("-hidden")
        self.load_form(self.number)

    # ------------------------------------------------------------------ reading and filling

    def read_form(self) -> ChangeValues:
        return ChangeValues(
            title=self.query_one("#field-title", Input).value,
            change_type=self._choice("change_type") or ChangeType.NORMAL.value,
            impact=self.query_one("#field-impact", Select).selection or 3,
            service=self._choice("service"),
            cis=tuple(sorted(self.query_one("#field-cis", SelectionList).selected)),
            outage_expected=self.query_one("#field-outage_expected", Checkbox).value,
            tested=self.query_one("#field-tested", Checkbox).value,
            backout_possible=self.query_one("#field-backout_possible", Checkbox).value,
            risk_override=self._choice("risk_override") or QUESTIONNAIRE,
            risk_override_reason=self.query_one("#field-risk_override_reason", Input).value,
            planned_start=self.query_one("#field-planned_start", Input).value,
            planned_end=self.query_one("#field-planned_end", Input).value,
            implementation_plan=self._text("implementation_plan"),
            backout_plan=self._text("backout_plan"),
            test_plan=self._text("test_plan"),
            group=self._choice("group"),
            assignee=self._choice("assignee") or None,
            description=self._text("description"),
            justification=self._text("justification"),
            freeze_justification=self._text("freeze_justification"),
        )

    def _choice(self, name: str) -> str | None:
        return self.query_one(f"#field-{name}", Select).selection

    def _text(self, name: str) -> str:
        return self.query_one(f"#field-{name}", TextArea).text

    def fill(self, values: ChangeValues) -> None:
        for name in ("title", "risk_override_reason", "planned_start", "planned_end"):
            self.query_one(f"#field-{name}", Input).value = getattr(values, name)
        for name in TEXT_AREAS:
            self.query_one(f"#field-{name}", TextArea).text = getattr(values, name)
        for name in CHECKS:
            self.query_one(f"#field-{name}", Checkbox).value = getattr(values, name)
        self.query_one("#field-impact", Select).value = values.impact
        self._pick("change_type", values.change_type)
        self._pick("risk_override", values.risk_override)
        self._pick("service", values.service)
        self._pick("group", values.group)
        self._pick("assignee", values.assignee or NOBODY)
        pick_cis(self, values.cis)
        self._show_freeze()

    def _offer(self, name: str, options: list[tuple[Text, str]]) -> None:
        offer(self, self._options, name, options)

    def _pick(self, name: str, value: str | None) -> None:
        pick(self, self._options, name, value)

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group="change-form-load", exit_on_error=False)
    def load_form(self, number: str | None) -> None:
        d = desk(self.app)
        try:
            with d.database.session() as session:
                record = changes.get_change(session, number) if number else None
                choices = Choices.load(session)
        except ServiceError as error:
            self.app.call_from_thread(self.show_error, error)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.populate, choices, record)

    def populate(self, choices: Choices, record: ChangeRecord | None) -> None:
        offer_directory(self, self._options, choices)
        if record is not None:
            self._rebase(record)
            self.fill(self.base)
        self.loaded = True
        self.query_one("#form-body").disabled = False
        self._lock_fields()
        self.query_one("#field-title", Input).focus()

    def _lock_fields(self) -> None:
        """Disable what the change's state no longer lets change (the service's rule)."""
        if self.number is None:
            return
        allowed = changes.EDITABLE_IN.get(self.state)
        for name in FIELD_NAMES:
            service_name = "risk_override" if name == "risk_override_reason" else name
            editable = allowed is None or service_name in allowed
            if name == "change_type":
                editable = self.state is ChangeState.NEW
            self.query_one(f"#field-{name}").disabled = not editable

    def _rebase(self, record: ChangeRecord) -> None:
        self.base = ChangeValues.of(record, self.zone)
        self.version = record.version
        self.state = ChangeState(record.state)
        heading = Text(f"Edit {record.number} (version {record.version}, {record.state}): ")
        heading.append_text(user_text(record.title))
        self.query_one("#form-heading", Static).update(heading)

    @work(thread=True, exclusive=True, group="change-form-save", exit_on_error=False)
    def save_change(
        self, number: str | None, payload: ChangeCreate | ChangeUpdate, version: int | None
    ) -> None:
        """Write the form; hand back the record, the refusal, or theirs on a conflict."""
        d = desk(self.app)
        policy = getattr(self.app, "cab_policy", None)
        policy = policy if isinstance(policy, CabPolicy) else CabPolicy()

        def write(session: Session) -> ChangeRecord:
            if number is None:
                assert isinstance(payload, ChangeCreate)
                return changes.create_change(session, d.actor, d.clock, payload)
            assert isinstance(payload, ChangeUpdate)
            return changes.update_change(
                session, d.actor, d.clock, number, payload, expect_version=version, policy=policy
            )

        reread = (lambda session: changes.get_change(session, number)) if number else None
        write_and_report(self, write, reread)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Anything a worker did not expect is shown, never a crash; the typing stays."""
        if event.state is WorkerState.ERROR:
            if event.worker.group == "change-form-save":
                self.saving = False
            self.show_error(failure_text(event.worker.error))

    # ------------------------------------------------------------------ saving

    def action_save(self) -> None:
        if not self.loaded or self.saving:
            return
        values = self.read_form()
        self.clear_errors()
        payload: ChangeCreate | ChangeUpdate | None
        if self.number is None:
            data, errors = create_data(values, self.zone)
            payload, model_errors = checked(ChangeCreate, data)
        else:
            data, errors = update_data(self.base, values, self.zone)
            reason = self.query_one("#field-reason", Input).value.strip()
            override = self.query_one("#field-conflict_override", Checkbox).value
            if not data and not errors:
                self.notify("Nothing to save: no field was changed.", markup=False)
                return
            data |= {"reason": reason, "conflict_override": override}
            payload, model_errors = checked(ChangeUpdate, data)
        errors = {**model_errors, **errors}
        if errors or payload is None:
            self.show_field_errors(errors)
            return
        self.saving = True
        line = self.query_one("#form-error", Static)
        line.update(Text("Saving…"))
        line.set_class(True, "-shown", "-busy")
        self.save_change(self.number, payload, self.version)

    def saved(self, record: ChangeRecord) -> None:
        """Close with the number; the form first becomes an edit of what was saved, so if
        another screen is on top by now, staying open never requests the change twice."""
        self.saving = False
        verb = "Requested" if self.number is None else "Saved"
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

    def on_conflict(self, theirs: ChangeRecord) -> None:
        self.saving = False
        self.clear_errors()
        mine = self.read_form()
        rows = conflict_rows(self.base, mine, ChangeValues.of(theirs, self.zone))

        def resolved(choice: ConflictResolution | None) -> None:
            self.resolve_conflict(choice or ConflictResolution.BACK_TO_EDIT, theirs, mine)

        self.app.push_screen(ChangeConflictDialog(theirs.number, rows, theirs.version), resolved)

    def resolve_conflict(
        self, choice: ConflictResolution, theirs: ChangeRecord, mine: ChangeValues
    ) -> None:
        if choice is ConflictResolution.RELOAD_AND_REAPPLY:
            merged = mine.reapplied_on(ChangeValues.of(theirs, self.zone), self.base)
            self._rebase(theirs)
            self.fill(merged)
            self._lock_fields()
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

    # ------------------------------------------------------------------ live feedback

    @on(Select.Changed, "#field-change_type")
    def _type_changed(self) -> None:
        self._show_freeze()

    def _show_freeze(self) -> None:
        """The freeze justification only means something on an emergency change."""
        emergency = self._choice("change_type") == ChangeType.EMERGENCY.value
        has_text = bool(self._text("freeze_justification").strip())
        self.query_one("#freeze-cell").set_class(not (emergency or has_text), "-hidden")

    # ------------------------------------------------------------------ messages

    def clear_errors(self) -> None:
        for name in FIELD_NAMES:
            self._set_field_error(name, None)
        self.show_error(None)

    def show_field_errors(self, errors: Mapping[str, str]) -> None:
        unplaced = []
        for name, message in errors.items():
            if name in FIELD_LABELS:
                self._set_field_error(name, message)
            else:
                unplaced.append(f"{name}: {message}" if name else message)
        count = sum(1 for name in errors if name in FIELD_LABELS)
        summary = f"Not saved: {count} field(s) need attention." if count else "Not saved."
        self.show_error(" ".join([summary, *unplaced]))
        first = next((name for name in FIELD_NAMES if name in errors), None)
        if first is not None:
            widget = self.query_one(f"#field-{first}")
            if first == "freeze_justification":
                self.query_one("#freeze-cell").remove_class("-hidden")
            widget.focus()
            widget.scroll_visible()

    def _set_field_error(self, name: str, message: str | None) -> None:
        # The three questionnaire checkboxes share one message line.
        label = self.query_one(f"#error-{'questionnaire' if name in CHECKS else name}", Static)
        label.update(user_text(message) if message else "")
        label.set_class(bool(message), "-shown")

    def show_error(self, message: ServiceError | str | None, *, failure: bool = True) -> None:
        line = self.query_one("#form-error", Static)
        line.update(user_text(str(message)) if message is not None else "")
        line.set_class(message is not None, "-shown")
        line.set_class(failure, "-failure")
        line.remove_class("-busy")
