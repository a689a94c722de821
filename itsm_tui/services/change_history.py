"""Reads the change screens need that `services.changes` does not offer: a change's history
and a go-to-number lookup for the command palette.

Journal and audit are stored once for every record type, keyed by (record_type, record_id);
the change service writes them but hands back only the record. The detail screen needs the
history too, so it is read here by change number, as the same `JournalRecord` and
`AuditRecord` the incident detail uses (one timeline widget shows both).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from itsm_tui.domain.enums import RecordType
from itsm_tui.services.errors import NotFound
from itsm_tui.services.history import audit_of, journal_of
from itsm_tui.services.records import AuditRecord, JournalRecord
from itsm_tui.store.models import Change


@dataclass(frozen=True)
class ChangeHit:
    """A palette hit: enough to recognise the change."""

    number: str
    title: str
    state: str


@dataclass(frozen=True)
class ChangeHistory:
    journal: list[JournalRecord]
    audit: list[AuditRecord]


def change_history(session: Session, number: str) -> ChangeHistory:
    """Journal (oldest first) and audit rows (in write order) of change `number`."""
    change_id = session.exec(
        select(Change.id).where(Change.number == number.strip().upper())
    ).first()
    if change_id is None:
        raise NotFound(f"no change {number}")
    return ChangeHistory(
        journal=journal_of(session, RecordType.CHANGE, change_id),
        audit=audit_of(session, RecordType.CHANGE, change_id),
    )


def find_changes(session: Session, fragment: str, *, limit: int = 10) -> list[ChangeHit]:
    """Changes whose number contains `fragment` ("7", "chg07", "CHG0000007"): the exact
    number first, then the newest that contain its digits. Not digits: nothing."""
    cleaned = fragment.strip().upper().removeprefix("CHG")
    # isdigit() alone takes '²' and '①', which int() refuses
    if not (cleaned.isascii() and cleaned.isdigit()):
        return []
    digits = cleaned.lstrip("0") or "0"
    exact = f"CHG{int(digits):07d}"
    rows = session.exec(
        select(Change.number, Change.title, Change.state)
        .where(col(Change.number).contains(digits))
        .order_by((col(Change.number) == exact).desc(), col(Change.id).desc())
        .limit(limit)
    ).all()
    return [ChangeHit(number, title, state) for number, title, state in rows]
