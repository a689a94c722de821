"""Log a new incident or edit one, without ever losing what was typed.

Why it is built this way:
- The database is only touched in thread workers, so a slow or locked database never
  freezes typing; results come back through `call_from_thread`.
- Input is checked before anything is written, with the same pydantic models the services
  use, and each message is shown under its field; a refused save keeps the form as it was.
- An edit sends only the fields that changed, with the version it was read at. If a colleague
  saved in between, the service raises `Conflict` and `ConflictDialog` lets the user reapply
  their values on top of the new version, park them in a work note, or go back to editing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from pydantic import TypeAdapter, ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import printable, user_text
from itsm_tui.domain.enums import Priority
from itsm_tui.domain.priority import priority_for
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.conflict_dialog import ConflictDialog, ConflictResolution, ConflictRow
from itsm_tui.screens.context import desk
from itsm_tui.screens.failures import failure_text
from itsm_tui.screens.form_checks import checked
from itsm_tui.services import directory, incidents, known_errors
from itsm_tui.services.errors import Conflict, ServiceError
from itsm_tui.services.incident_inputs import UNASSIGNED, IncidentChanges, IncidentCreate
from itsm_tui.services.known_errors import KnownErrorHit
from itsm_tui.services.records import (
    ConfigItemRecord,
    GroupRecord,
    IncidentRecord,
    ServiceRecord,
    UserRecord,
)
from itsm_tui.services.validation import Title
from itsm_tui.widgets.desk_footer import DeskFooter
from itsm_tui.widgets.known_errors import KnownErrorPanel

LEVELS: tuple[tuple[int, str], ...] = ((1, "high"), (2, "medium"), (3, "low"))
# A new incident starts at low/low (P5), as most desks do: the agent raises what they judge.
DEFAULT_LEVEL = 3
# The assignee Select always has a value; "" (never a username) stands for nobody.
NOBODY = ""
FIELD_LABELS: dict[str, str] = {
    "title": "Title",
    "description": "Description",
    "caller": "Caller",
    "service": "Service",
    "ci": "Configuration item",
    "category": "Category",
    "impact": "Impact",
    "urgency": "Urgency",
    "group": "Assignment group",
    "assignee": "Assignee",
}
FIELD_NAMES = tuple(FIELD_LABELS)
# One-line fields are stored stripped; trailing spaces alone are not an edit.
_STRIPPED = frozenset({"title", "caller", "category"})
# Service errors that name a field in prose: the message goes under that field.
_FIELD_HINTS: tuple[tuple[str, str], ...] = (
    ("unknown service", "service"),
    ("unknown ci", "ci"),
    ("does not belong to service", "ci"),
    ("unknown group", "group"),
    ("unknown assignee", "assignee"),
    ("is not a member of group", "assignee"),
    ("cannot take incidents", "assignee"),
)
_TITLE = TypeAdapter(Title)


@dataclass(frozen=True)
class FormValues:
    """What the form holds, as plain values: compared, overlaid and sent, never widgets."""

    title: str = ""
    description: str = ""
    caller: str = ""
    service: str | None = None
    ci: str | None = None
    category: str = ""
    impact: int = DEFAULT_LEVEL
    urgency: int = DEFAULT_LEVEL
    group: str | None = None
    assignee: str | None = None

    @classmethod
    def of(cls, record: IncidentRecord) -> FormValues:
        """The record as the form shows it.

        Input and TextArea write control characters to the terminal as they are, so text
        stored around validation (imports, older versions) is shown escaped, the way
        `display.printable` shows it everywhere else. The escaped text is the base too:
        an untouched field is not sent, so the stored value stays as it is.
        """
        return cls(
            title=printable(record.title),
            description=printable(record.description.replace("\r\n", "\n"), multiline=True),
            caller=printable(record.caller) if record.caller else "",
            service=record.service,
            ci=record.ci,
            category=printable(record.category) if record.category else "",
            impact=record.impact,
            urgency=record.urgency,
            group=record.group,
            assignee=record.assignee,
        )

    def changed_from(self, base: FormValues) -> tuple[str, ...]:
        """Names of the fields where this differs from `base`, in form order."""
        return tuple(name for name in FIELD_NAMES if _norm(self, name) != _norm(base, name))

    def reapplied_on(self, theirs: FormValues, base: FormValues) -> FormValues:
        """`theirs` with this form's edits (relative to `base`) on top."""
        return replace(theirs, **{name: getattr(self, name) for name in self.changed_from(base)})

    def shown(self, name: str) -> str:
        """A field's value as words, for the conflict table and the work note."""
        value = getattr(self, name)
        if name in ("impact", "urgency"):
            return f"{value} ({dict(LEVELS).get(value, '?')})"
        if name == "assignee" and not value:
            return "(unassigned)"
        return value if value else "-"


