"""The change calendar's dialogs: one day's changes and freezes, and the filters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Select, SelectionList, Static
from textual.widgets.option_list import Option

from itsm_tui.display import printable, user_text
from itsm_tui.domain.enums import ChangeState
from itsm_tui.screens.context import desk
from itsm_tui.services import directory
from itsm_tui.services.change_calendar import (
    CalendarChange,
    CalendarFilter,
    CalendarPeriod,
    zone_of,
)
from itsm_tui.widgets.change_calendar import CLASH, FREEZE, RISK_LETTER

RISK_STYLE = {"low": "green", "moderate": "yellow", "high": "red"}


def change_line(entry: CalendarChange, zone: str, day: date | None = None) -> Text:
    """`22:00→02:00+1  H !  CHG0000012  Title  · scheduled · Email`, then each clash."""
    tz = zone_of(zone)
    start, end = entry.start.astimezone(tz), entry.end.astimezone(tz)
    line = Text()
    line.append(f"{start:%H:%M}→{end:%H:%M}")
    last = (entry.end - timedelta(microseconds=1)).astimezone(tz).date()
    spill = (last - start.date()).days
    line.append(f"+{spill}d" if spill > 0 else "   ")
    if day is not None and start.date() < day:
        line.append(f" (from {start:%d %b})")
    risk = entry.record.risk
    line.append("  ")
    line.append(RISK_LETTER.get(risk, "?"), style=f"bold reverse {RISK_STYLE.get(risk, '')}")
    line.append(f" {CLASH} " if entry.conflicted else "   ", style="bold red")
    line.append(entry.number, style="bold")
    line.append("  ")
    line.append_text(user_text(entry.record.title))
    details = [entry.record.state, entry.record.service, entry.record.group]
    line.append("  · " + " · ".join(printable(d) for d in details if d), style="dim")
    for clash in entry.conflicts:
        line.append("\n      ")
        line.append(f"{CLASH} ", style="bold red")
        line.append_text(user_text(clash.detail))
    return line


class DayDialog(ModalScreen[str | None]):
    """Everything touching one local day; enter opens the highlighted change."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
    ]

    def __init__(self, period: CalendarPeriod, day: date) -> None:
        super().__init__()
        self.period = period
        self.day = day
        self.entries = period.changes_on(day)

    def compose(self) -> ComposeResult:
        count = len(self.entries)
        title = f"{self.day:%A %d %B %Y} ({self.period.zone}): {count} change"
        with Vertical(id="day-dialog", classes="dialog"):
            yield Label(Text(title + ("" if count == 1 else "s"), style="bold"))
            for freeze in self.period.freezes_on(self.day):
                line = Text(f"{FREEZE} Freeze ", style="bold")
                line.append_text(user_text(freeze.name, style="bold"))
                scope = printable(freeze.record.service) if freeze.record.service else "global"
                line.append(f" ({scope})")
                if freeze.record.reason:
                    line.append(": ")
                    line.append_text(user_text(freeze.record.reason))
                yield Static(line, classes="day-freeze")
            options = [
                Option(change_line(entry, self.period.zone, self.day), id=entry.number)
                for entry in self.entries
            ]
            if not options:
                options = [Option(Text("No changes touch this day."), disabled=True)]
            yield OptionList(*options, id="day-changes")
            yield Static(
                Text("enter opens the change · escape closes", style="dim"), classes="hint"
            )

    def on_mount(self) -> None:
        listing = self.query_one("#day-changes", OptionList)
        listing.focus()
        if self.entries:
            listing.highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)


class CalendarFilterDialog(ModalScreen[CalendarFilter | None]):
    """States, service and group; `x` on the calendar clears them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "apply", "Apply"),
    ]

    def __init__(self, current: CalendarFilter) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="calendar-filter-dialog", classes="dialog"):
            yield Label(Text("Filters  (space toggles, tab moves, ctrl+s applies)", style="bold"))
            yield SelectionList[str](
                *(
                    (state.value, state.value, state in self.current.states)
                    for state in ChangeState
                ),
                id="calendar-filter-states",
            )
            with Horizontal(id="calendar-filter-selects"):
                yield Select[str]([], prompt="Any service", id="calendar-filter-service")
                yield Select[str]([], prompt="Any group", id="calendar-filter-group")

    def on_mount(self) -> None:
        self.query_one("#calendar-filter-states").border_title = "States (none = all)"
        self.load_choices()

    @work(thread=True, exit_on_error=False)
    def load_choices(self) -> None:
        with desk(self.app).database.session() as session:
            services = [service.name for service in directory.list_services(session)]
            groups = [group.name for group in directory.list_groups(session)]
        self.app.call_from_thread(self._show_choices, services, groups)

    def _show_choices(self, services: list[str], groups: list[str]) -> None:
        for select_id, names, current in (
            ("#calendar-filter-service", services, self.current.service),
            ("#calendar-filter-group", groups, self.current.group),
        ):
            select = self.query_one(select_id, Select)
            select.set_options([(user_text(name), name) for name in names])
            if current in names:
                select.value = current

    def action_apply(self) -> None:
        states = self.query_one("#calendar-filter-states", SelectionList).selected
        service = self.query_one("#calendar-filter-service", Select).value
        group = self.query_one("#calendar-filter-group", Select).value
        self.dismiss(
            CalendarFilter(
                service=service if isinstance(service, str) else None,
                group=group if isinstance(group, str) else None,
                states=tuple(ChangeState(state) for state in states),
            )
        )
