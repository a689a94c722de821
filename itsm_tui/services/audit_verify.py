"""Re-reads the whole audit trail and checks its hash chain (domain/audit_chain.py), and
against signed checkpoints of its head (domain/audit_checkpoint.py) when given some.

Why a service and not only a test: an auditor or a monitoring hook runs `itsm audit verify`
on the live database to prove nobody edited the trail behind the application's back. The
plain chain only proves that against someone who cannot recompute SHA-256 over the rows;
checkpoints, signed with a key kept outside the database, prove it against whoever holds
the desk's database role.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import computed_field
from sqlmodel import Session, col, select

from itsm_tui.domain.audit_chain import (
    GENESIS_HASH,
    ChainBreak,
    ChainChecker,
    ChainedEntry,
    StoredEntry,
)
from itsm_tui.domain.audit_checkpoint import Checkpoint, CheckpointLine, checkpoint_problem
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
    checkpoints_checked: int = 0  # signed checkpoints the chain was held against

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.breaks


class AuditCheckpointRecord(Record):
    """What `itsm audit checkpoint` reports: the head it signed and where the line went."""

    seq: int
    entry_hash: str
    at: datetime
    key_id: str  # a public name for the key, never the key
    file: str
    key_created: bool


def verify_audit_chain(
    session: Session, now: datetime, checkpoints: Sequence[CheckpointLine] = ()
) -> AuditVerifyReport:
    """Walk every entry in chain order; report each altered, missing or foreign entry, each
    checkpoint the chain no longer holds, and each checkpoint line the key does not vouch
    for (a forged checkpoint is evidence too)."""
    report, _ = _walk(session, now, checkpoints)
    return report


def take_checkpoint(session: Session, now: datetime) -> tuple[AuditVerifyReport, Checkpoint | None]:
    """Verify the chain and, when it is intact, name its head as a checkpoint to sign.

    A broken chain gets no checkpoint (None): signing it would vouch for the tampering.
    """
    report, head = _walk(session, now, ())
    if not report.ok:
        return report, None
    seq, digest = head
    return report, Checkpoint(seq=seq, entry_hash=digest, at=now)


def begin_snapshot(session: Session) -> None:
    """End any open read and start one that sees a single snapshot, so the walk and the head
    agree while desks keep appending (PostgreSQL's default READ COMMITTED would let a write
    committed mid-walk show as a deleted tail). SQLite's read transaction is a snapshot
    already."""
    if session.in_transaction():
        session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _walk(
    session: Session, now: datetime, checkpoints: Sequence[CheckpointLine]
) -> tuple[AuditVerifyReport, tuple[int, str]]:
    checker = ChainChecker()
    wanted = {c.checkpoint.seq for c in checkpoints if c.checkpoint is not None}
    hashes: dict[int, str | None] = {0: GENESIS_HASH} if 0 in wanted else {}
    statement = select(AuditEntry).order_by(
        col(AuditEntry.chain_seq).is_(None), col(AuditEntry.chain_seq), col(AuditEntry.id)
    )
    for row in session.exec(statement.execution_options(yield_per=BATCH_ROWS)):
        if row.chain_seq in wanted:
            hashes[row.chain_seq] = row.entry_hash
        checker.feed(_stored(row))
    head = session.get(AuditChainHead, 1)
    head_seq, head_hash = (head.seq, head.entry_hash) if head else (0, "")
    breaks = checker.finish(head_seq, head_hash)
    if head is None:
        breaks.append(ChainBreak(None, None, "the chain's head record is missing"))
    for read in checkpoints:
        if read.checkpoint is None:
            breaks.append(ChainBreak(None, None, read.problem or "unreadable checkpoint"))
            continue
        seq = read.checkpoint.seq
        problem = checkpoint_problem(read.checkpoint, read.line, hashes.get(seq))
        if problem is not None:
            breaks.append(ChainBreak(seq, None, problem))
    report = AuditVerifyReport(
        checked_at=now,
        entries_checked=checker.checked,
        chain_length=head_seq,
        breaks=[
            ChainBreakRecord(seq=b.seq, entry_id=b.entry_id, problem=b.describe()) for b in breaks
        ],
        checkpoints_checked=len(checkpoints),
    )
    return report, (head_seq, head_hash)


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
