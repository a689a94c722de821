"""The choice offered when someone else saved an incident while it was being edited.

Optimistic locking turns a lost update into a `Conflict`; this dialog makes that safe to
handle: it shows, side by side, what the record holds now ("theirs") and what the user was
about to save ("yours"), and lets them decide. It only reports the choice: the form does the
work, so nothing typed is lost whatever is picked (escape means "back to my edit").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from itsm_tui.display import user_text
from itsm_tui.widgets.desk_footer import DeskFooter


class ConflictResolution(StrEnum):
    """What the user chose; the form acts on it."""

    RELOAD_AND_REAPPLY = "reload"
    """Take their version as the new base and keep the typed values on top, to save again."""
    KEEP_MINE_AS_NOTE = "note"
    """Record the typed values as a work note and show their version in the form."""
    BACK_TO_EDIT = "back"
    """Change nothing: the form stays as it was, with the version it was read at."""


@dataclass(frozen=True)
class ConflictRow:
    """One field that differs between the saved record and the pending edit.

    `edited` is False for fields only they changed: `yours` is then what the form showed when
    it was read, which reapplying will not send (their value stays).
    """

    field: str
    theirs: str
    yours: str
    edited: bool = True


class ConflictDialog(ModalScreen[ConflictResolution]):
    """`ConflictDialog(number, rows, their_version)`: dismisses with a `ConflictResolution`."""

    BINDINGS = [
        Binding("r", "choose('reload')", "Reload and reapply"),
        Binding("n", "choose('note')", "Keep mine as note"),
        # "q" would quit the app (and drop the pending edit): it means "back" here.
        Binding("escape,b,q", "choose('back')", "Back to my edit"),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]
    AUTO_FOCUS = "#conflict-back"
    # Below 110 columns the three choices do not fit side by side: the CSS stacks them.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, number: str, rows: Sequence[ConflictRow], their_version: int) -> None:
        super().__init__()
        self.number = number
        self.rows = tuple(rows)
        self.their_version = their_version

    def compose(self) -> ComposeResult:
        with Vertical(id="conflict-box"):
            yield Static(
                Text(
                    f"{self.number} was saved by someone else while you were editing "
                    f"(it is now at version {self.their_version}). Your changes are not saved."
                ),
                id="conflict-heading",
            )
            with VerticalScroll(id="conflict-scroll"):
                yield Static(self._table(), id="conflict-table")
            with Horizontal(id="conflict-buttons"):
                yield Button("Reload and reapply (r)", id="conflict-reload", variant="primary")
                yield Button("Keep mine as a work note (n)", id="conflict-note")
                yield Button("Back to my edit (b)", id="conflict-back")
        yield DeskFooter()

    def _table(self) -> Table | Text:
        """Every cell is a `Text` built by `user_text`: both sides hold typed data."""
        if not self.rows:
            return Text("Your pending changes already match the saved record.")
        table = Table(expand=True, show_lines=True)
        table.add_column("Field", no_wrap=True)
        table.add_column("Theirs (saved)", ratio=3)
        table.add_column("Yours (pending)", ratio=3)
        for row in self.rows:
            yours = user_text(row.yours, multiline=True)
            if not row.edited:
                yours = Text.assemble(yours, Text(" (not edited: theirs stays)", style="dim"))
            table.add_row(Text(row.field), user_text(row.theirs, multiline=True), yours)
        return table

    def action_choose(self, choice: str) -> None:
        self.dismiss(ConflictResolution(choice))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = {
            "conflict-reload": ConflictResolution.RELOAD_AND_REAPPLY,
            "conflict-note": ConflictResolution.KEEP_MINE_AS_NOTE,
        }.get(event.button.id or "", ConflictResolution.BACK_TO_EDIT)
        self.dismiss(choice)
