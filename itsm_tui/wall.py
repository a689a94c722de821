"""NOC wall mode (`itsm wall`): a read-only, full-screen rotation of large-type panels.

It takes no input and never prompts (no command palette, no quit confirmation; q and ctrl+c
quit), so it can run unattended on a screen across the room. Figures are read in a thread
worker every `refresh_s` seconds. When a read fails the wall keeps the last figures, dimmed,
says "reconnecting…" and tries again with a doubling delay (up to `retry_max_s`); the first
read that works brings it back by itself. An open major incident covers the panels until it
is resolved.

The wall's user is checked at every read, so a deactivated user's wall reads nothing more
within `refresh_s`. It does not exit: it runs unattended, and an exit would leave the room's
screen on the shell that started it. It clears its panels instead ("no access", with the
reason) and keeps retrying, so reactivating the user brings it back by itself.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import ContentSwitcher, Static

from itsm_tui import low_bandwidth as low_bandwidth_settings
from itsm_tui.clock import Clock, SystemClock
from itsm_tui.remote.remote_safe_app import RemoteSafeApp
from itsm_tui.services.wall_figures import WallFigures
from itsm_tui.widgets.wall import VIEWS, ChangesPanel, MajorTakeover, QueuePanel, SlaPanel
from itsm_tui.workers.wall_reader import WallReader, WallRefused, WallUnavailable

DEFAULT_ROTATE_S = 15.0
DEFAULT_REFRESH_S = 5.0
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
TALL_ROWS = 40
TITLES = {"queue": "Incidents", "sla": "Service levels", "changes": "Changes"}


class WallHeader(Static):
    """One line: the wall, the panel showing, the database, connection state and the time."""

    def show(self, view: str, database: str, status: Text, now: datetime, zone: ZoneInfo) -> None:
        line = Text()
        line.append(" itsm NOC wall ", style="bold reverse")
        line.append(f" {TITLES[view]} ", style="bold")
        line.append(f"· {database} ")
        line.append_text(status)
        clock = now.astimezone(zone).strftime(" %Y-%m-%d %H:%M %Z ")
        spare = self.size.width - line.cell_len - len(clock)
        if spare < 1:
            line.truncate(max(0, self.size.width - len(clock) - 1), overflow="ellipsis")
            spare = 1
        line.append(" " * spare)
        line.append(clock, style="bold")
        self.update(line)


class WallApp(RemoteSafeApp[None]):
    # The compliance gauges are the SLA dashboard's, styled by its sheet.
    CSS_PATH = [str(Path(__file__).parent / "styles" / name) for name in ("sla.tcss", "wall.tcss")]
    TITLE = "itsm NOC wall"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", show=False),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        *,
        database_url: str,
        username: str,
        clock: Clock | None = None,
        rotate_s: float = DEFAULT_ROTATE_S,
        views: tuple[str, ...] = VIEWS,
        timezone: str = "UTC",
        refresh_s: float = DEFAULT_REFRESH_S,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        low_bandwidth: bool = False,
    ) -> None:
        super().__init__()
        self.low_bandwidth = low_bandwidth
        if low_bandwidth:  # slow links: no animations, ANSI colours, a slower header clock
            low_bandwidth_settings.apply(self)
        unknown = [view for view in views if view not in VIEWS]
        if unknown or not views:
            raise ValueError(f"unknown wall views {unknown}; choose from {', '.join(VIEWS)}")
        self.clock: Clock = clock or SystemClock()
        self.views = views
        self.view = views[0]
        self.rotate_s = rotate_s
        self.refresh_s = refresh_s
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.reader = WallReader(database_url, username, self.clock, timezone=timezone)
        self.figures: WallFigures | None = None
        self.failures = 0
        self.problem: str | None = None
        self.refused = False  # the wall's user may not read: nothing is shown

    def compose(self) -> ComposeResult:
        yield WallHeader(id="wall-header")
        with ContentSwitcher(initial=f"wall-{self.view}", id="wall-panels"):
            yield QueuePanel(id="wall-queue")
            yield SlaPanel(id="wall-sla")
            yield ChangesPanel(timezone=self.timezone, id="wall-changes")
        takeover = MajorTakeover(id="wall-major")
        takeover.display = False
        yield takeover

    def on_mount(self) -> None:
        self._fit(self.size.height)
        self._draw_header()
        # the header shows minutes: a slow link only needs it checked every few seconds
        tick = low_bandwidth_settings.HEADER_TICK_S if self.low_bandwidth else 1.0
        # The timers belong to the screen holding the panels: Textual stops a screen's timers
        # before it removes the screen's widgets, but the app's only after every screen has
        # gone, so an app-owned tick could land mid-teardown (NoMatches under load).
        self.screen.set_interval(tick, self._draw_header)
        if len(self.views) > 1:
            self.screen.set_interval(self.rotate_s, self.rotate)
        self.read_figures()

    def on_resize(self) -> None:
        self._fit(self.size.height)

    def _fit(self, height: int) -> None:
        """A tall wall has room for the per-priority gauges (there are no CSS media queries)."""
        self.screen.set_class(height >= TALL_ROWS, "-tall")

    # ------------------------------------------------------------------ rotation

    @property
    def _live(self) -> bool:
        """False once teardown has begun. A read handed back from the reader thread (and any
        tick) runs in its own task and can still land then, after the panels are gone."""
        return self.is_running

    def rotate(self) -> None:
        if not self._live:
            return
        self.view = self.views[(self.views.index(self.view) + 1) % len(self.views)]
        self.query_one(ContentSwitcher).current = f"wall-{self.view}"
        self._draw_header()

    # ------------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group="wall-read", exit_on_error=False)
    def read_figures(self) -> None:
        try:
            figures = self.reader.read()
        except WallUnavailable as error:
            self.call_from_thread(self._lost, str(error), refused=isinstance(error, WallRefused))
            return
        self.call_from_thread(self._show, figures)

    def _read_again(self) -> None:
        if self._live:  # no new read (and connection) while the wall closes
            self.read_figures()

    def _show(self, figures: WallFigures) -> None:
        if not self._live:
            return
        self.figures = figures
        self.failures = 0
        self.problem = None
        self.refused = False
        self.query_one(QueuePanel).show(figures)
        self.query_one(SlaPanel).show(figures)
        self.query_one(ChangesPanel).show(figures)
        self.query_one(MajorTakeover).show(figures.majors, figures.read_at)
        self.query_one("#wall-panels").display = figures.majors.total == 0
        self.query_one("#wall-panels").remove_class("-stale")
        self.query_one(MajorTakeover).remove_class("-stale")
        self._draw_header()
        self.screen.set_timer(self.refresh_s, self._read_again)

    def _lost(self, reason: str, *, refused: bool = False) -> None:
        """Keep the last figures, dimmed, and retry with a doubling delay; a refused read
        (the wall's user was deactivated) clears them: they are no longer theirs to show."""
        if not self._live:
            return
        self.failures += 1
        self.problem = reason
        self.refused = refused
        self.query_one("#wall-panels").add_class("-stale")
        self.query_one(MajorTakeover).add_class("-stale")
        if refused:
            self.figures = None
            self.query_one("#wall-panels").display = False
            self.query_one(MajorTakeover).display = False
        self._draw_header()
        delay = min(self.retry_max_s, self.retry_first_s * 2 ** (self.failures - 1))
        self.screen.set_timer(delay, self._read_again)

    @property
    def reconnecting(self) -> bool:
        return self.problem is not None

    def _draw_header(self) -> None:
        if not self._live:
            return
        status = Text()
        if self.problem is not None:
            state = " no access " if self.refused else " reconnecting… "
            status.append(state, style="bold reverse")
            status.append(f" {self.problem}")
        elif self.figures is None:
            status.append("loading…")
        self.query_one(WallHeader).show(
            self.view, self.reader.label, status, self.clock.now(), self.zone
        )

    def on_unmount(self) -> None:
        self.reader.close()
