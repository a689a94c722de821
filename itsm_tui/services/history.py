"""Audit trail and change feed writes, shared by every service that changes a record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum

from sqlalchemy import insert
from sqlmodel import Session, col, select

from itsm_tui.domain.audit_chain import ChainedEntry, entry_hash
from itsm_tui.domain.enums import JournalKind, RecordType
from itsm_tui.services.records import AuditRecord, JournalRecord
from itsm_tui.store.feed import announce
from itsm_tui.store.models import AuditChainHead, AuditEntry, FeedEvent, JournalEntry, User


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


_WRITE_ORDER_KEY = "itsm_write_order"


# Built once: every write runs it, and building a statement costs about what running it does.
_LOCK_HEAD = (
    select(AuditChainHead)
    .where(AuditChainHead.id == 1)
    .with_for_update()
    .execution_options(populate_existing=True)  # not a copy left from an earlier one
)


def lock_write_order(session: Session) -> AuditChainHead:
    """Lock the audit chain's head row for the rest of the transaction and return it fresh.

    Held from the first audit entry or feed event until commit, it makes writers append in
    commit order: the chain never forks and, on PostgreSQL, feed ids never commit out of
    order (SQLite's single writer gives both already; the lock costs it one read).
    """
    transaction = session.get_transaction()
    held = session.info.get(_WRITE_ORDER_KEY)
    if held is not None and held[0] is transaction:
        return held[1]  # locked already; its in-memory values are the newest (maybe unflushed)
    head = session.exec(_LOCK_HEAD).one()
    session.info[_WRITE_ORDER_KEY] = (transaction, head)
    return head


def record_changes(
    session: Session,
    *,
    record_type: RecordType,
    record_id: int,
    actor: User | None,
    at: datetime,
    changes: Mapping[str, tuple[object, object]],
) -> int:
    """Append one audit entry per field whose value really changed (old, new), chained;
    returns how many were appended.

    The rows go in as one multi-row INSERT of plain values, not as ORM objects: the trail is
    append-only and nothing reads these rows back in the writing transaction, and building
    and flushing an object per field was an eighth of every incident write's CPU. Pending
    objects are flushed first (the ORM insert autoflushes), so ids still follow write order.
    """
    changed = [(field, audit_value(old), audit_value(new)) for field, (old, new) in changes.items()]
    changed = [(field, old, new) for field, old, new in changed if old != new]
    if not changed:
        return 0
    head = lock_write_order(session)
    actor_id = actor.id if actor else None
    rows = []
    seq, previous = head.seq, head.entry_hash
    for field, old_text, new_text in changed:
        seq += 1
        digest = entry_hash(
            ChainedEntry(
                seq, record_type.value, record_id, actor_id, field, old_text, new_text, at
            ),
            previous,
        )
        rows.append(
            {
                "record_type": record_type.value,
                "record_id": record_id,
                "actor_id": actor_id,
                "field": field,
                "old_value": old_text,
                "new_value": new_text,
                "at": at,
                "chain_seq": seq,
                "prev_hash": previous,
                "entry_hash": digest,
            }
        )
        previous = digest
    session.execute(insert(AuditEntry), rows)
    head.seq, head.entry_hash = seq, previous
    session.add(head)
    return len(rows)


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
    """Append the feed event other clients poll for; committed with the change it announces
    (and, on PostgreSQL, a NOTIFY that wakes listening clients at that commit)."""
    lock_write_order(session)
    event = FeedEvent(
        record_type=record_type.value,
        record_id=record_id,
        record_number=number,
        action=action,
        actor_id=actor.id if actor else None,
        at=at,
    )
    session.add(event)
    announce(session)
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
) -> int:
    """The audit rows and the one feed event every write leaves, in the caller's transaction."""
    written = record_changes(
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
    return written


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
