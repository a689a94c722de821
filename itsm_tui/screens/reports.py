"""The reports screen: a list of reports, a period, and the chosen report as a table.

Moving through the list shows each report; `p` cycles the period (7 days, 30 days, a
quarter); enter on a row lists the records behind it, and enter there opens the incident,
change or problem; `x` exports the report (CSV, JSON or Markdown) and a toast names the
file. The report is read again whenever the change feed reports a change. Figures come
from `services.desk_reports` in a worker; this screen only draws them, user text (service,
category, group, change titles) as `Text`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from itsm_tui import session_kind
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.screens.report_dialogs import DrillDownDialog, ExportDialog
from itsm_tui.services import desk_reports
from itsm_tui.services.desk_reports import (
    PERIODS,
    TITLES,
    ColumnKind,
    DeskReport,
    DrillRecord,
    ExportFormat,
    ReportKey,
)

PERIOD_LABELS = list(PERIODS)
# Short names for the list (the table's heading gives the full title).
LIST_LABELS: dict[ReportKey, str] = {
    ReportKey.SLA: "SLA compliance",
    ReportKey.BACKLOG: "Backlog",
    ReportKey.SERVICES: "Per service",
    ReportKey.CATEGORIES: "Per category",
    ReportKey.CHANGE_OUTCOMES: "Change success",
    ReportKey.CAUSING_CHANGES: "Changes → incidents",
    ReportKey.PROBLEMS: "Problems",
}


class ReportsScreen(DeskScreen[None]):
    SECTION = "Reports"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("p", "period", "Period"),
        Binding("x", "export", "Export"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.key = ReportKey.SLA
        self.period = desk_reports.DEFAULT_PERIOD
        self.report: DeskReport | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="reports-body"):
            yield OptionList(
                *[Option(Text(LIST_LABELS[key]), id=key.value) for key in TITLES],
                id="reports-list",
            )
            with Vertical(id="reports-main"):
                yield Static(id="reports-heading")
                yield DataTable(id="reports-table", cursor_type="row")

    def on_mount(self) -> None:
        super().on_mount()
        options = self.query_one("#reports-list", OptionList)
        options.highlighted = 0
        options.focus()
        self.load()
        desk(self.app).feed_changed.subscribe(self, self._on_feed)

    def _on_feed(self, batch: FeedBatch) -> None:
        """Any record change may move a figure: the report is read again (cheap; the
        cursor stays on its row)."""
        self.load()

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def load(self) -> None:
        app = desk(self.app)
        key, days = self.key, PERIODS[self.period]
        with app.database.session() as session:
            report = desk_reports.build_report(session, app.clock.now(), key, days)
        self.app.call_from_thread(self._show, report)

    def _show(self, report: DeskReport) -> None:
        if report.key != self.key.value:
            return  # a slower load for a report no longer chosen
        heading = Text(report.title, style="bold")
        heading.append("  ")
        if report.start is None:
            heading.append("open now (the period does not apply)", style="dim")
        else:
            heading.append(f"last {self.period}", style="dim")
        heading.append("\n")
        heading.append(desk_reports.period_text(report), style="dim")
        self.query_one("#reports-heading", Static).update(heading)
        table = self.query_one("#reports-table", DataTable)
        same = self.report is not None and self.report.key == report.key
        keep = table.cursor_row if same else 0
        self.report = report
        table.clear(columns=True)
        for column in report.columns:
            justify = "left" if column.kind is ColumnKind.TEXT else "right"
            table.add_column(Text(column.title, justify=justify), key=column.key)
        for index, row in enumerate(report.rows):
            table.add_row(
                *[
                    Text(
                        desk_reports.cell_text(column, value),
                        justify="left" if column.kind is ColumnKind.TEXT else "right",
                    )
                    for column, value in zip(report.columns, row.cells, strict=True)
                ],
                key=str(index),
            )
        if report.rows:
            table.move_cursor(row=min(keep, len(report.rows) - 1))
        else:
            heading.append("\nNothing to report for this period.")
            self.query_one("#reports-heading", Static).update(heading)

    @on(OptionList.OptionHighlighted, "#reports-list")
    def _report_chosen(self, event: OptionList.OptionHighlighted) -> None:
        key = ReportKey(event.option.id or ReportKey.SLA.value)
        if key is not self.key:
            self.key = key
            self.load()

    @on(OptionList.OptionSelected, "#reports-list")
    def _report_entered(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#reports-table", DataTable).focus()

    # ------------------------------------------------------------------ actions

    def action_close(self) -> None:
        self.dismiss(None)

    def action_period(self) -> None:
        self.period = PERIOD_LABELS[(PERIOD_LABELS.index(self.period) + 1) % len(PERIOD_LABELS)]
        self.notify(f"Period: last {self.period}")
        self.load()

    def action_reload(self) -> None:
        self.load()

    @on(DataTable.RowSelected, "#reports-table")
    def _drill(self, event: DataTable.RowSelected) -> None:
        if self.report is None:
            return
        row = self.report.rows[int(event.row_key.value or 0)]
        label = desk_reports.cell_text(self.report.columns[0], row.cells[0])
        title = f"{self.report.title}: {label} ({len(row.records)})"
        self.app.push_screen(DrillDownDialog(title, row.records), self._open)

    def _open(self, record: DrillRecord | None) -> None:
        if record is None:
            return
        openers = {
            "incident": self.app.open_incident,  # type: ignore[attr-defined]
            "change": getattr(self.app, "open_change", None),
            "problem": getattr(self.app, "open_problem", None),
        }
        opener = openers.get(record.kind)
        if opener is not None:
            opener(record.number)

    def action_export(self) -> None:
        report = self.report
        if report is None:
            return
        now = desk(self.app).clock.now()

        def default_for(fmt: ExportFormat) -> Path:
            return desk_reports.default_export_path(report, fmt, now)

        def exported(path: Path | None) -> None:
            if path is None:
                return
            if session_kind.is_remote():  # a remote user learns no server path, only the name
                self.notify(f"Report saved as {path.name}", title="Exported", markup=False)
            else:
                self.notify(f"Report saved to {path}", title="Exported", markup=False)

        self.app.push_screen(ExportDialog(report, default_for), exported)
