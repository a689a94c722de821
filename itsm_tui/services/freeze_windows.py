"""Freeze windows: periods with no changes (globally or for one service) unless a change
manager overrides with a reason. Managed by change managers and admins, audited.

Change scheduling reads them through `conflict_windows`, in the domain's terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain import conflicts
from itsm_tui.domain.enums import RecordType, Role
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import service_by_name
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.history import record_write
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import AwareDateTime, Input, LongText, Name
from itsm_tui.store.models import FreezeWindow, Service, User

FREEZE_ROLES = frozenset({Role.CHANGE_MANAGER, Role.ADMIN})


class FreezeCreate(Input):
    name: Annotated[Name, Field(max_length=100)]
    starts_at: AwareDateTime
    ends_at: AwareDateTime
    service: Name | None = None  # None: every service
    reason: LongText = ""

    @model_validator(mode="after")
    def _ordered(self) -> FreezeCreate:
        if not self.starts_at < self.ends_at:
            raise ValueError("a freeze window must start before it ends")
        return self


@dataclass(frozen=True)
class FreezeRecord:
    name: str
    starts_at: datetime
    ends_at: datetime
    service: str | None
    reason: str


def add_freeze(session: Session, actor: User, clock: Clock, data: FreezeCreate) -> FreezeRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        _require(actor, "add freeze windows")
        if _find(session, data.name) is not None:
            raise ValidationFailed(f"a freeze window named '{data.name}' already exists")
        service = service_by_name(session, data.service) if data.service else None
        row = FreezeWindow(
            name=data.name,
            service_id=service.id if service else None,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            reason=data.reason,
            created_by_id=actor.id,
            created_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        record = _record(row, service.name if service else None)
        record_write(
            session,
            record_type=RecordType.FREEZE_WINDOW,
            record_id=row.id,
            number=None,
            action="create",
            actor=actor,
            at=now,
            changes={
                "name": (None, record.name),
                "starts_at": (None, record.starts_at),
                "ends_at": (None, record.ends_at),
                "service": (None, record.service),
                "reason": (None, record.reason or None),
            },
        )
    return record


def remove_freeze(session: Session, actor: User, clock: Clock, name: str) -> None:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        _require(actor, "remove freeze windows")
        row = _find(session, name)
        if row is None:
            raise NotFound(f"no freeze window named '{name}'")
        assert row.id is not None
        record_write(
            session,
            record_type=RecordType.FREEZE_WINDOW,
            record_id=row.id,
            number=None,
            action="delete",
            actor=actor,
            at=now,
            changes={"name": (row.name, None)},
        )
        session.delete(row)


def list_freezes(
    session: Session, *, overlapping: conflicts.Window | None = None
) -> list[FreezeRecord]:
    """Every freeze window by start, or those overlapping a window (half-open)."""
    statement = select(FreezeWindow, Service.name).join(
        Service, col(Service.id) == col(FreezeWindow.service_id), isouter=True
    )
    if overlapping is not None:
        statement = statement.where(
            col(FreezeWindow.starts_at) < overlapping.end,
            col(FreezeWindow.ends_at) > overlapping.start,
        )
    rows = session.exec(statement.order_by(col(FreezeWindow.starts_at), col(FreezeWindow.name)))
    return [_record(row, service) for row, service in rows.all()]


def conflict_windows(session: Session, window: conflicts.Window) -> list[conflicts.FreezeWindow]:
    """The freezes overlapping `window`, as the conflict rules take them."""
    return [
        conflicts.FreezeWindow(
            name=record.name,
            window=conflicts.Window(record.starts_at, record.ends_at),
            service=record.service,
            reason=record.reason,
        )
        for record in list_freezes(session, overlapping=window)
    ]


def _require(actor: User, what: str) -> None:
    if Role(actor.role) not in FREEZE_ROLES:
        raise PermissionDenied(f"only change managers and admins {what}")


def _find(session: Session, name: str) -> FreezeWindow | None:
    return session.exec(select(FreezeWindow).where(FreezeWindow.name == name.strip())).first()


def _record(row: FreezeWindow, service: str | None) -> FreezeRecord:
    return FreezeRecord(
        name=row.name,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        service=service,
        reason=row.reason,
    )
