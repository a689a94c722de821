"""Service-layer test helpers shared by the service test modules (incidents, RBAC, directory):
`mark`/`written` (rows appended since a moment), `footprint`/`refused` (prove a refusal wrote
nothing), `make` (create an incident) and `drive` (move it to a state the shortest legal way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from itsm_tui.services import incidents
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.incidents import IncidentCreate
from itsm_tui.services.records import IncidentRecord
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import AuditEntry, FeedEvent, JournalEntry
from tests.conftest import Desk


@dataclass(frozen=True)
class Mark:
    """The newest audit, feed and journal ids at some moment."""

    audit: int
    feed: int
    journal: int


@dataclass
class Written:
    """Rows appended since a `Mark`."""

    audit: list[AuditEntry]
    feed: list[FeedEvent]
    journal: list[JournalEntry]

    def fields(self) -> dict[str, tuple[str | None, str | None]]:
        """field -> (old, new), asserting each field was audited once."""
        result: dict[str, tuple[str | None, str | None]] = {}
        for entry in self.audit:
            assert entry.field not in result, f"{entry.field} audited twice"
            result[entry.field] = (entry.old_value, entry.new_value)
        return result

    def one_event(self) -> FeedEvent:
        assert len(self.feed) == 1, [(e.action, e.record_number) for e in self.feed]
        return self.feed[0]


def mark(database: Database) -> Mark:
    with database.session() as s:
        return Mark(
            *(
                s.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one()
                for model in (AuditEntry, FeedEvent, JournalEntry)
            )
        )


def written(database: Database, since: Mark) -> Written:
    with database.session() as s:
        return Written(
            audit=list(
                s.scalars(
                    select(AuditEntry).where(AuditEntry.id > since.audit).order_by(AuditEntry.id)
                )
            ),
            feed=list(
                s.scalars(select(FeedEvent).where(FeedEvent.id > since.feed).order_by(FeedEvent.id))
            ),
            journal=list(
                s.scalars(
                    select(JournalEntry)
                    .where(JournalEntry.id > since.journal)
                    .order_by(JournalEntry.id)
                )
            ),
        )


def footprint(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read through a separate session: equal footprints before and
    after a call mean the call wrote nothing at all."""
    with database.session() as s:
        return {
            name: [
                tuple(row)
                for row in s.execute(select(table).order_by(*table.primary_key.columns)).all()
            ]
            for name, table in SQLModel.metadata.tables.items()
        }


def refused(
    database: Database,
    error: type[ServiceError],
    call: Callable[[], object],
    match: str | None = None,
) -> ServiceError:
    """Run `call`, expect `error`, and prove nothing was written."""
    before = footprint(database)
    with pytest.raises(error, match=match) as info:
        call()
    assert footprint(database) == before, f"{type(info.value).__name__} left rows behind"
    return info.value


def make(desk: Desk, actor: str = "alice", **fields: Any) -> IncidentRecord:
    values: dict[str, Any] = {
        "title": "Mail bounces",
        "impact": 2,
        "urgency": 2,
        "group": "Service Desk",
    }
    values.update(fields)
    values = {k: v for k, v in values.items() if v is not None}
    return incidents.create_incident(
        desk.session, desk[actor], desk.clock, validate(IncidentCreate, **values)
    )


HOLD = {"hold_reason": "awaiting_caller"}
RESOLUTION = {"resolution_code": "solved_workaround", "resolution_notes": "restarted"}
PATHS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "new": [],
    "in_progress": [("in_progress", {})],
    "on_hold": [("on_hold", HOLD)],
    "resolved": [("resolved", RESOLUTION)],
    "closed": [("resolved", RESOLUTION), ("closed", {})],
    "cancelled": [("cancelled", {})],
}


def drive(desk: Desk, number: str, state: str, actor: str = "sue") -> IncidentRecord:
    """Move a new incident to `state` the shortest legal way."""
    record = incidents.get_incident(desk.session, number)
    for target, extra in PATHS[state]:
        record = incidents.transition(
            desk.session, desk[actor], desk.clock, number, target, **extra
        )
    assert record.state == state
    return record
