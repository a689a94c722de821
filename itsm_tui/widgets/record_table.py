"""A windowed record table: holds only a window of rows and draws only the visible lines.

A queue over a million incidents cannot live in a DataTable (every row in memory, the render
cache dropped on each cell update). This widget keeps at most `max_window` rows, draws each
visible line on demand with the Line API, and asks its screen for more rows (`NeedRows`) when
the cursor runs off either end of the window; the screen answers with keyset pages.
Redrawing the visible lines every second is what makes SLA countdowns tick without a query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

RowT = TypeVar("RowT")
Direction = Literal["first", "last", "after", "before"]


@dataclass(frozen=True)
class Column:
    label: str
    width: int  # cells; 0 means "take the width that is left"
    hide_below: int = 0  # hidden when the table is narrower than this


class RecordTable(Widget, Generic[RowT], can_focus=True):
    """Rows are identified by a key (an incident number) so the cursor can follow a record
    when the window is re-read under it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("space", "mark", "Mark"),
        Binding("enter", "select", "Open", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--cursor",
        "record-table--marked",
    }

    class NeedRows(Message):
        """The cursor left the window: the screen should load rows in `direction`."""

        def __init__(self, table: RecordTable[object], direction: Direction) -> None:
            super().__init__()
            self.table = table
            self.direction = direction

    class Highlighted(Message):
        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    class Selected(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        key_of: Callable[[RowT], str],
        cells_of: Callable[[RowT, list[Column]], list[Text]],
        max_window: int = 400,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self.key_of = key_of
        self.cells_of = cells_of
        self.max_window = max_window
        self.rows: list[RowT] = []
        self.cursor = 0
        self.top = 0
        self.has_before = False
        self.has_after = False
        self.marked: dict[str, None] = {}  # insertion-ordered set of keys
        self._pending: int = 0  # rows the cursor still has to move once more rows arrive
        self._waiting = False
        # Drawn lines by (row key, cursor?, marked?, focused?, width): a cursor move redraws
        # two lines, not the screen. Cleared when rows, width or time (`tick`) change.
        self._lines: dict[tuple[str, bool, bool, bool, int], Strip] = {}
        self.empty_text = Text("No incidents match.")

    # ------------------------------------------------------------------ data in

    def set_rows(
        self,
        rows: Sequence[RowT],
        *,
        has_before: bool,
        has_after: bool,
        keep: str | None = None,
        cursor_at_end: bool = False,
    ) -> None:
        """Replace the window. With `keep`, the cursor stays on that record if it is still
        in the window (else on the same line); the viewport stays put either way."""
        old_cursor, old_offset = self.cursor, self.cursor - self.top
        self.rows = list(rows)
        self.has_before, self.has_after = has_before, has_after
        self._waiting, self._pending = False, 0
        keys = [self.key_of(row) for row in self.rows]
        if cursor_at_end:
            self.cursor = max(0, len(self.rows) - 1)
            self.top = max(0, self.cursor - self._body_height() + 1)
        elif keep is not None and keep in keys:
            self.cursor = keys.index(keep)
            self.top = max(0, self.cursor - old_offset)
        else:
            self.cursor = min(old_cursor if keep is not None else 0, max(0, len(self.rows) - 1))
            self.top = max(0, self.cursor - old_offset) if keep is not None else 0
        self._clamp()
        self._lines.clear()
        self.refresh()
        self.post_message(self.Highlighted(self.current_key))

    def cancel_wait(self) -> None:
        """The rows asked for will not come (the window changed meanwhile)."""
        self._waiting, self._pending = False, 0

    def tick(self) -> None:
        """Time moved, so countdowns may read differently: re-render the visible rows and
        repaint only the lines whose text changed. Repainting the whole table each second
        resent every row (~5 KB/s for an idle desk over SSH) though most countdowns change
        once a minute."""
        drawn = self._lines
        self._lines = {}
        width = self.size.width
        for y in range(1, self.size.height):
            index = self.top + y - 1
            if index >= len(self.rows):
                break  # blank lines below the rows do not change with time
            key = self.key_of(self.rows[index])
            marked = key in self.marked
            before = drawn.get((key, index == self.cursor, marked, self.has_focus, width))
            after = self.render_line(y)
            if before is None or list(before) != list(after):
                self.refresh(Region(0, y, width, 1))

    def extend(self, rows: Sequence[RowT], *, direction: Direction, more: bool) -> None:
        """Add a page read after the last row or before the first, trimming the far end so
        the window never grows past `max_window`; then finish the move that asked for it."""
        known = {self.key_of(row) for row in self.rows}
        fresh = [row for row in rows if self.key_of(row) not in known]
        reach = self._reach()
        if direction == "after":
            self.rows.extend(fresh)
            self.has_after = more
            # Trim the far end, but never within reach of what is on screen: trimming there
            # would make the next prefetch fetch it straight back.
            excess = min(len(self.rows) - self.max_window, self.top - reach)
            if excess > 0:
                del self.rows[:excess]
                self.cursor, self.top = max(0, self.cursor - excess), self.top - excess
                self.has_before = True
        else:
            self.rows[:0] = fresh
            self.cursor, self.top = self.cursor + len(fresh), self.top + len(fresh)
            self.has_before = more
            below = len(self.rows) - (self.top + self._body_height())
            excess = min(len(self.rows) - self.max_window, below - reach)
            if excess > 0:
                del self.rows[-excess:]
                self.has_after = True
        self._waiting = False
        self._lines.clear()
        pending, self._pending = self._pending, 0
        self._move(pending)

    @property
    def current_key(self) -> str | None:
        return self.key_of(self.rows[self.cursor]) if self.rows else None

    @property
    def current_row(self) -> RowT | None:
        return self.rows[self.cursor] if self.rows else None

    @property
    def first_row(self) -> RowT | None:
        return self.rows[0] if self.rows else None

    # ------------------------------------------------------------------ actions

    def action_cursor(self, delta: int) -> None:
        self._move(delta)

    def action_page(self, pages: int) -> None:
        self._move(pages * max(1, self._body_height() - 1))

    def action_first(self) -> None:
        if self.has_before:
            self._ask("first")
        else:
            self._move(-self.cursor)

    def action_last(self) -> None:
        if self.has_after:
            self._ask("last")
        else:
            self._move(len(self.rows) - 1 - self.cursor)

    def action_mark(self) -> None:
        key = self.current_key
        if key is None:
            return
        if key in self.marked:
            del self.marked[key]
        else:
            self.marked[key] = None
        self._move(1)
        self.refresh()

    def clear_marks(self) -> None:
        self.marked.clear()
        self._lines.clear()
        self.refresh()

    def action_select(self) -> None:
        if (key := self.current_key) is not None:
            self.post_message(self.Selected(key))

    def _move(self, delta: int) -> None:
        if not self.rows:
            return
        target = self.cursor + delta
        if 0 <= target < len(self.rows):
            self._pending = 0  # back inside the window: an earlier move past it is void
        if target >= len(self.rows) and self.has_after:
            self._pending = target - (len(self.rows) - 1)
            target = len(self.rows) - 1
            self._ask("after")
        elif target < 0 and self.has_before:
            self._pending = target
            target = 0
            self._ask("before")
        self.cursor = max(0, min(target, len(self.rows) - 1))
        self._scroll_to_cursor()
        self._prefetch()
        self.refresh()
        self.post_message(self.Highlighted(self.current_key))

    def _reach(self) -> int:
        return 2 * self._body_height()

    def _prefetch(self) -> None:
        """Ask for the next page while the screen is still two screens from the window's
        edge, so scrolling rarely waits for a fetch."""
        reach = self._reach()
        if self.has_after and len(self.rows) - (self.top + self._body_height()) < reach:
            self._ask("after")
        elif self.has_before and self.top < reach:
            self._ask("before")

    def _ask(self, direction: Direction) -> None:
        if not self._waiting:
            self._waiting = True
            self.post_message(self.NeedRows(self, direction))  # type: ignore[arg-type]

    def _scroll_to_cursor(self) -> None:
        height = self._body_height()
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + height:
            self.top = self.cursor - height + 1
        self._clamp()

    def _clamp(self) -> None:
        height = self._body_height()
        self.top = max(0, min(self.top, max(0, len(self.rows) - height)))
        self.top = min(self.top, self.cursor) if self.rows else 0

    def _body_height(self) -> int:
        return max(1, self.size.height - 1)

    def on_resize(self, event: events.Resize) -> None:
        self._lines.clear()
        self._scroll_to_cursor()

    def on_click(self, event: events.Click) -> None:
        line = event.y - 1
        if line >= 0 and self.top + line < len(self.rows):
            self._move(self.top + line - self.cursor)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._move(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._move(-3)

    # ------------------------------------------------------------------ drawing

    def visible_columns(self) -> list[Column]:
        return [c for c in self.columns if self.size.width >= c.hide_below]

    def _widths(self, columns: list[Column]) -> list[int]:
        fixed = sum(c.width for c in columns) + len(columns) + 1  # a space between each
        flexible = [c for c in columns if c.width == 0]
        spare = max(8, self.size.width - fixed)
        return [c.width or spare // max(1, len(flexible)) for c in columns]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        columns = self.visible_columns()
        widths = self._widths(columns)
        if y == 0:
            style = self.get_component_rich_style("record-table--header")
            cells = [Text(c.label, style="bold") for c in columns]
            return self._strip(Text("  "), cells, widths, style, width)
        index = self.top + y - 1
        if index >= len(self.rows):
            if not self.rows and y == 1:
                return Strip([Segment(self.empty_text.plain[:width])]).extend_cell_length(width)
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        key = self.key_of(row)
        marked, at_cursor = key in self.marked, index == self.cursor
        cache_key = (key, at_cursor, marked, self.has_focus, width)
        if (cached := self._lines.get(cache_key)) is not None:
            return cached
        marker = Text("● " if marked else "  ")
        style = self.rich_style
        if marked:
            style = style + self.get_component_rich_style("record-table--marked")
        if at_cursor and self.has_focus:
            style = style + self.get_component_rich_style("record-table--cursor")
        elif at_cursor:
            style = style + Style(reverse=True)
        strip = self._strip(marker, self.cells_of(row, columns), widths, style, width)
        self._lines[cache_key] = strip
        return strip

    def _strip(
        self, marker: Text, cells: list[Text], widths: list[int], style: Style, width: int
    ) -> Strip:
        line = marker.copy()
        for cell, cell_width in zip(cells, widths, strict=False):
            cell = cell.copy()
            cell.truncate(cell_width, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" ")
        line.truncate(width, pad=True)
        segments = list(line.render(self.app.console))
        strip = Strip(segments).apply_style(style)
        return strip.adjust_cell_length(width, style)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
