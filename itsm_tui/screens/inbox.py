"""The inbox: SLA escalations and mentions addressed to the user, newest first.

Enter hands the entry back to the app, which marks it read and opens its incident; `R` marks
everything read.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from itsm_tui.display import user_text
from itsm_tui.screens.context import desk
from itsm_tui.services import notifications
from itsm_tui.services.records import NotificationRecord

KIND_LABELS = {"sla_breach": "✗ breach", "sla_warning": "! warning", "mention": "@ mention"}


class InboxScreen(ModalScreen[NotificationRecord | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,i", "dismiss(None)", "Close"),
        Binding("R", "read_all", "Mark all read"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[NotificationRecord] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="inbox-dialog", classes="dialog"):
            yield Label(Text("Inbox  (enter opens, R marks all read)", style="bold"))
            yield OptionList(id="inbox-list")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            entries = notifications.inbox(session, app.actor)[:200]
        self.app.call_from_thread(self._show, entries)

    def _show(self, entries: list[NotificationRecord]) -> None:
        self.entries = entries
        options = self.query_one("#inbox-list", OptionList)
        options.clear_options()
        if not entries:
            options.add_option(Option(Text("Nothing here."), disabled=True))
        for entry in entries:
            line = Text("● " if not entry.read else "  ", style="bold")
            line.append(f"{KIND_LABELS.get(entry.kind, entry.kind):<10} ")
            line.append(entry.created_at.strftime("%m-%d %H:%M "), style="dim")
            line.append_text(user_text(entry.body, style="" if entry.read else "bold"))
            options.add_option(Option(line))
        if entries:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        """The app marks the entry read and opens its incident: this screen is gone by the
        time a worker of its own would finish."""
        self.dismiss(self.entries[event.option_index])

    @work(thread=True, exit_on_error=False)
    def mark(self, ids: list[int]) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            notifications.mark_read(session, app.actor, app.clock.now(), ids)
        refresh = getattr(self.app, "refresh_unread", None)
        if refresh is not None:
            self.app.call_from_thread(refresh)

    def action_read_all(self) -> None:
        self.mark([entry.id for entry in self.entries if not entry.read])
        self.entries = [entry.model_copy(update={"read": True}) for entry in self.entries]
        self._show(self.entries)
