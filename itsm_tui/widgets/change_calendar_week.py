"""The week view: one row per change (and per freeze), a time bar across the seven days.

Each day column is split into equal slots of its local day (a DST day's slots are a little
shorter or longer); a slot is filled when the change's window overlaps it, so even a short
change shows. Rows that do not fit end in `+N more`: the day list and the agenda show all.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rich.style import Style
from rich.text import Text

from itsm_tui.display import printable
from itsm_tui.domain.conflicts import Window
from itsm_tui.services.change_calendar import CalendarChange, day_window
from itsm_tui.widgets.change_calendar import FREEZE, STATE_CLASS, STATE_GLYPH, CalendarWidget, fit

SEPARATOR = "│"
FREEZE_GLYPH = "▒"


def layout(width: int) -> tuple[int, int]:
    """(label width, slots per day): a quarter of the width (at least 20) for labels."""
    column = max(3, (width - max(20, width // 4)) // 7)
    return width - 7 * column, column - 1


class WeekGrid(CalendarWidget):
    def render(self) -> Text:
        width, height = self.size
        if self.first == date.min or width < 30 or height < 2 or self.period is None:
            return Text()
        label_width, slots = layout(width)
        days = [self.first + timedelta(days=n) for n in range(7)]
        edges = [self._slot_edges(day, slots) for day in days]
        freezes = [f for f in self.period.freezes if any(d in f.days for d in days)]
        frozen = [
            [any(f.record.starts_at < b and f.record.ends_at > a for f in freezes) for a, b in e]
            for e in edges
        ]
        lines = [self._header(days, label_width, slots)]
        if slots >= 16 and height >= 30:
            lines.append(self._axis(label_width, slots))
        for freeze in freezes:
            name = Text(f"{FREEZE} ", style=Style(bold=True))
            name.append(printable(freeze.name))
            if freeze.record.service:
                name.append(f" ({printable(freeze.record.service)})", style=self.ink("more"))
            window = (freeze.record.starts_at, freeze.record.ends_at)
            lines.append(self._row(fit(name, label_width), window, edges, frozen, FREEZE_GLYPH))
        entries = sorted(
            {entry.number: entry for day in days for entry in self.changes_on(day)}.values(),
            key=lambda entry: (entry.start, entry.number),
        )
        room = height - len(lines)
        shown = entries if len(entries) <= room else entries[: max(0, room - 1)]
        for entry in shown:
            lines.append(self._change_row(entry, label_width, edges, frozen))
        if len(shown) < len(entries):
            more = f" +{len(entries) - len(shown)} more: enter lists a day, g the agenda"
            lines.append(Text(more, style=self.ink("more")))
        if not entries and room > 0:
            lines.append(Text(" No changes planned this week.", style=self.ink("more")))
        return Text("\n").join(lines[:height])

    def _slot_edges(self, day: date, slots: int) -> list[tuple[datetime, datetime]]:
        window: Window = day_window(day, day, self.period.zone if self.period else "UTC")
        step = window.duration / slots
        return [
            (window.start + step * index, window.start + step * (index + 1))
            for index in range(slots)
        ]

    def _header(self, days: list[date], label_width: int, slots: int) -> Text:
        line = Text(style=self.look("weekday"))
        zone = self.period.zone if self.period else "UTC"
        line.append_text(fit(Text(f" Change (times {zone})"), label_width))
        for day in days:
            line.append(SEPARATOR, style=self.ink("grid"))
            style = self.look("weekday")
            if day == self.selected:
                style += self.look("selected")
            cell = Text(style=style)
            cell.append("▶" if day == self.selected else " ")
            cell.append(f"{day:%a} {day.day}" if slots >= 6 else f"{day:%a}"[:2] + str(day.day))
            if day == self.today:
                cell.append("•", style=self.ink("today"))
            if self.freezes_on(day):
                cell.append(FREEZE)
            line.append_text(fit(cell, slots))
        return line

    def _axis(self, label_width: int, slots: int) -> Text:
        line = Text(" " * label_width, style=self.ink("more"))
        marks = Text(style=self.ink("more"))
        for hour in (0, 6, 12, 18):
            position = round(hour / 24 * slots)
            marks.append(" " * max(0, position - marks.cell_len))
            marks.append(f"{hour:02d}")
        for _ in range(7):
            line.append(SEPARATOR, style=self.ink("grid"))
            line.append_text(fit(marks, slots))
        return line

    def _change_row(
        self,
        entry: CalendarChange,
        label_width: int,
        edges: list[list[tuple[datetime, datetime]]],
        frozen: list[list[bool]],
    ) -> Text:
        label = self.label(entry, None, label_width - 1)
        label.append(" ")
        glyph = STATE_GLYPH.get(entry.record.state, "█")
        bar = self.ink(entry.record.risk) + self.ink(STATE_CLASS.get(entry.record.state, "booked"))
        return self._row(label, (entry.start, entry.end), edges, frozen, glyph, bar)

    def _row(
        self,
        label: Text,
        window: tuple[datetime, datetime],
        edges: list[list[tuple[datetime, datetime]]],
        frozen: list[list[bool]],
        glyph: str,
        style: Style | None = None,
    ) -> Text:
        start, end = window
        line = label.copy()
        for day_edges, day_frozen in zip(edges, frozen, strict=True):
            line.append(SEPARATOR, style=self.ink("grid"))
            for (a, b), shaded in zip(day_edges, day_frozen, strict=True):
                under = self.look("freeze").background_style if shaded else Style()
                if start < b and end > a:
                    line.append(glyph, style=under + (style or self.look("freeze")))
                else:
                    line.append("·" if shaded else " ", style=under + self.ink("more"))
        return line
