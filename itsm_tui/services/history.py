"""Audit trail and change feed writes, shared by every service that changes a record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum

from sqlmodel import Session

from itsm_tui.domain.enums import JournalKind, RecordType
from itsm_tui.store.models import AuditEntry, FeedEvent, JournalEntry, User


def audit_value(value: object) -> str | None:
    """Audit rows store text so any field of any record type fits one column."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record_changes(
    session: Session,
    *,
    record_type: RecordType,
    record_id: int,
    actor: User | None,
    at: datetime,
    changes: Mapping[str, tuple[object, object]],
) -> list[AuditEntry]:
    """Append one audit entry per field whose value really changed (old, new)."""
    entries = []
    for field, (old, new) in changes.items():
        old_text, new_text = audit_value(old), audit_value(new)
        if old_text == new_text:
            continue
        entry = AuditEntry(
            record_type=record_type.value,
            record_id=record_id,
            actor_id=actor.id if actor else None,
            field=field,
            old_value=old_text,
            new_value=new_text,
            at=at,
        )
        session.add(entry)
        entries.append(entry)
    return entries


def publish(
    session: Session,
    *,
    record_type: RecordType,
    record_id: int,
    action: str,
    actor: User | None,
    at: datetime,
    number: str | None = None,
) -> FeedEvent:
    """Append the feed event other clients poll for; committed with the change it announces."""
    event = FeedEvent(
        record_type=record_type.value,
        record_id=record_id,
        record_number=number,
        action=action,
        actor_id=actor.id if actor else None,
        at=at,
    )
    session.add(event)
    return event


def journal(
    session: Session,
    *,
    record_type: RecordType,
    record_id: int,
    author: User | None,
    kind: JournalKind,
    body: str,
    at: datetime,
) -> JournalEntry:
    entry = JournalEntry(
        record_type=record_type.value,
        record_id=record_id,
        author_id=author.id if author else None,
        kind=kind.value,
        body=body,
        created_at=at,
    )
    session.add(entry)
    return entry


def record_write(
    session: Session,
    *,
    record_type: RecordType,
    record_id: int,
    number: str | None,
    action: str,
    actor: User | None,
    at: datetime,
    changes: Mapping[str, tuple[object, object]],
) -> list[AuditEntry]:
    """The audit rows and the one feed event every write leaves, in the caller's transaction."""
    entries = record_changes(
        session,
        record_type=record_type,
        record_id=record_id,
        actor=actor,
        at=at,
        changes=changes,
    )
    publish(
        session,
        record_type=record_type,
        record_id=record_id,
        action=action,
        actor=actor,
        at=at,
        number=number,
    )
    return entries
