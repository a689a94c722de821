"""Dialogs of the SLA policy editor: add or edit a policy or a calendar, and the what-if.

They read text the way the CLI does (`sla_admin.parse_duration`, `parse_hours` through the
input models) and check it with the CLI's own input models (`PolicyInput`, `PolicyChanges`,
`CalendarInput`, `CalendarChanges`), so the TUI and `itsm sla policy|calendar` accept and
refuse exactly the same things. A refusal, from the model or from the service, stays inline
with everything typed kept (`ServiceCallDialog`); the service alone decides who may write.

    PolicyDialog(record | None)         -> PolicyRecord | None
    CalendarDialog(record | None)       -> CalendarRecord | None
    WhatIfDialog(record, days=30)       -> PolicyRecord | None (the proposal was applied)

Fields the dialogs leave alone (escalation actions, pause reasons, a calendar's extra dates)
keep what they are; the CLI changes those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import ClassVar, TypeVar

from pydantic import BaseModel
from rich.text import Text
from sqlmodel import Session
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Static
from textual.worker import Worker, WorkerState

from itsm_tui.clock import Clock
from itsm_tui.display import printable
from itsm_tui.screens.change_dialogs import Call, ServiceCallDialog
from itsm_tui.screens.context import desk
from itsm_tui.screens.form_checks import checked
from itsm_tui.services import sla_admin
from itsm_tui.services.errors import ServiceError, ValidationFailed
from itsm_tui.services.sla_admin import (
    CalendarChanges,
    CalendarInput,
    CalendarRecord,
    PolicyChanges,
    PolicyInput,
    PolicyRecord,
    format_duration,
)
from itsm_tui.services.sla_whatif import KindWhatIf, SlaWhatIf, WhatIfQuery, sla_whatif
from itsm_tui.store.models import User

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DIALOG_CSS = """
.sla-dialog { width: 76; }
.sla-row { height: 1; margin-bottom: 1; }
.sla-row Label { width: 26; }
.sla-row Input { width: 1fr; }
.sla-dialog .dialog-error.-visible { height: auto; }
#whatif-figures { height: auto; margin-top: 1; }
"""


class _Form:
    """A dialog's fields, one labelled line each, found by a short key."""

    def __init__(self, dialog: Widget, prefix: str) -> None:
        self.dialog = dialog
        self.prefix = prefix
        self.initials: dict[str, str] = {}

    def initial(self, key: str) -> str:
        """What the field showed when the dialog opened."""
        return self.initials.get(key, "")

    def row(self, key: str, label: str, value: str = "", placeholder: str = "") -> Horizontal:
        self.initials[key] = value.strip()
        return Horizontal(
            Label(label),
            Input(value, id=f"{self.prefix}-{key}", compact=True, placeholder=placeholder),
            classes="sla-row",
        )

    def input(self, key: str) -> Input:
        return self.dialog.query_one(f"#{self.prefix}-{key}", Input)

    def text(self, key: str) -> str:
        return self.input(key).value.strip()


def _duration(text: str, what: str) -> int:
    """Seconds from a target as the CLI reads it; the message names the field."""
    try:
        return sla_admin.parse_duration(text)
    except ValidationFailed as error:
        raise ValidationFailed(f"{what}: {error}") from None


def _actions_text(actions: Mapping[int, Sequence[str]]) -> str:
    """A policy's escalation actions in the CLI's `--actions` spelling."""
    return "; ".join(
        f"{threshold}={','.join(names) or sla_admin.NO_ACTIONS}"
        for threshold, names in sorted(actions.items())
    )


def _pause_text(labels: Sequence[str]) -> str:
    """The hold reasons that pause, from labels like `on_hold: awaiting_caller, ...`."""
    return ", ".join(label.partition(":")[2].strip() for label in labels if ":" in label)


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.replace(";", ",").split(",") if w.strip())


