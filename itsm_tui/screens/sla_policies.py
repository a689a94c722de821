"""The SLA policy editor: every policy and calendar, editable by admins, with a what-if.

Admins edit (e) or add policies (n) and calendars (c) through dialogs that check input with
the CLI's own models and let the service refuse inline; anyone may open the what-if (w) to see
what a policy's compliance would have been with another target. Others see the lists read-only:
the write keys are not offered (and the service would refuse them anyway). The lists follow
the change feed, so another admin's edit shows up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from itsm_tui.display import printable, user_text
from itsm_tui.domain.enums import Role
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.screens.sla_policy_dialogs import CalendarDialog, PolicyDialog, WhatIfDialog
from itsm_tui.services import sla_admin
from itsm_tui.services.sla_admin import CalendarRecord, PolicyRecord, format_duration

ADMIN_ACTIONS = frozenset({"edit", "new_policy", "new_calendar"})


class SlaPoliciesScreen(DeskScreen[None]):
    SECTION = "SLA policies"
    DEFAULT_CSS = """
    SlaPoliciesScreen .sla-heading { height: 1; text-style: bold; margin-top: 1; }
    SlaPoliciesScreen #sla-note { height: auto; color: $text-muted; }
    SlaPoliciesScreen #sla-policies { height: 1fr; }
    SlaPoliciesScreen #sla-calendars { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("w", "whatif", "What-if"),
        Binding("e", "edit", "Edit"),
        Binding("n", "new_policy", "New policy"),
        Binding("c", "new_calendar", "New calendar"),
        Binding("tab", "app.focus_next", "Policies/calendars", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.policies: list[PolicyRecord] = []
        self.calendars: list[CalendarRecord] = []

    @property
    def admin(self) -> bool:
        return Role(desk(self.app).actor.role) is Role.ADMIN

    def compose_body(self) -> ComposeResult:
        note = (
            "e: edit · n: new policy · c: new calendar · w: what-if · tab: switch list"
            if self.admin
            else "Read-only: changing policies and calendars needs the admin role. w: what-if"
        )
        yield Static(Text(note), id="sla-note")
        yield Label("Policies", classes="sla-heading")
        policies: DataTable[str | Text] = DataTable(id="sla-policies", cursor_type="row")
        policies.add_columns("Name", "P", "Service", "Calendar", "Response", "Resolution", "On")
        yield policies
        yield Label("Calendars", classes="sla-heading")
        calendars: DataTable[str | Text] = DataTable(id="sla-calendars", cursor_type="row")
        calendars.add_columns("Name", "Zone", "Hours", "Holidays")
        yield calendars

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#sla-policies", DataTable).focus()
        self.load()
        desk(self.app).feed_changed.subscribe(self, self.on_feed)

    def on_feed(self, batch: FeedBatch) -> None:
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Non-admins are not offered the write keys (the service would refuse them)."""
        if action in ADMIN_ACTIONS:
            return self.admin
        return True

    # ------------------------------------------------------------------ data

    @work(thread=True, exclusive=True, group="sla-policies-load", exit_on_error=False)
    def load(self) -> None:
        with desk(self.app).database.session() as session:
            policies = sla_admin.list_policies(session)
            calendars = sla_admin.list_calendars(session)
        self.app.call_from_thread(self._show, policies, calendars)

    def _show(self, policies: list[PolicyRecord], calendars: list[CalendarRecord]) -> None:
        if not self.is_attached:
            return
        self.policies, self.calendars = policies, calendars
        table = self.query_one("#sla-policies", DataTable)
        row = table.cursor_row
        table.clear()
        for policy in policies:
            table.add_row(
                user_text(policy.name),
                f"P{policy.priority}",
                user_text(policy.service) if policy.service else Text("every"),
                user_text(policy.calendar),
                format_duration(policy.response_seconds),
                format_duration(policy.resolution_seconds),
                "yes" if policy.active else "no",
                key=policy.name,
            )
        if policies:
            table.move_cursor(row=min(row, len(policies) - 1))
        table = self.query_one("#sla-calendars", DataTable)
        row = table.cursor_row
        table.clear()
        for calendar in calendars:
            table.add_row(
                user_text(calendar.name),
                user_text(calendar.zone),
                Text("24x7") if calendar.always_on else Text(printable("; ".join(calendar.hours))),
                user_text(calendar.holidays) if calendar.holidays else Text("none"),
                key=calendar.name,
            )
        if calendars:
            table.move_cursor(row=min(row, len(calendars) - 1))

    def _current_policy(self) -> PolicyRecord | None:
        table = self.query_one("#sla-policies", DataTable)
        if not self.policies or not 0 <= table.cursor_row < len(self.policies):
            return None
        return self.policies[table.cursor_row]

    def _current_calendar(self) -> CalendarRecord | None:
        table = self.query_one("#sla-calendars", DataTable)
        if not self.calendars or not 0 <= table.cursor_row < len(self.calendars):
            return None
        return self.calendars[table.cursor_row]

    # ------------------------------------------------------------------ actions

    def _saved(self, what: str) -> Callable[[PolicyRecord | CalendarRecord | None], None]:
        def done(result: PolicyRecord | CalendarRecord | None) -> None:
            if result is not None:
                self.notify(f"Saved {what} {printable(result.name)}.", markup=False)
                self.load()

        return done

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_edit(self) -> None:
        if self.query_one("#sla-calendars", DataTable).has_focus:
            calendar = self._current_calendar()
            if calendar is not None:
                self.app.push_screen(CalendarDialog(calendar), self._saved("calendar"))
            return
        policy = self._current_policy()
        if policy is not None:
            self.app.push_screen(PolicyDialog(policy), self._saved("SLA policy"))

    def action_new_policy(self) -> None:
        names = [calendar.name for calendar in self.calendars]
        self.app.push_screen(PolicyDialog(None, names), self._saved("SLA policy"))

    def action_new_calendar(self) -> None:
        self.app.push_screen(CalendarDialog(None), self._saved("calendar"))

    def action_whatif(self) -> None:
        policy = self._current_policy()
        if policy is not None:
            self.app.push_screen(WhatIfDialog(policy), self._saved("SLA policy"))
