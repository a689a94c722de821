"""The header every desk screen shares: where you are, who you are, unread inbox, the time,
and "reconnecting…" while the database is unreachable.

The time comes from the app's injected clock (Textual's own Header reads the wall clock, which
would make snapshots drift).
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from itsm_tui.display import user_text


class DeskHeader(Static):
    unread: reactive[int] = reactive(0)
    now_text: reactive[str] = reactive("")
    link_text: reactive[str] = reactive("")  # empty while the database link is up
    # The untruncated database location on a line of its own (palette "Database"), or "".
    detail: reactive[str] = reactive("", layout=True)

    def __init__(self, section: str, *, user: str, role: str, database: str) -> None:
        super().__init__(id="desk-header")
        self.section = section
        self.user = user
        self.role = role
        self.database = database

    def render(self) -> Text:
        line = Text()
        line.append(" itsm ", style="bold reverse")
        line.append(f" {self.section} ", style="bold")
        line.append("│ ")
        line.append_text(user_text(self.user))
        line.append(f" ({self.role}) │ ")
        line.append_text(user_text(self.database))
        right = Text()
        if self.link_text:
            right.append(f" ⚠ {self.link_text} ", style="bold reverse red")
        if self.unread:
            right.append(f" ✉ {self.unread} unread ", style="bold reverse")
        else:
            right.append(" ✉ 0 ")
        right.append(f" {self.now_text}")
        spare = self.size.width - line.cell_len - right.cell_len
        if spare < 1:  # narrow terminal: the database label gives way first
            line.truncate(max(0, self.size.width - right.cell_len - 1), overflow="ellipsis")
            spare = 1
        line.append(" " * spare)
        line.append_text(right)
        if self.detail:
            line.append("\n")
            line.append_text(user_text(f" {self.detail}"))
        return line