def _percents(text: str) -> tuple[int, ...]:
    parts = [p.strip().removesuffix("%") for p in text.replace(";", ",").split(",") if p.strip()]
    if not all(p.isascii() and p.isdigit() for p in parts):  # '²' passes isdigit(), not int()
        raise ValidationFailed("warnings: whole percentages joined with ',', e.g. '50, 75, 90'")
    return tuple(int(p) for p in parts)


class _EditorDialog(ServiceCallDialog[T]):
    """Shared: read the fields, check them with an input model, show the first problem."""

    DEFAULT_CSS = DIALOG_CSS
    HINT = "enter/ctrl+s: save · tab: next field · escape: cancel"

    def on_mount(self) -> None:
        self.query_one(".dialog").add_class("sla-dialog")
        self.query(Input).first().focus()

    def model(
        self, model: type[M], data: Mapping[str, object], fields: Mapping[str, str]
    ) -> M | None:
        """`model` built from `data`, or None after showing its first complaint inline next
        to the field it is about (`fields` maps model fields to input keys)."""
        built, errors = checked(model, {k: v for k, v in data.items() if v is not None})
        if built is not None:
            return built
        name, message = next(iter(errors.items()))
        key = fields.get(name)
        focus = self.query_one(f"#{self.form.prefix}-{key}") if key else None
        self.show_error(f"{name.replace('_', ' ')}: {message}" if name else message, focus)
        return None

    form: _Form


# ---------------------------------------------------------------------------- policies

_POLICY_FIELDS = {
    "actions": "actions",
    "pause_reasons": "pause",
    "name": "name",
    "priority": "priority",
    "service": "service",
    "calendar": "calendar",
    "response_seconds": "response",
    "resolution_seconds": "resolution",
    "warnings": "warnings",
}


class PolicyDialog(_EditorDialog[PolicyRecord]):
    """Edit a policy's targets, calendar, warnings, escalations, pause reasons and active
    flag, or add a policy."""

    def __init__(self, record: PolicyRecord | None, calendars: Sequence[str] = ()) -> None:
        title = "New SLA policy" if record is None else f"Edit SLA policy {printable(record.name)}"
        super().__init__(title)
        self.record = record
        self.calendars = tuple(calendars)
        self.form = _Form(self, "policy")

    def body(self) -> ComposeResult:
        record, form = self.record, self.form
        if record is None:
            yield form.row("name", "Name")
            yield form.row("priority", "Priority (1-5)")
            yield form.row("service", "Service", placeholder="blank: every service")
        yield form.row(
            "response",
            "Response target",
            format_duration(record.response_seconds) if record else "",
            "e.g. 30m, 4h, 1h30m",
        )
        yield form.row(
            "resolution",
            "Resolution target",
            format_duration(record.resolution_seconds) if record else "",
            "e.g. 8h, 2d",
        )
        yield form.row(
            "calendar",
            "Calendar",
            record.calendar if record else "",
            printable(", ".join(self.calendars)),
        )
        yield form.row(
            "warnings",
            "Warnings (%)",
            ", ".join(str(w) for w in record.warnings) if record else "50, 75, 90",
        )
        yield form.row(
            "actions",
            "Escalations",
            _actions_text(record.actions) if record else "",
            "blank: the shipped ones; e.g. 75=notify_assignee; 100=notify_supervisors",
        )
        yield form.row(
            "pause",
            "Pause on hold for",
            _pause_text(record.pause)
            if record
            else ", ".join(r.value for r in sla_admin.DEFAULT_PAUSE_REASONS),
            "hold reasons, ',' between; blank: never pause",
        )
        yield Checkbox("Active", value=record.active if record else True, id="policy-active")

    def prepare(self) -> Call[PolicyRecord] | None:
        form = self.form
        try:
            data: dict[str, object] = {
                "response_seconds": _duration(form.text("response"), "response target"),
                "resolution_seconds": _duration(form.text("resolution"), "resolution target"),
                "calendar": form.text("calendar"),
                "warnings": _percents(form.text("warnings")),
                "active": self.query_one("#policy-active", Checkbox).value,
            }
            # Only what was touched: an untouched field keeps the policy's rule exactly (a
            # shipped "pause on any hold" has no list to show).
            if self.record is None or form.text("pause") != form.initial("pause"):
                data["pause_reasons"] = _words(form.text("pause"))
            if form.text("actions") and form.text("actions") != form.initial("actions"):
                data["actions"] = sla_admin.parse_actions(form.text("actions"))
        except ValidationFailed as error:
            self.show_error(str(error))
            return None
        if self.record is None:
            data |= {
                "name": form.text("name"),
                "priority": form.text("priority") or None,
                "service": form.text("service") or None,
            }
            new = self.model(PolicyInput, data, _POLICY_FIELDS)
            if new is None:
                return None

            def add(session: Session, actor: User, clock: Clock) -> PolicyRecord:
                return sla_admin.add_policy(session, actor, clock, new)

            return add
        changes = self.model(PolicyChanges, data, _POLICY_FIELDS)
        if changes is None:
            return None
        name = self.record.name

        def update(session: Session, actor: User, clock: Clock) -> PolicyRecord:
            return sla_admin.update_policy(session, actor, clock, name, changes)

        return update