def _norm(values: FormValues, name: str) -> object:
    value = getattr(values, name)
    return value.strip() if name in _STRIPPED and isinstance(value, str) else value


def create_data(values: FormValues) -> dict[str, object]:
    """The `IncidentCreate` fields; empty optional text is "not given", not an empty string."""
    return {
        "title": values.title,
        "description": values.description,
        "caller": values.caller.strip() or None,
        "service": values.service,
        "ci": values.ci,
        "category": values.category.strip() or None,
        "impact": values.impact,
        "urgency": values.urgency,
        "group": values.group,
        "assignee": values.assignee or None,
    }


def change_data(base: FormValues, values: FormValues) -> tuple[dict[str, object], dict[str, str]]:
    """The `IncidentChanges` fields for what changed, and errors for changes it cannot say.

    The services cannot clear a service, CI or group once set; a CI dropped because the
    service changed is fine (the service clears it there too).
    """
    data: dict[str, object] = {}
    errors: dict[str, str] = {}
    changed = values.changed_from(base)
    for name in changed:
        value = getattr(values, name)
        if name == "assignee":
            data[name] = value or UNASSIGNED
        elif name in ("service", "ci", "group") and value is None:
            if not (name == "ci" and "service" in changed):
                errors[name] = "cannot be cleared once set; pick another"
        else:
            data[name] = value
    return data, errors


def field_of(error: ServiceError) -> str | None:
    """The field a service error is about, when its message says so; else None."""
    text = str(error)
    name, sep, _rest = text.partition(":")
    if sep and name in FIELD_LABELS:
        return name
    lowered = text.lower()
    return next((field for hint, field in _FIELD_HINTS if hint in lowered), None)


def note_text(number: str, their_version: int, base: FormValues, mine: FormValues) -> str:
    """The work note that keeps an edit which lost a race: one `field: value` line each."""
    lines = [
        f"Edit not saved: {number} was changed by someone else first "
        f"(now version {their_version}). My values were:"
    ]
    lines += [f"{name}: {mine.shown(name)}" for name in mine.changed_from(base)]
    return "\n".join(lines)


def conflict_rows(base: FormValues, mine: FormValues, theirs: FormValues) -> list[ConflictRow]:
    """Fields where the saved record differs from what this form would leave behind.

    My edits come first; then fields only they changed, so the user sees what reapplying
    keeps of theirs.
    """
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


@dataclass(frozen=True)
class Directory:
    """The choices the Selects offer, read once when the form opens."""

    services: list[ServiceRecord]
    groups: list[GroupRecord]
    users: list[UserRecord]
    config_items: list[ConfigItemRecord]


class DiscardChangesDialog(ModalScreen[bool]):
    """Asks before unsaved typing is thrown away; dismisses True to discard.

    Escape means "keep editing": a reflexive second escape must not lose work.
    """

    BINDINGS = [
        Binding("d", "discard", "Discard"),
        Binding("escape,k,q", "keep", "Keep editing"),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]
    AUTO_FOCUS = "#discard-keep"

    def compose(self) -> ComposeResult:
        with Vertical(id="discard-box"):
            yield Static(Text("You have unsaved changes. Discard them?"), id="discard-question")
            with Horizontal(id="discard-buttons"):
                yield Button("Keep editing (k)", id="discard-keep", variant="primary")
                yield Button("Discard (d)", id="discard-discard", variant="error")
        yield DeskFooter()

    def action_discard(self) -> None:
        self.dismiss(True)

    def action_keep(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "discard-discard")


