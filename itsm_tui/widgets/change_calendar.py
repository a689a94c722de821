"""What the month and week views of the change calendar share: the days on show, the loaded
period, and how one change is labelled.

Every signal is carried twice, so the calendar reads on a monochrome terminal and to
colour-blind eyes: risk by colour and by its letter (L/M/H), a clash by colour and `!`, a
freeze by shading and `❄`, the state by style and by the bar's glyph. Colours come from the
stylesheet (`styles/calendar.tcss`) through component classes; the widgets hold no style.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from itsm_tui.display import printable
from itsm_tui.services.change_calendar import CalendarChange, CalendarFreeze, CalendarPeriod

RISK_LETTER = {"low": "L", "moderate": "M", "high": "H"}
CLASH = "!"
FREEZE = "❄"
CONTINUED = "»"
# The bar's glyph says where the change stands: pencilled in, booked, under way, done, dropped.
STATE_GLYPH = {
    "new": "░",
    "assess": "░",
    "authorize": "░",
    "scheduled": "█",
    "implement": "█",
    "review": "▒",
    "closed": "▒",
    "cancelled": "╌",
}
STATE_CLASS = {
    "new": "tentative",
    "assess": "tentative",
    "authorize": "tentative",
    "scheduled": "booked",
    "implement": "implement",
    "review": "done",
    "closed": "done",
    "cancelled": "cancelled",
}
LEGEND = "L/M/H risk · ! clash · ❄ freeze · ░ planned █ booked ▒ done"


def short_number(number: str) -> str:
    """CHG0000012 -> 12: the cell is narrow and every change on the desk is a CHG."""
    return number.removeprefix("CHG").lstrip("0") or "0"


def fit(text: Text, width: int) -> Text:
    """Exactly `width` cells: cut with an ellipsis or padded with spaces."""
    if width <= 0:
        return Text()
    line = text.copy()
    line.truncate(width, overflow="ellipsis", pad=True)
    return line


class CalendarWidget(Widget, can_focus=True):
    """A view over a span of days; the screen says what to show with `show`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "change-calendar--weekday",
        "change-calendar--day",
        "change-calendar--other-month",
        "change-calendar--today",
        "change-calendar--selected",
        "change-calendar--freeze",
        "change-calendar--grid",
        "change-calendar--low",
        "change-calendar--moderate",
        "change-calendar--high",
        "change-calendar--clash",
        "change-calendar--tentative",
        "change-calendar--booked",
        "change-calendar--implement",
        "change-calendar--done",
        "change-calendar--cancelled",
        "change-calendar--more",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.first = self.last = self.selected = self.today = date.min
        self.period: CalendarPeriod | None = None

    def show(
        self,
        first: date,
        last: date,
        *,
        selected: date,
        today: date,
        period: CalendarPeriod | None,
    ) -> None:
        """Draw days `first`..`last`; the period may still be the previous one while the new
        one loads (days it does not cover show empty)."""
        self.first, self.last, self.selected, self.today = first, last, selected, today
        self.period = period
        self.refresh()

    def look(self, name: str) -> Style:
        """A component's whole style, background included (cells, headers, shading)."""
        return self.get_component_rich_style(f"change-calendar--{name}")

    def ink(self, name: str) -> Style:
        """A component's colour and text style only, to lay over a cell's background."""
        style = self.look(name)
        return Style(color=style.color) + style.without_color

    def changes_on(self, day: date) -> tuple[CalendarChange, ...]:
        return self.period.changes_on(day) if self.period is not None else ()

    def freezes_on(self, day: date) -> tuple[CalendarFreeze, ...]:
        return self.period.freezes_on(day) if self.period is not None else ()

    def risk_letter(self, entry: CalendarChange) -> Text:
        risk = entry.record.risk
        letter = RISK_LETTER.get(risk, "?")
        return Text(letter, style=self.ink(risk) + Style(reverse=True, bold=True))

    def clash_mark(self, entry: CalendarChange) -> Text:
        return Text(CLASH, style=self.ink("clash")) if entry.conflicted else Text(" ")

    def label(
        self, entry: CalendarChange, day: date | None, width: int, *, base: Style | None = None
    ) -> Text:
        """`H!12 Title`: risk letter, clash mark, number, title; `»` when it began earlier.
        `base` (a freeze's shading) lies under the label's own colours."""
        line = Text(style=base or Style())
        line.append_text(self.risk_letter(entry))
        line.append_text(self.clash_mark(entry))
        if day is not None and entry.first_day < day:
            line.append(CONTINUED)
        state = self.ink(STATE_CLASS.get(entry.record.state, "booked"))
        line.append(short_number(entry.number), style=state + Style(bold=True))
        line.append(" ")
        line.append(printable(entry.record.title), style=state)  # user text, never markup
        return fit(line, width)
