"""Turns the change feed into batches of changed incident numbers for the app.

The app runs `FeedListener.poll` every quarter second in a thread worker and publishes each
batch to its screens; a batch covers every event since the last poll, so a burst of writes
costs one window re-read per screen, not one per event. On PostgreSQL `wait` sleeps on
LISTEN/NOTIFY instead and returns within milliseconds of a writer's commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from itsm_tui.domain.enums import RecordType
from itsm_tui.store.database import Database
from itsm_tui.store.feed import events_since, latest_event_id, supports_listen

if TYPE_CHECKING:
    from itsm_tui.store.feed_notify import FeedNotifications

POLL_INTERVAL_S = 0.25
CREATED_ACTIONS = frozenset({"create"})


@dataclass(frozen=True)
class FeedBatch:
    """Incidents changed since the last poll: `changed` holds every number touched, `created`
    the new ones in the order they arrived; `other` is true when non-incident records (users,
    SLA policies, notifications' sources) changed too."""

    changed: frozenset[str]
    created: tuple[str, ...] = ()
    other: bool = False


class FeedListener:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._notifications: FeedNotifications | None = None
        with database.session() as session:
            self.last_id = latest_event_id(session)

    @property
    def pushes(self) -> bool:
        """True when writers wake this listener (PostgreSQL), false when it must poll."""
        return supports_listen(self.database.url)

    def wait(self, timeout_s: float) -> FeedBatch | None:
        """The next batch as soon as there is one, or None after `timeout_s`.

        PostgreSQL: sleeps on LISTEN, woken by the writer's commit. SQLite: polls every
        POLL_INTERVAL_S. Database errors propagate; the next call reconnects.
        """
        deadline = time.monotonic() + timeout_s
        if self.pushes:
            self._listen()  # before the first read, so no commit after it goes unheard
        while True:
            batch = self.poll()
            if batch is not None:
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if self._notifications is not None:
                self._notifications.wait(remaining)
            else:
                time.sleep(min(remaining, POLL_INTERVAL_S))

    def _listen(self) -> None:
        from itsm_tui.store.feed_notify import FeedNotifications

        if self._notifications is None:
            self._notifications = FeedNotifications(self.database.url)
        self._notifications.connect()

    def close(self) -> None:
        if self._notifications is not None:
            self._notifications.close()
            self._notifications = None

    def poll(self) -> FeedBatch | None:
        """Events since the last poll as one batch, or None when nothing happened."""
        changed: set[str] = set()
        created: list[str] = []
        other = False
        with self.database.session() as session:
            while events := events_since(session, self.last_id, limit=1000):
                for event in events:
                    if event.record_type == RecordType.INCIDENT.value and event.record_number:
                        changed.add(event.record_number)
                        if event.action in CREATED_ACTIONS:
                            created.append(event.record_number)
                    else:
                        other = True
                assert events[-1].id is not None
                self.last_id = events[-1].id
        if not changed and not other:
            return None
        return FeedBatch(frozenset(changed), tuple(created), other)