# ---------------------------------------------------------------------------- calendars

_CALENDAR_FIELDS = {
    "name": "name",
    "zone": "zone",
    "hours": "hours",
    "holidays": "holidays",
    "extra_dates": "extra",
}


class CalendarDialog(_EditorDialog[CalendarRecord]):
    """Edit a calendar's zone, hours, 24x7 flag, holidays and extra closed days, or add one."""

    def __init__(self, record: CalendarRecord | None) -> None:
        title = "New calendar" if record is None else f"Edit calendar {printable(record.name)}"
        super().__init__(title)
        self.record = record
        self.form = _Form(self, "calendar")

    def body(self) -> ComposeResult:
        record, form = self.record, self.form
        if record is None:
            yield form.row("name", "Name")
        yield form.row("zone", "Time zone", record.zone if record else "UTC")
        yield form.row(
            "hours",
            "Hours (; between)",
            "; ".join(record.hours) if record else "",
            "mon-fri 08:00-17:00",
        )
        yield form.row(
            "holidays", "Holidays", (record.holidays or "none") if record else "none", "GB-ENG"
        )
        yield form.row(
            "extra",
            "Extra closed days",
            ", ".join(record.extra_dates) if record else "",
            "YYYY-MM-DD, ',' between",
        )
        yield Checkbox(
            "24x7 (no hours)", value=record.always_on if record else False, id="calendar-always"
        )

    def prepare(self) -> Call[CalendarRecord] | None:
        form = self.form
        always_on = self.query_one("#calendar-always", Checkbox).value
        hours = tuple(p.strip() for p in form.text("hours").split(";") if p.strip())
        data: dict[str, object] = {
            "zone": form.text("zone"),
            "holidays": form.text("holidays") or "none",
            "extra_dates": _words(form.text("extra")),
        }
        if always_on:
            data["always_on"] = True
        else:
            data["hours"] = hours
        if self.record is None:
            new = self.model(CalendarInput, data | {"name": form.text("name")}, _CALENDAR_FIELDS)
            if new is None:
                return None

            def add(session: Session, actor: User, clock: Clock) -> CalendarRecord:
                return sla_admin.add_calendar(session, actor, clock, new)

            return add
        changes = self.model(CalendarChanges, data, _CALENDAR_FIELDS)
        if changes is None:
            return None
        name = self.record.name

        def update(session: Session, actor: User, clock: Clock) -> CalendarRecord:
            return sla_admin.update_calendar(session, actor, clock, name, changes)

        return update


