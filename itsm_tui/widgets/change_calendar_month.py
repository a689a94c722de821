"""The month grid: whole weeks, seven columns, each day a header line and as many change
labels as its height allows, then `+N more`.

At 80x24 a cell is ten or eleven columns by three lines (the day and two labels); the rows
grow with the terminal, so at 160x48 a day shows six labels of twenty-odd columns.
"""

from __future__ import annotations

from datetime import date, timedelta

from rich.style import Style
from rich.text import Text

from itsm_tui.widgets.change_calendar import FREEZE, CalendarWidget, fit

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SEPARATOR = "│"


def column_widths(width: int) -> list[int]:
    """Seven day columns sharing `width` less six separators, the spare cells to the left."""
    usable = max(7, width - 6)
    base, spare = divmod(usable, 7)
    return [base + (1 if index < spare else 0) for index in range(7)]


class MonthGrid(CalendarWidget):
    def render(self) -> Text:
        width, height = self.size
        if self.first == date.min or width < 7 or height < 2:
            return Text()
        widths = column_widths(width)
        weeks = ((self.last - self.first).days + 1) // 7
        row_height = max(2, (height - 1) // max(1, weeks))
        lines = [self._weekdays(widths)]
        for week in range(weeks):
            monday = self.first + timedelta(days=7 * week)
            cells = [
                self._cell(monday + timedelta(days=index), widths[index], row_height)
                for index in range(7)
            ]
            for row in range(row_height):
                line = Text()
                for index, cell in enumerate(cells):
                    if index:
                        line.append(SEPARATOR, style=self.ink("grid"))
                    line.append_text(cell[row])
                lines.append(line)
        return Text("\n").join(lines[:height])

    def _weekdays(self, widths: list[int]) -> Text:
        line = Text(style=self.look("weekday"))
        for index, width in enumerate(widths):
            if index:
                line.append(SEPARATOR, style=self.ink("grid"))
            name = WEEKDAYS[index] if width >= 12 else WEEKDAYS[index][:3]
            line.append_text(fit(Text(f" {name}"), width))
        return line

    def _cell(self, day: date, width: int, height: int) -> list[Text]:
        month = self.selected.month
        freezes = self.freezes_on(day)
        base = self.look("freeze").background_style if freezes else Style()
        header_style = self.look("day" if day.month == month else "other-month") + base
        if day == self.selected:
            header_style += self.look("selected")
        header = Text(style=header_style)
        header.append("▶" if day == self.selected else " ")
        number = f"{day.day}" if day.day != 1 else f"{day.day} {day:%b}"
        header.append(number, style=self.ink("today") if day == self.today else Style())
        if day == self.today:
            header.append(" today" if width >= 12 else "•", style=self.ink("today"))
        if freezes:
            header.append(f" {FREEZE}")
        lines = [fit(header, width)]
        entries = self.changes_on(day)
        room = height - 1
        shown = entries if len(entries) <= room else entries[: max(0, room - 1)]
        for entry in shown:
            lines.append(self.label(entry, day, width, base=base))
        if len(shown) < len(entries):
            more = Text(f" +{len(entries) - len(shown)} more", style=base + self.ink("more"))
            lines.append(fit(more, width))
        while len(lines) < height:
            lines.append(Text(" " * width, style=base))
        return lines
