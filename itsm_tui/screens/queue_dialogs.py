"""The queue's dialogs: filters, saved views, naming a view, and the bulk-action summary."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select, SelectionList, Static
from textual.widgets.option_list import Option

from itsm_tui.display import printable, user_text
from itsm_tui.domain.enums import IncidentState, Priority
from itsm_tui.screens.context import desk
from itsm_tui.screens.dialogs import ActionDialog
from itsm_tui.services import bulk, directory, saved_views
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.queue import QueueFilter


class FilterDialog(ModalScreen[QueueFilter | None]):
    """States, priorities and group; the quick flags stay on their own keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "apply", "Apply"),
    ]

    def __init__(self, current: QueueFilter) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-dialog", classes="dialog"):
            yield Label(Text("Filters  (space toggles, tab moves, ctrl+s applies)", style="bold"))
            with Horizontal(id="filter-lists"):
                yield SelectionList[str](
                    *(
                        (state.value, state.value, state in self.current.states)
                        for state in IncidentState
                    ),
                    id="filter-states",
                )
                yield SelectionList[int](
                    *(
                        (f"P{int(p)}", int(p), p in self.current.priorities)
                        for p in sorted(Priority, key=int)
                    ),
                    id="filter-priorities",
                )
            yield Select[str]([], prompt="Any group", id="filter-group")
            yield Static(id="filter-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#filter-states").border_title = "States (none = all)"
        self.query_one("#filter-priorities").border_title = "Priorities (none = all)"
        self.load_groups()

    @work(thread=True, exit_on_error=False)
    def load_groups(self) -> None:
        with desk(self.app).database.session() as session:
            names = [group.name for group in directory.list_groups(session)]
        self.app.call_from_thread(self._show_groups, names)

    def _show_groups(self, names: list[str]) -> None:
        select = self.query_one("#filter-group", Select)
        select.set_options([(user_text(name), name) for name in names])
        if self.current.group in names:
            select.value = self.current.group

    def action_apply(self) -> None:
        states = self.query_one("#filter-states", SelectionList).selected
        priorities = self.query_one("#filter-priorities", SelectionList).selected
        group = self.query_one("#filter-group", Select).value
        try:
            query = self.current.with_(
                states=tuple(states),
                priorities=tuple(priorities),
                group=group if isinstance(group, str) else None,
            )
        except ServiceError as error:
            self.query_one("#filter-error", Static).update(user_text(str(error)))
            return
        self.dismiss(query)


class ViewsDialog(ModalScreen[saved_views.SavedViewRecord | None]):
    """The user's saved views: enter (or its digit) applies one, d deletes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("d", "delete", "Delete view"),
        *(Binding(str(n), f"pick({n})", show=False) for n in range(1, 10)),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.views: list[saved_views.SavedViewRecord] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="views-dialog", classes="dialog"):
            yield Label(Text("Saved views  (1-9 or enter applies, d deletes)", style="bold"))
            yield OptionList(id="views-list")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            views = saved_views.list_views(session, app.actor)
        self.app.call_from_thread(self._show, views)

    def _show(self, views: list[saved_views.SavedViewRecord]) -> None:
        self.views = views
        options = self.query_one("#views-list", OptionList)
        options.clear_options()
        if not views:
            options.add_option(
                Option(Text("No saved views yet: V saves the current filter"), disabled=True)
            )
        for index, view in enumerate(views, start=1):
            label = Text(f"{index}. " if index < 10 else "   ")
            label.append_text(user_text(view.name, style="bold"))
            label.append("  " + printable(" · ".join(view.filter.chips())), style="dim")
            options.add_option(Option(label))
        if views:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(event.option_index + 1)

    def action_pick(self, number: int) -> None:
        if 0 < number <= len(self.views):
            self.dismiss(self.views[number - 1])

    def action_delete(self) -> None:
        index = self.query_one("#views-list", OptionList).highlighted
        if index is not None and index < len(self.views):
            self.delete(self.views[index].name)

    @work(thread=True, exit_on_error=False)
    def delete(self, name: str) -> None:
        app = desk(self.app)
        try:
            with app.database.session() as session:
                saved_views.delete_view(session, app.actor, name)
        except ServiceError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", markup=False)
        self.load()


class SaveViewDialog(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="save-view-dialog", classes="dialog"):
            yield Label(
                Text("Save the current filter as a view (same name replaces)", style="bold")
            )
            yield Input(placeholder="View name", id="view-name", max_length=60)
            yield Static(id="view-name-error", classes="error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.query_one("#view-name-error", Static).update(Text("A view needs a name."))
            return
        self.dismiss(event.value.strip())


class BulkSummaryDialog(ModalScreen[None]):
    """What a bulk action did to each incident, refusals with their reasons."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "dismiss(None)", "Close")]

    def __init__(self, result: bulk.BulkResult) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        ok, refused = len(self.result.succeeded), len(self.result.refused)
        with Vertical(id="bulk-dialog", classes="dialog"):
            yield Label(Text(f"Bulk action: {ok} done, {refused} refused", style="bold"))
            with VerticalScroll():
                for outcome in self.result.outcomes:
                    line = Text(
                        "✓ " if outcome.ok else "✗ ", style="green" if outcome.ok else "red"
                    )
                    line.append(outcome.number + "  ", style="bold")
                    line.append_text(user_text(outcome.message))
                    yield Static(line)


class LinkProblemDialog(ActionDialog[str | None]):
    """Which problem the marked incidents belong to: returns the PRB number as typed."""

    def __init__(self, count: int) -> None:
        super().__init__(f"Link {count} incident(s) to a problem")

    def body(self) -> ComposeResult:
        yield Label("Problem number (e.g. PRB0000012)")
        yield Input(id="link-problem", compact=True, placeholder="PRB…")

    def on_mount(self) -> None:
        self.query_one("#link-problem", Input).focus()

    def submit(self) -> None:
        field = self.query_one("#link-problem", Input)
        if not field.value.strip():
            self.show_error("Type the problem's number (or escape to cancel).", field)
            return
        self.dismiss(field.value.strip())
