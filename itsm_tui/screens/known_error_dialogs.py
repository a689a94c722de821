"""The dialog that links an incident to one of the known errors suggested for it.

    KnownErrorDialog(incident, hits, perform) -> object | None (the service's result)

It lists the suggestions (number, title, why, workaround) and enter links the highlighted
one by running `perform(problem_number)`, the call the screen built (the problem service's
`link_incidents` with the workaround applied as a work note). Like the change dialogs, a
refusal (the problem was closed meanwhile, a viewer) stays in the dialog as a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from itsm_tui.screens.change_dialogs import Call, ServiceCallDialog
from itsm_tui.services.known_errors import KnownErrorHit
from itsm_tui.widgets.known_errors import hit_heading, workaround_line

# The dialog has room for more of each workaround than the panel.
DIALOG_WORKAROUND_CHARS = 200


def hit_option(hit: KnownErrorHit) -> Option:
    prompt = Text("\n").join([hit_heading(hit), workaround_line(hit, DIALOG_WORKAROUND_CHARS)])
    return Option(prompt, id=hit.number)


class KnownErrorDialog(ServiceCallDialog[object]):
    """Pick a known error for `incident`; enter links the incident to it."""

    HINT = "enter: link to the highlighted known error · escape: cancel"

    def __init__(
        self,
        incident: str,
        hits: Sequence[KnownErrorHit],
        perform: Callable[[str], Call[object]],
    ) -> None:
        super().__init__(f"Known errors that may explain {incident}")
        self.hits = list(hits)
        self.perform = perform

    def body(self) -> ComposeResult:
        yield Label(Text("Linking adds the workaround to the incident as a work note."))
        yield OptionList(*[hit_option(hit) for hit in self.hits], id="known-error-options")

    def on_mount(self) -> None:
        options = self.query_one("#known-error-options", OptionList)
        if self.hits:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#known-error-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.submit()

    @property
    def chosen(self) -> str | None:
        option = self.query_one("#known-error-options", OptionList).highlighted_option
        return option.id if option is not None else None

    def prepare(self) -> Call[object] | None:
        number = self.chosen
        if number is None:
            self.show_error("No known error to link (escape to go back).")
            return None
        return self.perform(number)
