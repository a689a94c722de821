"""The Textual application. Embeddable: `ITSMApp(database_url=..., username=..., clock=...)`."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import App

from itsm_tui.clock import Clock, SystemClock
from itsm_tui.services import directory, leases
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import User
from itsm_tui.workers import sla_evaluator


class ITSMApp(App[None]):
    # All styling lives in tcss files, one per feature, loaded in name order.
    CSS_PATH = sorted(str(path) for path in (Path(__file__).parent / "styles").glob("*.tcss"))
    TITLE = "itsm-tui"

    def __init__(
        self,
        *,
        database_url: str,
        username: str,
        clock: Clock | None = None,
        run_evaluator: bool = True,
        evaluator_interval_s: float = sla_evaluator.DEFAULT_INTERVAL_S,
        auto_close_days: int = sla_evaluator.DEFAULT_AUTO_CLOSE_DAYS,
    ) -> None:
        super().__init__()
        self.clock: Clock = clock or SystemClock()
        self.database: Database = open_database(database_url)
        with self.database.session() as session:
            self.actor: User = directory.resolve_actor(session, self.clock, username)
        self.sub_title = f"{self.actor.username} ({self.actor.role}) · {self.database.label}"
        self.run_evaluator = run_evaluator
        self.evaluator_interval_s = evaluator_interval_s
        self.auto_close_days = auto_close_days
        self._evaluator_holder = sla_evaluator.holder_name()

    def on_mount(self) -> None:
        from itsm_tui.screens.incident_list import IncidentListScreen

        self.push_screen(IncidentListScreen())
        if self.run_evaluator:
            # The desk keeps SLAs moving when no `itsm worker` runs: whoever holds the lease
            # evaluates, everyone else's pass returns at once.
            self.evaluate_slas()
            self.set_interval(self.evaluator_interval_s, self.evaluate_slas)

    @work(thread=True, exclusive=True, group="sla-evaluator", exit_on_error=False)
    def evaluate_slas(self) -> None:
        sla_evaluator.run_once(
            self.database,
            self.clock,
            holder=self._evaluator_holder,
            interval_s=self.evaluator_interval_s,
            auto_close_days=self.auto_close_days,
        )

    def on_unmount(self) -> None:
        if self.run_evaluator:
            with self.database.session() as session:
                leases.release(session, leases.SLA_EVALUATOR, self._evaluator_holder)
        self.database.dispose()
