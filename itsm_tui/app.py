"""The Textual application. Embeddable: `ITSMApp(database_url=..., username=..., clock=...)`."""

from __future__ import annotations

from textual.app import App

from itsm_tui.clock import Clock, SystemClock
from itsm_tui.services import directory
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import User


class ITSMApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "itsm-tui"

    def __init__(
        self,
        *,
        database_url: str,
        username: str,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.clock: Clock = clock or SystemClock()
        self.database: Database = open_database(database_url)
        with self.database.session() as session:
            self.actor: User = directory.resolve_actor(session, self.clock, username)
        self.sub_title = f"{self.actor.username} ({self.actor.role}) · {self.database.label}"

    def on_mount(self) -> None:
        from itsm_tui.screens.incident_list import IncidentListScreen

        self.push_screen(IncidentListScreen())

    def on_unmount(self) -> None:
        self.database.dispose()
