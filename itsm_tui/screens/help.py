"""`?` / F1: every binding live on the screen underneath, grouped by where it comes from.

Built from the screen's active bindings at the moment help opens, so it can never list a key
that does not work there or miss one that does.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

TEXT_KEYS = "Type-to-search fields and dialogs: enter submits, escape cancels, tab moves."


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close help"),
    ]

    def __init__(self, underneath: Screen[object]) -> None:
        super().__init__()
        self.rows = self._rows(underneath)
        self.title_text = f"Keys: {underneath.__class__.__name__.removesuffix('Screen')}"

    def _rows(self, screen: Screen[object]) -> list[tuple[str, str, str]]:
        rows: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            description = binding.description or binding.action
            where = "app" if active.node is self.app else "screen"
            display = self.app.get_key_display(binding) or key
            if (display, description) in seen or binding.system:
                continue
            seen.add((display, description))
            rows.append((where, display, description))
        rows.sort(key=lambda row: (row[0] != "screen", row[1].lower()))
        return rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("Key", no_wrap=True)
        table.add_column("Does")
        table.add_column("Scope", style="dim")
        for where, key, description in self.rows:
            table.add_row(Text(key, style="bold"), Text(description), Text(where))
        with VerticalScroll(id="help-body"):
            yield Static(Text(self.title_text, style="bold"), id="help-title")
            yield Static(table)
            yield Static(Text(TEXT_KEYS, style="dim"), id="help-foot")
