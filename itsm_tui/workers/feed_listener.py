"""Turns the change feed into batches of changed incident numbers for the app.

The app runs `FeedListener.poll` every quarter second in a thread worker and publishes each
batch to its screens; a batch covers every event since the last poll, so a burst of writes
costs one window re-read per screen, not one per event.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsm_tui.domain.enums import RecordType
from itsm_tui.store.database import Database
from itsm_tui.store.feed import events_since, latest_event_id

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
        with database.session() as session:
            self.last_id = latest_event_id(session)

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
