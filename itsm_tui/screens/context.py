"""What every screen needs from the app, typed, so screens never reach into `App` ad hoc.

Screens call services in thread workers with `desk(self.app)`: the database (one session per
call), the acting user and the injected clock. Services stay the only place with rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from textual.app import App

from itsm_tui.clock import Clock
from itsm_tui.store.database import Database
from itsm_tui.store.models import User
from itsm_tui.workers.feed_listener import FeedBatch

if TYPE_CHECKING:
    from textual.signal import Signal

__all__ = ["DeskApp", "FeedBatch", "desk"]


class DeskApp(Protocol):
    database: Database
    actor: User
    clock: Clock
    feed_changed: Signal[FeedBatch]

    def open_incident(self, number: str) -> None: ...

    def open_incident_form(self, number: str | None = None) -> None: ...

    def open_caller_incidents(self, caller: str) -> None: ...

    def open_sla_policies(self) -> None: ...

    def open_reports(self) -> None: ...


def desk(app: App[object]) -> DeskApp:
    return cast(DeskApp, app)
