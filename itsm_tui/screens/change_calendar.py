"""The change calendar (mode 2): month and week views and an agenda of the changes, by the
desk's local days.

The screen keeps only where the user is (the selected day, the view, the filter); what the
days hold comes from `services.change_calendar` in a thread worker, one read per span, and
is read again when the change feed reports non-incident writes (changes, freezes).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import ContentSwitcher, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import printable, user_text
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.services import change_calendar as cal
from itsm_tui.services.change_calendar import CalendarFilter, CalendarPeriod
from itsm_tui.services.errors import ServiceError
from itsm_tui.widgets.change_calendar import FREEZE, LEGEND, CalendarWidget
from itsm_tui.widgets.change_calendar_month import MonthGrid
from itsm_tui.widgets.change_calendar_week import WeekGrid

View = Literal["month", "week", "agenda"]
VIEW_IDS: dict[View, str] = {
    "month": "calendar-month",
    "week": "calendar-week",
    "agenda": "calendar-agenda",
}


def desk_zone(app: object) -> str:
    """The desk's time zone: the app's `timezone` when it has one, else UTC (as the header)."""
    zone = getattr(app, "timezone", None)
    return zone if isinstance(zone, str) and zone else "UTC"


class ChangeCalendarScreen(DeskScreen[None]):
    SECTION = "Changes"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Day before", show=False),
        Binding("right", "move(1)", "Day after", show=False),
        Binding("up", "move(-7)", "Week before", show=False),
        Binding("down", "move(7)", "Week after", show=False),
        Binding("left_square_bracket", "period(-1)", "Prev"),
        Binding("right_square_bracket", "period(1)", "Next"),
        Binding("t", "today", "Today"),
        Binding("m", "view('month')", "Month"),
        Binding("w", "view('week')", "Week"),
        Binding("g,l", "view('agenda')", "Agenda"),
        Binding("enter", "open_day", "Day"),
        Binding("n", "new_change", "New"),
        Binding("f", "filters", "Filters"),
        Binding("x", "clear_filters", "Clear filters"),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.zone = "UTC"
        self.today = date.min
        self.selected = date.min
        self.view: View = "month"
        self.filter = CalendarFilter()
        self.period: CalendarPeriod | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="calendar-title")
        with ContentSwitcher(initial="calendar-month", id="calendar-views"):
            yield MonthGrid(id="calendar-month")
            yield WeekGrid(id="calendar-week")
            yield OptionList(id="calendar-agenda")
        yield Static(id="calendar-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.zone = desk_zone(self.app)
        self.today = self._today()
        self.selected = self.today
        self.query_one(MonthGrid).focus()
        self.refresh_view()
        signal = getattr(self.app, "feed_changed", None)
        if signal is not None:
            signal.subscribe(self, self.on_feed)

    def _today(self) -> date:
        return desk(self.app).clock.now().astimezone(cal.zone_of(self.zone)).date()

    # ------------------------------------------------------------------ what is on show

    def span(self) -> tuple[date, date]:
        """The days the view needs: whole weeks around the month, or the one week."""
        if self.view == "week":
            return cal.week_span(self.selected)
        return cal.month_span(self.selected)

    def refresh_view(self) -> None:
        """Draw what is known now; read the span when it is not the one loaded."""
        first, last = self.span()
        period = self.period
        loaded = None if period is None else (period.first, period.last, period.filter)
        if loaded != (first, last, self.filter):
            self.load(first, last, self.filter)
        self._draw()

    def _draw(self) -> None:
        first, last = self.span()
        if self.view == "agenda":
            self._draw_agenda()
        else:
            widget = self.query_one(f"#{VIEW_IDS[self.view]}", CalendarWidget)
            widget.show(first, last, selected=self.selected, today=self.today, period=self.period)
        self._draw_title()
        self._draw_status()

    def _draw_title(self) -> None:
        line = Text()
        if self.view == "week":
            first, last = self.span()
            week = self.selected.isocalendar().week
            line.append(f" Week {week} · {first:%d %b} to {last:%d %b %Y} ", style="bold")
        else:
            line.append(f" {self.selected:%B %Y} ", style="bold")
            line.append(f"· {self.view} ")
        line.append(f"· {self.zone} ", style="dim")
        period = self.period
        if period is not None and (period.first, period.last) == self.span():
            shown = period.changes
            clashes = sum(1 for entry in shown if entry.conflicted)
            line.append(f"· {len(shown)} change{'' if len(shown) == 1 else 's'}")
            if clashes:
                line.append(f", {clashes} with clashes", style="bold")
            line.append(" ")
        for chip in self.filter.chips():
            line.append(" ")
            line.append(f" {printable(chip)} ", style="reverse")
        self.query_one("#calendar-title", Static).update(line)

    def _draw_status(self, error: str | None = None) -> None:
        status = self.query_one("#calendar-status", Static)
        status.set_class(error is not None, "error")
        if error is not None:
            status.update(user_text(f"Could not load the calendar: {error} (r retries)"))
            return
        day = self.selected
        line = Text(f"{day:%a %d %b}: ", style="bold")
        period = self.period
        if period is None or not period.covers(day):
            line.append("loading…")
        else:
            entries = period.changes_on(day)
            clashes = sum(1 for entry in entries if entry.conflicted)
            line.append(f"{len(entries)} change{'' if len(entries) == 1 else 's'}")
            if clashes:
                line.append(f", {clashes} with clashes", style="bold")
            for freeze in period.freezes_on(day):
                line.append(f" · {FREEZE} ")
                line.append_text(user_text(freeze.name))
        line.append(f"  │ {LEGEND}", style="dim")
        status.update(line)

    def _draw_agenda(self) -> None:
        """The month of the selected day, day by day; the cursor on the selected day."""
        from itsm_tui.screens.calendar_dialogs import change_line

        listing = self.query_one("#calendar-agenda", OptionList)
        listing.clear_options()
        period = self.period
        if period is None:
            return
        first = self.selected.replace(day=1)
        last = cal.add_months(first, 1) - timedelta(days=1)
        cursor: int | None = None
        seen: set[str] = set()
        day = first
        while day <= last:
            entries = [e for e in period.changes_on(day) if e.number not in seen]
            freezes = period.freezes_on(day)
            if day >= self.selected and cursor is None and (entries or day == self.selected):
                cursor = listing.option_count
            if entries or freezes or day == self.selected:
                heading = Text(f"{day:%a %d %b}", style="bold")
                if day == self.today:
                    heading.append(" · today", style="bold")
                for freeze in freezes:
                    heading.append(f"  {FREEZE} ")
                    heading.append_text(user_text(freeze.name))
                listing.add_option(Option(heading, disabled=True))
            for entry in entries:
                seen.add(entry.number)
                listing.add_option(Option(change_line(entry, period.zone), id=entry.number))
            day += timedelta(days=1)
        if not seen:
            listing.add_option(Option(Text("No changes this month."), disabled=True))
        if cursor is not None:
            # The heading is disabled: the first change at or after it takes the cursor.
            for index in range(cursor, listing.option_count):
                if not listing.get_option_at_index(index).disabled:
                    listing.highlighted = index
                    break

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="calendar-load", exit_on_error=False)
    def load(self, first: date, last: date, query: CalendarFilter) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            period = cal.load_period(session, first, last, self.zone, query)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._loaded, period)

    def _loaded(self, period: CalendarPeriod) -> None:
        if (period.first, period.last) != self.span() or period.filter != self.filter:
            return  # read for a span or filter the user has since left
        self.period = period
        self._draw()

    def on_worker_state_changed(self, event: Worker[Any].StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "calendar-load":
            error = event.worker.error
            self._draw_status(str(error) if isinstance(error, ServiceError) else repr(error))

    def on_feed(self, batch: FeedBatch) -> None:
        """Changes and freezes arrive as non-incident events: read the span again."""
        if batch.other:
            self.action_reload()

    # ------------------------------------------------------------------ actions

    def _go(self, day: date) -> None:
        self.selected = day
        self.refresh_view()

    def action_move(self, days: int) -> None:
        self._go(self.selected + timedelta(days=days))

    def action_period(self, step: int) -> None:
        if self.view == "week":
            self._go(self.selected + timedelta(days=7 * step))
        else:
            self._go(cal.add_months(self.selected, step))

    def action_today(self) -> None:
        self.today = self._today()
        self._go(self.today)

    def action_view(self, view: View) -> None:
        self.view = view
        self.query_one(ContentSwitcher).current = VIEW_IDS[view]
        self.query_one(f"#{VIEW_IDS[view]}").focus()
        self.refresh_view()

    def action_reload(self) -> None:
        first, last = self.span()
        self.load(first, last, self.filter)

    def action_new_change(self) -> None:
        open_form = getattr(self.app, "open_change_form", None)
        if open_form is not None:
            open_form(None)

    def action_open_day(self) -> None:
        from itsm_tui.screens.calendar_dialogs import DayDialog

        period = self.period
        if period is None or not period.covers(self.selected):
            self.notify("The calendar is still loading.", severity="warning")
            return
        self.app.push_screen(DayDialog(period, self.selected), self._day_chosen)

    def _day_chosen(self, number: str | None) -> None:
        if number is not None:
            self.open_change(number)

    @on(OptionList.OptionSelected, "#calendar-agenda")
    def _agenda_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.open_change(event.option.id)

    def open_change(self, number: str) -> None:
        opener = getattr(self.app, "open_change", None)
        if opener is None:
            self.notify(f"{number}: the change detail screen is not available yet.", markup=False)
            return
        opener(number)

    def action_filters(self) -> None:
        from itsm_tui.screens.calendar_dialogs import CalendarFilterDialog

        self.app.push_screen(CalendarFilterDialog(self.filter), self._filters_chosen)

    def _filters_chosen(self, query: CalendarFilter | None) -> None:
        if query is not None:
            self.apply_filter(query)

    def action_clear_filters(self) -> None:
        self.apply_filter(CalendarFilter())

    def apply_filter(self, query: CalendarFilter) -> None:
        self.filter = query
        self.refresh_view()
