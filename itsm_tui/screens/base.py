"""The frame shared by the desk's top-level screens: header, body, footer, a ticking clock.

Subclasses compose their body in `compose_body`; the header shows the section, the user, the
database, the unread inbox count (pushed by the app) and the injected clock's time.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.screen import Screen

from itsm_tui import low_bandwidth
from itsm_tui.screens.context import desk
from itsm_tui.store.models import User
from itsm_tui.widgets.desk_footer import DeskFooter
from itsm_tui.widgets.desk_header import DeskHeader
from itsm_tui.widgets.major_banner import MajorBanner
from itsm_tui.workers.feed_health import LinkStatus

ResultT = TypeVar("ResultT")


class DeskScreen(Screen[ResultT], Generic[ResultT]):
    SECTION: ClassVar[str] = "Desk"

    def compose(self) -> ComposeResult:
        app = desk(self.app)
        yield DeskHeader(
            self.section,
            user=app.actor.username,
            role=app.actor.role,
            database=app.database.label,
        )
        yield MajorBanner(app.database)  # shown only while a major incident is open
        yield from self.compose_body()
        yield DeskFooter()

    @property
    def section(self) -> str:
        """What the header names as the place; screens about one record name it."""
        return self.SECTION

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self._tick_header()
        # On a slow link the clock shows minutes and is checked every few seconds: the
        # header then repaints once a minute instead of every second.
        slow = self._low_bandwidth
        self.set_interval(low_bandwidth.HEADER_TICK_S if slow else 1.0, self._tick_header)
        signal = getattr(self.app, "inbox_changed", None)
        if signal is not None:
            signal.subscribe(self, self._show_unread)
            self._show_unread(getattr(self.app, "unread", 0))
        shown = getattr(self.app, "database_shown", None)
        if shown is not None:
            shown.subscribe(self, self._show_database)
            self._show_database(self.app.database_detail)  # type: ignore[attr-defined]
        link = getattr(self.app, "link_changed", None)
        if link is not None:
            link.subscribe(self, self._show_link)
            self._show_link(self.app.link_status)  # type: ignore[attr-defined]
        actor = getattr(self.app, "actor_changed", None)
        if actor is not None:
            actor.subscribe(self, self._show_actor)

    @property
    def _low_bandwidth(self) -> bool:
        return bool(getattr(self.app, "low_bandwidth", False))

    def _tick_header(self) -> None:
        now = desk(self.app).clock.now()
        shown = "%Y-%m-%d %H:%M UTC" if self._low_bandwidth else "%Y-%m-%d %H:%M:%S UTC"
        self.query_one(DeskHeader).now_text = now.strftime(shown)

    def _show_unread(self, count: int) -> None:
        self.query_one(DeskHeader).unread = count

    def _show_database(self, detail: str) -> None:
        self.query_one(DeskHeader).detail = detail

    def _show_actor(self, actor: User) -> None:
        header = self.query_one(DeskHeader)
        header.role = actor.role
        header.refresh()

    def _show_link(self, status: LinkStatus) -> None:
        self.query_one(DeskHeader).link_text = status.text
