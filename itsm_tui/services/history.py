"""Audit trail and change feed writes, shared by every service that changes a record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum

from sqlmodel import Session, col, select

from itsm_tui.domain.enums import JournalKind, RecordType
from itsm_tui.services.records import AuditRecord, JournalRecord
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


def journal_of(session: Session, record_type: RecordType, record_id: int) -> list[JournalRecord]:
    """A record's journal, oldest first, with authors by username."""
    rows = session.exec(
        select(JournalEntry, User.username)
        .join(User, col(User.id) == col(JournalEntry.author_id), isouter=True)
        .where(JournalEntry.record_type == record_type.value, JournalEntry.record_id == record_id)
        .order_by(col(JournalEntry.created_at), col(JournalEntry.id))
    ).all()
    return [
        JournalRecord(kind=e.kind, author=name, body=e.body, created_at=e.created_at)
        for e, name in rows
    ]


def audit_of(session: Session, record_type: RecordType, record_id: int) -> list[AuditRecord]:
    """A record's audit rows in write order, with actors by username."""
    rows = session.exec(
        select(AuditEntry, User.username)
        .join(User, col(User.id) == col(AuditEntry.actor_id), isouter=True)
        .where(AuditEntry.record_type == record_type.value, AuditEntry.record_id == record_id)
        .order_by(col(AuditEntry.id))
    ).all()
    return [
        AuditRecord(
            field=a.field, old_value=a.old_value, new_value=a.new_value, actor=name, at=a.at
        )
        for a, name in rows
    ]
