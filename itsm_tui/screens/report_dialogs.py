"""The reports screen's two dialogs.

    DrillDownDialog(title, numbers) -> DrillRecord | None   the records behind a report row
    ExportDialog(report, default_for) -> Path | None         format (+ path); writes the file

The drill-down loads the rows' records (number, kind, state, title) in a worker and hands
the chosen one back; the screen opens it. The export dialog offers CSV, JSON and Markdown
and a path prefilled with the default for the format (switching the format swaps the
extension); the write runs through `ServiceCallDialog`, so a path that cannot be written
(or is refused: the database, the config directory) stays in the dialog as a message with the
path kept for fixing. A remote desk shows no path: see `ExportDialog`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from sqlmodel import Session
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, RadioButton, RadioSet
from textual.widgets.option_list import Option

from itsm_tui import session_kind
from itsm_tui.clock import Clock
from itsm_tui.display import user_text
from itsm_tui.screens.change_dialogs import Call, ServiceCallDialog
from itsm_tui.screens.context import desk
from itsm_tui.services import desk_reports
from itsm_tui.services.desk_reports import DeskReport, DrillRecord, ExportFormat
from itsm_tui.store.models import User

FORMAT_LABELS: dict[ExportFormat, str] = {
    ExportFormat.CSV: "CSV",
    ExportFormat.JSON: "JSON",
    ExportFormat.MARKDOWN: "Markdown",
}


class DrillDownDialog(ModalScreen[DrillRecord | None]):
    """The records behind one row; enter picks one to open."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, title: str, numbers: Sequence[str]) -> None:
        super().__init__()
        self.heading = title
        self.numbers = list(numbers)
        self.records: list[DrillRecord] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="drill-dialog", classes="dialog"):
            yield Label(Text(self.heading, style="bold"), classes="dialog-title")
            yield OptionList(id="drill-list")
            yield Label(Text("enter: open · escape: back"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            found = desk_reports.drill_records(session, self.numbers)
        self.app.call_from_thread(self._show, found)

    def _show(self, found: list[DrillRecord]) -> None:
        self.records = found
        options = self.query_one("#drill-list", OptionList)
        options.clear_options()
        if not found:
            options.add_option(Option(Text("No records behind this row."), disabled=True))
        for record in found:
            line = Text(f"{record.number}  ", style="bold")
            line.append(f"{record.state.replace('_', ' '):<12} ", style="dim")
            line.append_text(user_text(record.title))
            options.add_option(Option(line, id=record.number))
        if found:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#drill-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.records:
            self.dismiss(self.records[event.option_index])


class ExportDialog(ServiceCallDialog[Path]):
    """Pick a format (and, on a local desk, a path); submit writes the report and returns the
    path written.

    A remote desk (serve ssh/web, an sshd session) has no path field: whatever is typed there
    would name a file on the server. It writes to the user's export folder under a name the
    service makes up, and the web desk then hands the file to the browser as a download."""

    HINT = "enter/ctrl+s: export · escape: cancel"
    DELIVERY_NAME = "report-export"

    def __init__(self, report: DeskReport, default_for: Callable[[ExportFormat], Path]) -> None:
        super().__init__(f"Export: {report.title}")
        self.report = report
        self.default_for = default_for
        self.format = ExportFormat.CSV
        self.remote = session_kind.remote_kind()

    def body(self) -> ComposeResult:
        with RadioSet(id="export-format"):
            for fmt, label in FORMAT_LABELS.items():
                yield RadioButton(label, value=fmt is self.format, name=fmt.value)
        if self.remote is None:
            yield Label(Text("File"))
            yield Input(str(self.default_for(self.format)), id="export-path")
            return
        where = "Saved in your export folder on the desk's server"
        if self.remote == session_kind.WEB:
            where += " and downloaded by your browser"
        yield Label(Text(f"{where}."), id="export-where")

    def on_mount(self) -> None:
        self.query_one("#export-format", RadioSet).focus()

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        chosen = ExportFormat(event.pressed.name or ExportFormat.CSV.value)
        for path in self.query("#export-path").results(Input):
            typed = Path(path.value)
            if typed.suffix == f".{self.format.value}":
                path.value = str(typed.with_suffix(f".{chosen.value}"))
        self.format = chosen

    def prepare(self) -> Call[Path] | None:
        report, fmt = self.report, self.format
        if self.remote is not None:

            def remote_call(_session: Session, actor: User, clock: Clock) -> Path:
                return desk_reports.export_for_remote_user(report, fmt, actor.username, clock.now())

            return remote_call
        path = self.query_one("#export-path", Input)
        if not path.value.strip():
            self.show_error("A file path is needed.", focus=path)
            return None
        target, database_url = path.value.strip(), desk(self.app).database.url

        def call(_session: Session, _actor: User, _clock: Clock) -> Path:
            return desk_reports.export_report(report, fmt, target, database_url=database_url)

        return call

    def _done(self, result: Path) -> None:
        if self.remote == session_kind.WEB:
            # The browser's download; only the web driver sends it to the user (elsewhere
            # Textual would save a copy in the server account's Downloads).
            self.app.deliver_text(result, save_filename=result.name, name=self.DELIVERY_NAME)
        super()._done(result)