class IncidentFormScreen(DeskScreen[str | None]):
    """`IncidentFormScreen(number=None)`: None logs a new incident, a number edits it.

    Dismisses with the saved incident's number, or None when cancelled.
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "app.focus_next", "Next"),
        Binding("shift+tab", "app.focus_previous", "Prev"),
        # The app quits on a bare "q"; from a Select here that would drop the typing.
        Binding("q", "cancel", "Cancel", show=False),
    ]
    AUTO_FOCUS = "#field-title"
    # Short terminals (24 rows) get a tighter layout from the CSS.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    def __init__(self, number: str | None = None) -> None:
        super().__init__()
        self.number = number.strip().upper() if number else None
        self.base = FormValues()  # what the record held when read: edits are relative to it
        self.version: int | None = None
        self.loaded = False
        self.saving = False
        self._options: dict[str, list[tuple[Text, str]]] = {}
        # The service whose CIs the CI Select offers (or is loading), and the CI to pick once
        # they arrive: the form reads that while a load is in flight, so no choice is lost.
        self._ci_service: str | None = None
        self._ci_loading = False
        self._ci_wanted: str | None = None

    # ------------------------------------------------------------------ layout

    @property
    def section(self) -> str:
        return f"Edit {self.number}" if self.number else "New incident"

    def compose_body(self) -> ComposeResult:
        heading = f"Edit {self.number}" if self.number else "New incident"
        yield Static(Text(heading), id="form-heading")
        yield Static(id="form-error", classes="form-error")
        with VerticalScroll(id="form-body"):
            yield from self._field("title", Input(id="field-title", placeholder="Short summary"))
            yield from self._field(
                "description",
                TextArea(id="field-description", soft_wrap=True, tab_behavior="focus"),
            )
            with Horizontal(classes="form-row"):
                with Vertical(classes="form-cell"):
                    yield from self._field("caller", Input(id="field-caller"))
                with Vertical(classes="form-cell"):
                    yield from self._field("category", Input(id="field-category"))
            with Horizontal(classes="form-row"):
                with Vertical(classes="form-cell"):
                    yield from self._field(
                        "service", Select[str]([], id="field-service", prompt="(none)")
                    )
                with Vertical(classes="form-cell"):
                    yield from self._field("ci", Select[str]([], id="field-ci", prompt="(none)"))
            with Horizontal(classes="form-row"):
                for name in ("impact", "urgency"):
                    with Vertical(classes="form-cell form-level"):
                        yield from self._field(
                            name,
                            Select[int](
                                [(Text(f"{level} {word}"), level) for level, word in LEVELS],
                                id=f"field-{name}",
                                allow_blank=False,
                                value=DEFAULT_LEVEL,
                            ),
                        )
                with Vertical(classes="form-cell form-priority"):
                    yield Label("Priority", classes="field-label")
                    yield Static(id="priority-display")
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

        yield KnownErrorPanel(
            hint="(link one from the incident after saving: K)", shown=1, id="form-known-errors"
        )

    def _field(self, name: str, widget: Widget) -> Iterable[Widget]:
        """Label, input and the (normally hidden) error line under it."""
        yield Label(FIELD_LABELS[name], classes="field-label")
        yield widget
        yield Static(id=f"error-{name}", classes="field-error")

    def on_mount(self) -> None:
        super().on_mount()
        self._show_priority()
        if self.number:
            self.query_one("#form-body").disabled = True  # nothing to type over until filled
        self.load_form(self.number)

    # ------------------------------------------------------------------ reading and filling

    def read_form(self) -> FormValues:
        """The values as typed now (a CI still being loaded counts as chosen)."""
        return FormValues(
            title=self.query_one("#field-title", Input).value,
            description=self.query_one("#field-description", TextArea).text,
            caller=self.query_one("#field-caller", Input).value,
            service=self._choice("service"),
            ci=self._ci_wanted if self._ci_loading else self._choice("ci"),
            category=self.query_one("#field-category", Input).value,
            impact=self._level("impact"),
            urgency=self._level("urgency"),
            group=self._choice("group"),
            assignee=self._choice("assignee") or None,
        )

    def _choice(self, name: str) -> str | None:
        return self.query_one(f"#field-{name}", Select).selection

    def _level(self, name: str) -> int:
        value = self.query_one(f"#field-{name}", Select).selection
        return value if isinstance(value, int) else DEFAULT_LEVEL

    def fill(self, values: FormValues) -> None:
        """Put `values` into the widgets (after a load, a reload or a reapply)."""
        self.query_one("#field-title", Input).value = values.title
        self.query_one("#field-description", TextArea).text = values.description
        self.query_one("#field-caller", Input).value = values.caller
        self.query_one("#field-category", Input).value = values.category
        self.query_one("#field-impact", Select).value = values.impact
        self.query_one("#field-urgency", Select).value = values.urgency
        self._pick("service", values.service)
        self._pick("group", values.group)
        self._pick("assignee", values.assignee or NOBODY)
        if values.service == self._ci_service and not self._ci_loading:
            self._pick("ci", values.ci)
        else:
            self._request_config_items(values.service, values.ci)
        self._show_priority()

    def _offer(self, name: str, options: list[tuple[Text, str]]) -> None:
        """Replace a Select's choices, remembering them so a stored value can be checked."""
        self._options[name] = options
        self.query_one(f"#field-{name}", Select).set_options(options)

    def _pick(self, name: str, value: str | None) -> None:
        select = self.query_one(f"#field-{name}", Select)
        if value is None:
            select.clear()
            return
        options = self._options.get(name, [])
        if all(option_value != value for _label, option_value in options):
            # A name not offered (renamed, retired, filtered out): still show what is stored.
            self._offer(name, [*options, (user_text(value), value)])
        select.value = value

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group="incident-form-load", exit_on_error=False)
    def load_form(self, number: str | None) -> None:
        """The Select choices and, when editing, the incident, in one read."""
        d = desk(self.app)
        try:
            with d.database.session() as session:
                record = incidents.get_incident(session, number) if number else None
                choices = Directory(
                    services=directory.list_services(session),
                    groups=directory.list_groups(session),
                    users=directory.list_users(session),
                    config_items=directory.list_config_items(
                        session, record.service if record else None
                    ),
                )
        except ServiceError as error:
            self.app.call_from_thread(self.show_error, error)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.populate, choices, record)

    def populate(self, choices: Directory, record: IncidentRecord | None) -> None:
        """Offer the directory's choices, then fill the form from the record (edit)."""
        self._offer("service", [(user_text(s.name), s.name) for s in choices.services])
        self._offer("group", [(user_text(g.name), g.name) for g in choices.groups])
        # Viewers and inactive users cannot take incidents: not offered.
        self._offer(
            "assignee",
            [(Text("(unassigned)"), NOBODY)]
            + [
                (user_text(person_label(u)), u.username)
                for u in choices.users
                if u.active and u.role != "viewer"
            ],
        )
        self._ci_service = record.service if record else None
        self._ci_loading = False
        self._offer_config_items(choices.config_items)
        if record is not None:
            self.base = FormValues.of(record)
            self.version = record.version
            self.fill(self.base)
            self._set_heading(record)
        self.loaded = True
        body = self.query_one("#form-body")
        body.disabled = False
        self.query_one("#field-title", Input).focus()

    def _set_heading(self, record: IncidentRecord) -> None:
        heading = Text(f"Edit {record.number} (version {record.version}): ")
        heading.append_text(user_text(record.title))
        self.query_one("#form-heading", Static).update(heading)

    def _offer_config_items(self, items: list[ConfigItemRecord]) -> None:
        self._offer("ci", [(user_text(ci.name), ci.name) for ci in items])

    def _request_config_items(self, service: str | None, keep: str | None) -> None:
        self._ci_service = service
        self._ci_loading = True
        self._ci_wanted = keep
        self.load_config_items(service, keep)

    @work(thread=True, exclusive=True, group="incident-form-ci", exit_on_error=False)
    def load_config_items(self, service: str | None, keep: str | None) -> None:
        """The CIs of `service` (all CIs when none is chosen)."""
        try:
            with desk(self.app).database.session() as session:
                items = directory.list_config_items(session, service)
        except ServiceError as error:
            self.app.call_from_thread(self.show_error, error)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._config_items_loaded, service, items, keep)

    def _config_items_loaded(
        self, service: str | None, items: list[ConfigItemRecord], keep: str | None
    ) -> None:
        if service != self._ci_service:
            return  # the service changed again; a newer load is on its way
        self._ci_loading = False
        self._offer_config_items(items)
        if keep is not None and any(ci.name == keep for ci in items):
            self.query_one("#field-ci", Select).value = keep

    @work(thread=True, exclusive=True, group="incident-form-save", exit_on_error=False)
    def save_incident(
        self, number: str | None, payload: IncidentCreate | IncidentChanges, version: int | None
    ) -> None:
        """Write the form; hand back the record, the refusal, or their version on a conflict."""
        d = desk(self.app)
        try:
            with d.database.session() as session:
                if number is None:
                    assert isinstance(payload, IncidentCreate)
                    record = incidents.create_incident(session, d.actor, d.clock, payload)
                else:
                    assert isinstance(payload, IncidentChanges)
                    record = incidents.update_incident(
                        session, d.actor, d.clock, number, payload, expect_version=version
                    )
        except Conflict as conflict:
            theirs = self._reread(number) if number else None
            if theirs is None:
                self.app.call_from_thread(self.save_failed, conflict)
            else:
                self.app.call_from_thread(self.on_conflict, theirs)
            return
        except ServiceError as error:
            self.app.call_from_thread(self.save_failed, error)
            return
        self.app.call_from_thread(self.saved, record)

    def _reread(self, number: str) -> IncidentRecord | None:
        try:
            with desk(self.app).database.session() as session:
                return incidents.get_incident(session, number)
        except ServiceError:
            return None

    @work(thread=True, exclusive=True, group="incident-form-save", exit_on_error=False)
    def keep_as_note(self, number: str, text: str) -> None:
        """Journal the edit that lost the race, then hand back the record as it is now."""
        d = desk(self.app)
        try:
            with d.database.session() as session:
                incidents.add_note(session, d.actor, d.clock, number, text)
                record = incidents.get_incident(session, number)
        except ServiceError as error:
            self.app.call_from_thread(self.save_failed, error)
            return
        self.app.call_from_thread(self.noted, record)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Anything a worker did not expect (database gone, a bug) is shown, never a crash;
        the form keeps what was typed and ctrl+s tries again."""
        if event.state is WorkerState.ERROR:
            if event.worker.group == "incident-form-save":
                self.saving = False
            self.show_error(failure_text(event.worker.error))

    # ------------------------------------------------------------------ saving

    def action_save(self) -> None:
        if not self.loaded or self.saving:
            return
        values = self.read_form()
        self.clear_errors()
        payload: IncidentCreate | IncidentChanges | None
        errors: dict[str, str]
        if self.number is None:
            payload, errors = checked(IncidentCreate, create_data(values))
        else:
            data, errors = change_data(self.base, values)
            if not data and not errors:
                self.notify("Nothing to save: no field was changed.", markup=False)
                return
            payload, model_errors = checked(IncidentChanges, data)
            errors = {**model_errors, **errors}
        if errors or payload is None:
            self.show_field_errors(errors)
            return
        self.saving = True
        self.query_one("#form-error", Static).update(Text("Saving…"))
        self.query_one("#form-error", Static).set_class(True, "-shown", "-busy")
        self.save_incident(self.number, payload, self.version)

    def saved(self, record: IncidentRecord) -> None:
        """Close with the number. The form first becomes an edit of what was saved, so if
        another screen is on top by now (dismissing would pop that one), staying open can
        never log the incident twice."""
        self.saving = False
        verb = "Logged" if self.number is None else "Saved"
        self.number = record.number
        self._rebase(record)
        self.notify(f"{verb} {record.number}", markup=False)
        if self.is_current:
            self.dismiss(record.number)
        else:
            self.show_error(f"{verb} {record.number}.", failure=False)

    def save_failed(self, error: ServiceError) -> None:
        """Nothing was written; everything typed stays, the reason goes where it belongs."""
        self.saving = False
        field = field_of(error)
        if field is not None:
            message = str(error)
            prefix = f"{field}: "
            self.show_field_errors({field: message.removeprefix(prefix)})
        else:
            self.show_error(error)
            self.notify(str(error), severity="error", markup=False)

    def on_conflict(self, theirs: IncidentRecord) -> None:
        """Someone saved first: ask what to do with the typed values (kept in any case)."""
        self.saving = False
        self.clear_errors()
        mine = self.read_form()
        their_values = FormValues.of(theirs)
        rows = conflict_rows(self.base, mine, their_values)

        def resolved(choice: ConflictResolution | None) -> None:
            self.resolve_conflict(choice or ConflictResolution.BACK_TO_EDIT, theirs, mine)

        self.app.push_screen(ConflictDialog(theirs.number, rows, theirs.version), resolved)

    def resolve_conflict(
        self, choice: ConflictResolution, theirs: IncidentRecord, mine: FormValues
    ) -> None:
        if choice is ConflictResolution.RELOAD_AND_REAPPLY:
            their_values = FormValues.of(theirs)
            merged = mine.reapplied_on(their_values, self.base)
            self._rebase(theirs)
            self.fill(merged)
            self.show_error(
                f"Reloaded version {theirs.version}; your changes are reapplied on top. "
                "Review and save again (ctrl+s).",
                failure=False,
            )
        elif choice is ConflictResolution.KEEP_MINE_AS_NOTE:
            self.saving = True
            self.keep_as_note(
                theirs.number, note_text(theirs.number, theirs.version, self.base, mine)
            )
        else:
            self.show_error(
                f"Not saved: {theirs.number} changed meanwhile. Your edit is as you left it.",
                failure=False,
            )

    def noted(self, record: IncidentRecord) -> None:
        """The edit is safe in the journal: show the record as it is now."""
        self.saving = False
        self._rebase(record)
        self.fill(self.base)
        self.show_error(
            f"Your changes were added to {record.number} as a work note; "
            "the form shows the saved version.",
            failure=False,
        )
        self.notify(f"Work note added to {record.number}", markup=False)

    def _rebase(self, record: IncidentRecord) -> None:
        self.base = FormValues.of(record)
        self.version = record.version
        self._set_heading(record)

    # ------------------------------------------------------------------ cancelling

    def action_cancel(self) -> None:
        if self.saving:
            # Leaving now would hide the outcome (a conflict, a refusal) of a write in flight.
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

    @on(Select.Changed, "#field-impact, #field-urgency")
    def _level_changed(self) -> None:
        self._show_priority()

    def _show_priority(self) -> None:
        """The priority the matrix gives, recomputed as impact and urgency change."""
        priority = priority_for(self._level("impact"), self._level("urgency"))
        display = self.query_one("#priority-display", Static)
        display.update(Text(f"{priority.label} {priority.name.lower()}"))
        for level in Priority:
            display.set_class(level is priority, f"-p{level.value}")

    @on(Select.Changed, "#field-service")
    def _service_changed(self) -> None:
        """Offer only the chosen service's CIs; keep the CI if it belongs."""
        if not self.loaded:
            return
        service = self._choice("service")
        if service != self._ci_service:
            self._request_config_items(service, self.read_form().ci)

    @on(Input.Blurred, "#field-title")
    def _title_blurred(self) -> None:
        # Focus also leaves when a dialog opens on top: that is not the user moving on.
        if self.is_current:
            self._check_title()

    @on(Input.Changed, "#field-title")
    def _title_changed(self) -> None:
        # Only once a message is shown: no nagging while a new title is first typed.
        if self.query_one("#error-title", Static).has_class("-shown"):
            self._check_title()

    def _check_title(self) -> None:
        if not self.loaded:
            return
        try:
            _TITLE.validate_python(self.query_one("#field-title", Input).value)
        except ValidationError as error:
            self._set_field_error("title", field_errors_flat(error))
        else:
            self._set_field_error("title", None)

    # ------------------------------------------------------------------ messages

    def clear_errors(self) -> None:
        for name in FIELD_NAMES:
            self._set_field_error(name, None)
        self.show_error(None)

    def show_field_errors(self, errors: Mapping[str, str]) -> None:
        """Each message under its field; one not tied to a field goes to the top."""
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
            self.query_one(f"#field-{first}").focus()

    def _set_field_error(self, name: str, message: str | None) -> None:
        label = self.query_one(f"#error-{name}", Static)
        label.update(user_text(message) if message else "")
        label.set_class(bool(message), "-shown")

    def show_error(self, message: ServiceError | str | None, *, failure: bool = True) -> None:
        """The top line: a failure (red) or a notice; None hides it. Messages quote names
        and values people typed, so they are shown as data."""
        line = self.query_one("#form-error", Static)
        line.update(user_text(str(message)) if message is not None else "")
        line.set_class(message is not None, "-shown")
        line.set_class(failure, "-failure")
        line.remove_class("-busy")

    # ------------------------------------------------------------------ known errors

    # Seconds typing must pause before known errors are looked up for the new incident.
    KNOWN_ERROR_DEBOUNCE = 0.4

    @on(Input.Changed, "#field-title")
    @on(TextArea.Changed, "#field-description")
    @on(Select.Changed, "#field-service, #field-ci")
    def _draft_changed(self) -> None:
        """A new incident's wording or place changed: look for known errors like it once
        typing pauses, so the agent sees a workaround before saving. (Linking waits until
        the incident exists: the detail's K.)"""
        if self.number is None and self.loaded:
            self._debounce_known_errors()

    @work(exclusive=True, group="incident-form-known-errors-wait", exit_on_error=False)
    async def _debounce_known_errors(self) -> None:
        """The pause, as a worker rather than a timer: each change cancels the previous wait,
        and whoever waits for the screen's workers (tests, snapshots) waits for this too."""
        await asyncio.sleep(self.KNOWN_ERROR_DEBOUNCE)
        values = self.read_form()
        if not (values.title.strip() or values.service or values.ci):
            self._show_known_errors([])
            return
        self.load_known_errors(values.title, values.description, values.service, values.ci)

    @work(thread=True, exclusive=True, group="incident-form-known-errors", exit_on_error=False)
    def load_known_errors(
        self, title: str, description: str, service: str | None, ci: str | None
    ) -> None:
        hits: list[KnownErrorHit] = []
        try:
            with desk(self.app).database.session() as session:
                hits = known_errors.suggest_for_draft(
                    session, title=title, description=description, service=service, ci=ci
                )
        except ServiceError:
            pass  # a hint, not the form's business: nothing is suggested
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_known_errors, hits)

    def _show_known_errors(self, hits: list[KnownErrorHit]) -> None:
        if self.is_attached:
            self.query_one(KnownErrorPanel).show(hits)


def person_label(user: UserRecord) -> str:
    """ "Alice Smith (alice)", or just the username when no other name is known."""
    if user.display_name and user.display_name != user.username:
        return f"{user.display_name} ({user.username})"
    return user.username


def field_errors_flat(error: ValidationError) -> str:
    """A bare type's errors (no field in `loc`) as one line."""
    return "; ".join(item["msg"].removeprefix("Value error, ") for item in error.errors())
