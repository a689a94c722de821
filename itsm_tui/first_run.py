"""The question `itsm` asks when nobody chose a database and the default one is not there.

Opening a new empty desk silently (and making the user its admin) hid the demo someone had
just built; so the desk asks: open the demo (when there is one), create an empty desk at the
default path, or quit having created nothing. It is a tiny app of its own because the desk
itself cannot start without a database.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from itsm_tui.display import printable
from itsm_tui.remote.remote_safe_app import RemoteSafeApp
from itsm_tui.widgets.desk_footer import DeskFooter


class FirstRunChoice(StrEnum):
    DEMO = "demo"
    NEW = "new"


class FirstRunApp(RemoteSafeApp[FirstRunChoice | None]):
    """Returns the choice, or None when the user quits (nothing is created then). An sshd
    forced command `itsm` shows it to a remote person: hence `RemoteSafeApp`."""

    TITLE = "itsm"
    CSS = """
    Screen { align: center middle; }
    #first-run { width: 76; max-width: 100%; height: auto; border: round $primary;
                 padding: 0 1; }
    #first-run-message { margin-bottom: 1; }
    #first-run-choices { height: auto; border: none; padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "quit_choosing", "Quit, create nothing"),
        Binding("enter", "choose", "Choose", show=True),
    ]

    def __init__(self, *, default_path: str, demo_path: str | None) -> None:
        super().__init__()
        self.default_path = default_path
        self.demo_path = demo_path
        # Paths come from the environment (XDG_DATA_HOME): shown escaped, never as codes.
        self._default_shown = printable(default_path)
        self._demo_shown = None if demo_path is None else printable(demo_path)

    def compose(self) -> ComposeResult:
        message = Text()
        message.append("No desk database yet\n", style="bold")
        message.append("The default database ")
        message.append(self._default_shown, style="bold")
        message.append(" does not exist. Nothing has been created.")
        if self.demo_path is None:
            message.append("\nThere is no demo desk; quit and run ")
            message.append("itsm demo", style="bold")
            message.append(" to build one.")
        options: list[Option] = []
        if self.demo_path is not None:
            label = Text.assemble("Open the demo desk  ", (self._demo_shown or "", "dim"))
            options.append(Option(label, id=FirstRunChoice.DEMO))
        new = Text.assemble("Create a new empty desk  ", (self._default_shown, "dim"))
        options.append(Option(new, id=FirstRunChoice.NEW))
        options.append(Option("Quit without creating anything", id="quit"))
        with Vertical(id="first-run"):
            yield Static(message, id="first-run-message")
            yield OptionList(*options, id="first-run-choices")
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._finish(event.option.id)

    def action_choose(self) -> None:
        choices = self.query_one(OptionList)
        if choices.highlighted is not None:
            self._finish(choices.get_option_at_index(choices.highlighted).id)

    def action_quit_choosing(self) -> None:
        self.exit(None)

    def _finish(self, option_id: str | None) -> None:
        self.exit(None if option_id in (None, "quit") else FirstRunChoice(option_id))
