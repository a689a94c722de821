"""The problem board: a kanban of columns and cards, drawn line by line, with a cursor.

The widget knows nothing about problems or the database: the screen hands it columns of
`Card`s (built by `problem_card` / `candidate_card` here, so the card's look lives in one
place) and reads back which card is under the cursor. Only as many columns as fit are drawn
(at least `MIN_COLUMN_WIDTH` cells each: three at 80 columns, seven at 160); the window
scrolls sideways so the focused column is always on show, and each column scrolls its cards
so the cursor's card is too.

Every signal is carried by text as well as colour, for monochrome terminals and colour-blind
eyes: the priority as `P1`..`P5`, a known error as `⚑KE`, the cursor as a reversed card with
a `▶` in its first line, more cards or columns as `↑ 2 more` / `◀` / `▶`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from itsm_tui.display import compact_age, printable

MIN_COLUMN_WIDTH = 22
CARD_LINES = 4  # number line, two title lines, facts line
KNOWN_ERROR = "⚑KE"
CURSOR = "▶"
LEGEND = "P1-P5 priority · ⚑KE known error · inc: linked incidents · age"


@dataclass(frozen=True)
class Card:
    """One card: `key` is what the screen acts on (a PRB number or a candidate's key);
    `title` is user text and is drawn as plain text, never markup."""

    key: str
    number: str
    title: str
    facts: str
    priority: int | None = None
    known_error: bool = False


@dataclass(frozen=True)
class BoardColumn:
    key: str  # a problem state, or "candidates"
    title: str
    cards: tuple[Card, ...] = ()
    note: str = ""  # shown when the column is empty


@dataclass
class _Position:
    row: int = 0
    top: int = 0


def _count(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def problem_card(
    *,
    number: str,
    title: str,
    priority: int,
    incident_count: int,
    known_error: bool,
    opened_at: datetime,
    now: datetime,
) -> Card:
    age = compact_age((now - opened_at).total_seconds())
    return Card(
        key=number,
        number=number,
        title=title,
        facts=f"{incident_count} inc · {age}",
        priority=priority,
        known_error=known_error,
    )


def candidate_card(
    *, key: str, label: str, size: int, per_week: float, last_seen: datetime, now: datetime
) -> Card:
    """A recurring-incident candidate: what its incidents share, how many, how often, and
    how long since the last one."""
    since = compact_age((now - last_seen).total_seconds())
    return Card(
        key=key,
        number=_count(size, "incident"),
        title=label,
        facts=f"{per_week:.1f}/wk · last {since}",
    )


def fit(text: Text, width: int) -> Text:
    """Exactly `width` cells: cut with an ellipsis, or padded."""
    line = text.copy()
    line.truncate(max(width, 0), overflow="ellipsis", pad=True)
    return line


def title_lines(title: str, width: int) -> tuple[str, str]:
    """The title over two lines, broken at a space where one is near; the rest is cut."""
    text = " ".join(printable(title).split())
    if len(text) <= width:
        return text, ""
    cut = text.rfind(" ", 0, width + 1)
    if cut < width // 2:
        cut = width
    return text[:cut].rstrip(), text[cut:].lstrip()


class ProblemBoard(Widget, can_focus=True):
    """`show(columns)` replaces the board's contents; the cursor stays on the same card
    (by key) where it still exists. `current` is the column and card under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "column(-1)", "Column left", show=False),
        Binding("right", "column(1)", "Column right", show=False),
        Binding("up", "card(-1)", "Card up", show=False),
        Binding("down", "card(1)", "Card down", show=False),
        Binding("home", "card(-1000000)", "First card", show=False),
        Binding("end", "card(1000000)", "Last card", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "problem-board--header",
        "problem-board--header-focus",
        "problem-board--rule",
        "problem-board--number",
        "problem-board--facts",
        "problem-board--cursor",
        "problem-board--known-error",
        "problem-board--note",
        "problem-board--more",
        "problem-board--p1",
        "problem-board--p2",
        "problem-board--p3",
        "problem-board--p4",
        "problem-board--p5",
    }

    class Moved(Message):
        """The cursor moved (or the board was redrawn under it)."""

        def __init__(self, board: ProblemBoard) -> None:
            super().__init__()
            self.board = board

        @property
        def control(self) -> ProblemBoard:
            return self.board

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns: list[BoardColumn] = []
        self.column = 0
        self.first = 0  # the first column on show
        self._positions: dict[str, _Position] = {}

    # ------------------------------------------------------------------ contents

    def show(self, columns: Sequence[BoardColumn]) -> None:
        focused_key = self.columns[self.column].key if self.columns else None
        keep = {c.key: self._card_key(c) for c in self.columns}
        self.columns = list(columns)
        keys = [c.key for c in self.columns]
        self.column = keys.index(focused_key) if focused_key in keys else 0
        for column in self.columns:
            position = self._positions.setdefault(column.key, _Position())
            previous = keep.get(column.key)
            found = [i for i, card in enumerate(column.cards) if card.key == previous]
            position.row = found[0] if found else min(position.row, len(column.cards) - 1)
            position.row = max(position.row, 0)
        self._follow()
        self.refresh()
        self.post_message(self.Moved(self))

    def _card_key(self, column: BoardColumn) -> str | None:
        row = self._positions.get(column.key, _Position()).row
        return column.cards[row].key if 0 <= row < len(column.cards) else None

    @property
    def current_column(self) -> BoardColumn | None:
        return self.columns[self.column] if self.columns else None

    @property
    def current(self) -> Card | None:
        column = self.current_column
        if column is None or not column.cards:
            return None
        row = self._positions[column.key].row
        return column.cards[row] if 0 <= row < len(column.cards) else None

    def focus_column(self, key: str) -> None:
        keys = [c.key for c in self.columns]
        if key in keys:
            self.column = keys.index(key)
            self._moved()

    def select(self, card_key: str) -> bool:
        """Put the cursor on the card `card_key`, wherever it is; False when not on show."""
        for index, column in enumerate(self.columns):
            for row, card in enumerate(column.cards):
                if card.key == card_key:
                    self.column = index
                    self._positions[column.key].row = row
                    self._moved()
                    return True
        return False

    # ------------------------------------------------------------------ moving

    def action_column(self, step: int) -> None:
        if self.columns:
            self.column = max(0, min(len(self.columns) - 1, self.column + step))
            self._moved()

    def action_card(self, step: int) -> None:
        column = self.current_column
        if column is None or not column.cards:
            return
        position = self._positions[column.key]
        position.row = max(0, min(len(column.cards) - 1, position.row + step))
        self._moved()

    def _moved(self) -> None:
        self._follow()
        self.refresh()
        self.post_message(self.Moved(self))

    def on_resize(self) -> None:
        self._follow()

    # ------------------------------------------------------------------ geometry

    @property
    def visible_count(self) -> int:
        width = self.size.width or MIN_COLUMN_WIDTH
        return max(1, min(len(self.columns) or 1, (width + 1) // (MIN_COLUMN_WIDTH + 1)))

    def _follow(self) -> None:
        """Slide the column window so the focused column is on show."""
        count = self.visible_count
        if self.column < self.first:
            self.first = self.column
        elif self.column >= self.first + count:
            self.first = self.column - count + 1
        self.first = max(0, min(self.first, max(0, len(self.columns) - count)))

    def _card_slots(self) -> int:
        """How many cards a column shows at once (two lines go to headers, one to markers)."""
        body = max(self.size.height - 2, CARD_LINES)
        return max(1, (body - 1) // (CARD_LINES + 1))

    # ------------------------------------------------------------------ drawing

    def style(self, name: str) -> Style:
        return self.get_component_rich_style(f"problem-board--{name}")

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if not self.columns or width <= 0 or height <= 0:
            return Text("")
        self._follow()
        count = self.visible_count
        shown = list(range(self.first, min(len(self.columns), self.first + count)))
        gaps = len(shown) - 1
        base, extra = divmod(width - gaps, len(shown))
        widths = [base + (1 if i >= len(shown) - extra else 0) for i in range(len(shown))]
        blocks = [
            self._column_lines(index, w, height, left=i == 0, right=i == len(shown) - 1)
            for i, (index, w) in enumerate(zip(shown, widths, strict=True))
        ]
        rule = self.style("rule")
        lines = []
        for y in range(height):
            line = Text()
            for i, block in enumerate(blocks):
                if i:
                    line.append("┼" if y == 1 else "│", rule)
                line.append_text(block[y])
            lines.append(line)
        return Text("\n").join(lines)

    def _column_lines(
        self, index: int, width: int, height: int, *, left: bool, right: bool
    ) -> list[Text]:
        column = self.columns[index]
        focused = index == self.column and self.has_focus
        header = Text()
        if left and self.first > 0:
            header.append("◀ ")
        header.append(f"{column.title} ({len(column.cards)})")
        header_style = self.style("header-focus" if index == self.column else "header")
        title = fit(header, width - (2 if right and self._more_right() else 0))
        if right and self._more_right():
            title.append(" ▶")
        title.stylize(header_style)
        lines = [title, fit(Text("─" * width, self.style("rule")), width)]
        position = self._positions[column.key]
        slots = self._card_slots()
        if not column.cards:
            lines.append(fit(Text(column.note or "(none)", self.style("note")), width))
        else:
            if position.row < position.top:
                position.top = position.row
            elif position.row >= position.top + slots:
                position.top = position.row - slots + 1
            position.top = max(0, min(position.top, max(0, len(column.cards) - slots)))
            more = self.style("more")
            if position.top:
                lines[-1] = fit(Text(f"↑ {position.top} more", more), width)
            end = min(len(column.cards), position.top + slots)
            for row in range(position.top, end):
                cursor = row == position.row and index == self.column
                lines.extend(self._card_lines(column.cards[row], width, cursor, focused))
                lines.append(fit(Text(""), width))
            hidden = len(column.cards) - end
            if hidden:
                lines[-1] = fit(Text(f"↓ {hidden} more", more), width)
        blank = fit(Text(""), width)
        return (lines + [blank] * height)[:height]

    def _more_right(self) -> bool:
        return self.first + self.visible_count < len(self.columns)

    def _card_lines(self, card: Card, width: int, cursor: bool, focused: bool) -> list[Text]:
        head = Text(f"{CURSOR} " if cursor else "  ")
        head.append(card.number, self.style("number"))
        if card.priority is not None:
            head.append(" ")
            head.append(f"P{card.priority}", self.style(f"p{card.priority}"))
        if card.known_error:
            head.append(" ")
            head.append(KNOWN_ERROR, self.style("known-error"))
        first, second = title_lines(card.title, width - 2)
        lines = [
            head,
            Text("  " + first),  # user text as a plain Text: never markup
            Text("  " + second),
            Text("  " + card.facts, self.style("facts")),
        ]
        fitted = [fit(line, width) for line in lines]
        if cursor:
            cursor_style = self.style("cursor")
            if not focused:
                cursor_style = Style(underline=True)
            for line in fitted:
                line.stylize(cursor_style)
        return fitted
