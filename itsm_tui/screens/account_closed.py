"""What a desk shows in its last seconds once its user was deactivated (or removed).

The app decides (`services.actors.still_active`, asked on every user-record change in the
feed) and closes the desk; this screen only says why, over whatever was on screen, and takes
no input meanwhile: the desk reads nothing more for a user who lost access.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

ACCOUNT_CLOSED = "Your account was deactivated; the desk is closing."


class AccountClosedScreen(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="account-closed"):
            yield Static("Access ended", classes="dialog-title")
            yield Static(Text(ACCOUNT_CLOSED), id="account-closed-message")
