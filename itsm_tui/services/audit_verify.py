"""Re-reads the whole audit trail and checks its hash chain (domain/audit_chain.py).

Why a service and not only a test: an auditor or a monitoring hook runs `itsm audit verify`
on the live database to prove nobody edited the trail behind the application's back.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import computed_field
from sqlmodel import Session, col, select

from itsm_tui.domain.audit_chain import ChainBreak, ChainChecker, ChainedEntry, StoredEntry
from itsm_tui.services.records import Record
from itsm_tui.store.models import AuditChainHead, AuditEntry

BATCH_ROWS = 5000  # streamed in batches: a trail of millions needs little memory


class ChainBreakRecord(Record):
    seq: int | None
    entry_id: int | None
    problem: str


class AuditVerifyReport(Record):
    checked_at: datetime
    entries_checked: int
    chain_length: int  # how many entries the head says were ever written
    breaks: list[ChainBreakRecord]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_audit_chain(session: Session, now: datetime) -> AuditVerifyReport:
    """Walk every entry in chain order; report each altered, missing or foreign entry."""
    checker = ChainChecker()
    statement = select(AuditEntry).order_by(
        col(AuditEntry.chain_seq).is_(None), col(AuditEntry.chain_seq), col(AuditEntry.id)
    )
    for row in session.exec(statement.execution_options(yield_per=BATCH_ROWS)):
        checker.feed(_stored(row))
    head = session.get(AuditChainHead, 1)
    head_seq, head_hash = (head.seq, head.entry_hash) if head else (0, "")
    breaks = checker.finish(head_seq, head_hash)
    if head is None:
        breaks.append(ChainBreak(None, None, "the chain's head record is missing"))
    return AuditVerifyReport(
        checked_at=now,
        entries_checked=checker.checked,
        chain_length=head_seq,
        breaks=[
            ChainBreakRecord(seq=b.seq, entry_id=b.entry_id, problem=b.describe()) for b in breaks
        ],
    )


def _stored(row: AuditEntry) -> StoredEntry:
    assert row.id is not None
    entry = (
        None
        if row.chain_seq is None
        else ChainedEntry(
            seq=row.chain_seq,
            record_type=row.record_type,
            record_id=row.record_id,
            actor_id=row.actor_id,
            field=row.field,
            old_value=row.old_value,
            new_value=row.new_value,
            at=row.at,
        )
    )
    return StoredEntry(row.id, entry, row.prev_hash, row.entry_hash)
