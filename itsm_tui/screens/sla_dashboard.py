"""The SLA dashboard (mode 4): how the desk meets its SLA targets over a period, at a glance.

The figures are `services.sla_dashboard.sla_dashboard`'s, read in a thread worker in one
transaction; this screen only lays them out: the clocks as they stand now, overall gauges,
the incidents at risk (enter opens one), the daily compliance as a sparkline, and a gauge per
priority and per service for response and resolution. `p` walks the periods (today, 7 days,
30 days, quarter), in the desk's time zone. It reloads whenever the change feed reports a
write and whenever the injected clock enters a new minute (clocks run out as time passes,
with nothing written). The body scrolls at 80x24 (space pages through it, wrapping to the
top); from 160 columns the gauge grids widen to four columns.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.events import Resize
from textual.widgets import OptionList, Sparkline, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui.display import printable, user_text
from itsm_tui.screens.base import DeskScreen
from itsm_tui.screens.context import FeedBatch, desk
from itsm_tui.services.reports import AT_RISK_PERCENT, AtRiskClock
from itsm_tui.services.sla_dashboard import ComplianceLine, Period, SlaDashboard, sla_dashboard
from itsm_tui.widgets.compliance_gauge import ComplianceGauge

LOAD_GROUP = "sla-dashboard-load"
WIDE_COLUMNS = 160  # from this width the gauge grids show four gauges a row
TIME_FORMAT = "%m-%d %H:%M"
RISK_HEADING = f"At risk now (running, {AT_RISK_PERCENT}% or more used; enter opens)"


def daily_series(board: SlaDashboard) -> list[float]:
    """The sparkline's values: a day that decided no clock repeats the day before (100 at
    the start), so a quiet day reads as "no change" rather than as a drop to zero."""
    values: list[float] = []
    last = 100.0
    for day in board.daily:
        if day.percent is not None:
            last = day.percent
        values.append(last)
    return values


def at_risk_option(clock: AtRiskClock) -> Option:
    line = Text.assemble(
        (f"{clock.number:<10}", "bold"),
        f" P{clock.priority} {clock.kind:<10} ",
        ("✗ BREACHED " if clock.stage == "breached" else "! at risk  "),
        f"{clock.percent_used:5.0f}% due {clock.due_at.strftime(TIME_FORMAT)} UTC  ",
        user_text(clock.title),
        no_wrap=True,
        overflow="ellipsis",
    )
    return Option(line, id=f"{clock.number}:{clock.kind}")


class SlaDashboardScreen(DeskScreen[None]):
    SECTION = "SLA"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "next_period", "Period"),
        Binding("enter", "open", "Open incident"),
        Binding("space", "page_body", "More"),
        Binding("P", "policies", "Policies"),
        Binding("R", "reports", "Reports"),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.period = Period.TODAY
        self.board: SlaDashboard | None = None
        self._minute: tuple[int, ...] | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sla-body"):
            yield Static(id="sla-title")
            yield Static(id="sla-counts")
            yield Static("Overall", classes="sla-heading")
            yield Grid(id="sla-overall", classes="sla-gauges")
            yield Static(RISK_HEADING, classes="sla-heading")
            yield OptionList(id="sla-at-risk")
            yield Static("Daily compliance", classes="sla-heading", id="sla-daily-heading")
            yield Sparkline([], id="sla-daily", summary_function=min)
            yield Static(id="sla-daily-caption")
            yield Static("By priority", classes="sla-heading")
            yield Grid(id="sla-priorities", classes="sla-gauges")
            yield Static("By service", classes="sla-heading")
            yield Grid(id="sla-services", classes="sla-gauges")
        yield Static(id="sla-status")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#sla-at-risk", OptionList).focus()
        self._draw_title()
        self._minute = desk(self.app).clock.now().timetuple()[:5]
        self.load()
        self.set_interval(1.0, self._tick)
        signal = getattr(self.app, "feed_changed", None)
        if signal is not None:
            signal.subscribe(self, self.on_feed)

    def on_screen_resume(self) -> None:
        if self.board is not None:
            self.load()

    def on_feed(self, batch: FeedBatch) -> None:
        if batch.changed or batch.other:
            self.load()

    def _tick(self) -> None:
        """Reload when the injected clock enters a new minute: clocks run out with time."""
        now = desk(self.app).clock.now()
        minute = now.timetuple()[:5]
        if minute != self._minute:
            self.load()
        self._minute = minute

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width >= WIDE_COLUMNS, "-wide")

    # ------------------------------------------------------------------ loading

    @property
    def zone(self) -> str:
        return str(getattr(self.app, "timezone", "UTC"))

    def load(self) -> None:
        self._read(self.period, self.zone)

    @work(thread=True, exclusive=True, group=LOAD_GROUP, exit_on_error=False)
    def _read(self, period: Period, zone: str) -> None:
        app = desk(self.app)
        with app.database.session() as session:
            board = sla_dashboard(session, app.clock.now(), period, zone)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._loaded, board)

    async def _loaded(self, board: SlaDashboard) -> None:
        if board.period is not self.period or not self.is_attached:
            return
        self.board = board
        self._draw_title()
        self._draw_counts(board)
        await self._fill("#sla-overall", [board.overall])
        await self._fill("#sla-priorities", board.priorities)
        await self._fill("#sla-services", board.services)
        self._draw_at_risk(board)
        self._draw_daily(board)
        self.query_one("#sla-status", Static).update("")

    def on_worker_state_changed(self, event: Worker[Any].StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == LOAD_GROUP:
            status = self.query_one("#sla-status", Static)
            error = event.worker.error
            status.update(user_text(f"Could not load the dashboard: {error} (r retries)"))

    # ------------------------------------------------------------------ drawing

    def _draw_title(self) -> None:
        line = Text(" SLA dashboard ", style="bold")
        line.append(f"· {self.period.label} ", style="reverse")
        board = self.board
        if board is not None and board.period is self.period:
            first = board.start.strftime("%Y-%m-%d")
            line.append(f" from {first} ({printable(board.zone)})")
            line.append(f" · target {board.target_percent:g}%")
            line.append(" · ▲▼ vs previous", style="dim")
        self.query_one("#sla-title", Static).update(line)

    def _draw_counts(self, board: SlaDashboard) -> None:
        now = board.now
        line = Text.assemble(
            " Now: ",
            (f"✓ {now.in_progress} in progress", "bold"),
            "  ",
            (f"! {now.warning} at warning", "bold" if now.warning else ""),
            "  ",
            (f"✗ {now.breached} breached", "bold reverse" if now.breached else ""),
            "  ",
            f"‖ {now.paused} paused",
        )
        self.query_one("#sla-counts", Static).update(line)

    async def _fill(self, selector: str, lines: list[ComplianceLine]) -> None:
        grid = self.query_one(selector, Grid)
        await grid.remove_children()
        gauges = [
            ComplianceGauge(f"{line.label} {figures.kind}", figures)
            for line in lines
            for figures in line.kinds()
        ]
        if gauges:
            await grid.mount(*gauges)
        else:
            await grid.mount(Static("Nothing decided in this period.", classes="sla-empty"))

    def _draw_at_risk(self, board: SlaDashboard) -> None:
        listing = self.query_one("#sla-at-risk", OptionList)
        highlighted = listing.highlighted_option.id if listing.highlighted_option else None
        listing.clear_options()
        if not board.at_risk:
            listing.add_option(Option(Text("No running clock is at risk."), disabled=True))
            return
        listing.add_options([at_risk_option(clock) for clock in board.at_risk])
        ids = [f"{c.number}:{c.kind}" for c in board.at_risk]
        listing.highlighted = ids.index(highlighted) if highlighted in ids else 0

    def _draw_daily(self, board: SlaDashboard) -> None:
        self.query_one("#sla-daily", Sparkline).data = daily_series(board)
        decided = [d for d in board.daily if d.percent is not None]
        if not decided:
            caption = Text(" No clock decided in this period.", style="dim")
        else:
            worst = min(decided, key=lambda d: (d.percent, d.day))
            last = decided[-1]
            caption = Text.assemble(
                f" {board.daily[0].day:%m-%d}..{board.daily[-1].day:%m-%d} ",
                f"worst {worst.percent:.1f}% ({worst.day:%m-%d}), ",
                f"latest {last.percent:.1f}% ({last.day:%m-%d}) ",
                (f"· {len(decided)}/{len(board.daily)} days with data", "dim"),
            )
        self.query_one("#sla-daily-caption", Static).update(caption)

    # ------------------------------------------------------------------ actions

    def action_next_period(self) -> None:
        self.period = self.period.following()
        self._draw_title()
        self.load()

    def action_page_body(self) -> None:
        """Page down through the body, back to the top after the end: one key reaches every
        gauge at 80x24 while the at-risk list keeps the focus (it takes the arrow keys)."""
        body = self.query_one("#sla-body", VerticalScroll)
        if body.scroll_y >= body.max_scroll_y:
            body.scroll_home(animate=False)
        else:
            body.scroll_page_down(animate=False)

    def action_reload(self) -> None:
        self.load()

    def action_open(self) -> None:
        listing = self.query_one("#sla-at-risk", OptionList)
        option = listing.highlighted_option
        if option is not None and option.id is not None:
            desk(self.app).open_incident(option.id.split(":", 1)[0])

    @on(OptionList.OptionSelected, "#sla-at-risk")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            desk(self.app).open_incident(event.option.id.split(":", 1)[0])

    def action_policies(self) -> None:
        desk(self.app).open_sla_policies()

    def action_reports(self) -> None:
        desk(self.app).open_reports()