# ---------------------------------------------------------------------------- what-if


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def whatif_text(result: SlaWhatIf) -> Text:
    """Current against proposed, per kind: what an admin weighs before applying."""
    text = Text()
    text.append(f"{result.start:%Y-%m-%d} to {result.end:%Y-%m-%d}\n", style="dim")

    def line(kind: KindWhatIf) -> None:
        target = format_duration(kind.target_seconds)
        proposed = format_duration(kind.proposed_seconds)
        head = f"{kind.kind}: {target}" + (f" -> {proposed}" if kind.changed else " (kept)")
        text.append(head + "\n", style="bold")
        for label, figures in (("current", kind.current), ("proposed", kind.proposed)):
            text.append(
                f"  {label:<9} met {figures.met:>3}  breached {figures.breached:>3}  "
                f"in progress {figures.in_progress:>3}  "
                f"compliance {_percent(figures.compliance_percent)}\n"
            )

    for kind in result.kinds():
        line(kind)
    return text


class WhatIfDialog(ServiceCallDialog[PolicyRecord]):
    """Type proposed targets, see the compliance the period would have had; `a` applies the
    proposal through `sla_admin.update_policy` (admins only: the service refuses others)."""

    DEFAULT_CSS = DIALOG_CSS
    HINT = "enter: compute · a: apply (admin) · tab: next · escape: close"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "apply", "Apply", show=True)]

    def __init__(self, record: PolicyRecord, days: int = 30) -> None:
        super().__init__(f"What-if for {printable(record.name)}")
        self.record = record
        self.days = days
        self.form = _Form(self, "whatif")
        self.query_made: WhatIfQuery | None = None
        self.result: SlaWhatIf | None = None

    def body(self) -> ComposeResult:
        record, form = self.record, self.form
        yield form.row(
            "response", "Response target", "", f"now {format_duration(record.response_seconds)}"
        )
        yield form.row(
            "resolution",
            "Resolution target",
            "",
            f"now {format_duration(record.resolution_seconds)}",
        )
        yield form.row("days", "Days of history", str(self.days))
        figures = Static(Text("Type a target and press enter."), id="whatif-figures")
        figures.can_focus = True
        yield figures

    def on_mount(self) -> None:
        self.query_one(".dialog").add_class("sla-dialog")
        self.form.input("response").focus()

    def submit(self) -> None:
        """Enter computes; applying is `a`, a separate, deliberate step."""
        form = self.form
        try:
            response = form.text("response")
            resolution = form.text("resolution")
            days = form.text("days")
            if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= 3660:
                raise ValidationFailed("days of history: a whole number from 1 to 3660")
            data: dict[str, object] = {"policy": self.record.name}
            if response:
                data["response_seconds"] = _duration(response, "response target")
            if resolution:
                data["resolution_seconds"] = _duration(resolution, "resolution target")
        except ValidationFailed as error:
            self.show_error(str(error))
            return
        now = desk(self.app).clock.now()
        query, errors = checked(WhatIfQuery, data | {"start": now - timedelta(days=int(days))})
        if query is None:
            self.show_error(next(iter(errors.values())), form.input("response"))
            return
        self.show_error("")
        self.compute(query)

    @work(thread=True, exclusive=True, group="whatif-compute", exit_on_error=False)
    def compute(self, query: WhatIfQuery) -> None:
        app = desk(self.app)
        try:
            with app.database.session() as session:
                result = sla_whatif(session, app.clock.now(), query)
        except ServiceError as refused:
            self.app.call_from_thread(self.show_error, str(refused))
            return
        self.app.call_from_thread(self._computed, query, result)

    def _computed(self, query: WhatIfQuery, result: SlaWhatIf) -> None:
        if not self.is_attached:
            return
        self.query_made, self.result = query, result
        figures = self.query_one("#whatif-figures", Static)
        figures.update(whatif_text(result))
        figures.focus()  # off the inputs, so `a` applies instead of typing

    def action_apply(self) -> None:
        if self.query_made is None:
            self.show_error("Compute a proposal first (type a target, then enter).")
            return
        changes = self.query_made.changes()
        name = self.record.name

        def apply(session: Session, actor: User, clock: Clock) -> PolicyRecord:
            return sla_admin.update_policy(session, actor, clock, name, changes)

        if not self.busy:
            self.busy = True
            self.show_error("")
            self.run_call(apply)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "whatif-compute":
            self.show_error(f"Could not compute: {event.worker.error}")
            return
        super().on_worker_state_changed(event)
