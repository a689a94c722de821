"""The audit trail's hash chain: each entry's hash covers its content and the previous hash.

Why: audit entries are the desk's evidence (who changed a priority, who closed a breach).
Append-only code is not enough when anyone with database access can edit a row; chaining
makes an altered, inserted or deleted entry show as a broken link when the chain is re-read.
The head (last position and hash) is kept apart, so removing the newest entries shows too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64  # the "previous hash" of the first entry


@dataclass(frozen=True)
class ChainedEntry:
    """The fields of an audit entry that the chain vouches for."""

    seq: int
    record_type: str
    record_id: int
    actor_id: int | None
    field: str
    old_value: str | None
    new_value: str | None
    at: datetime


def entry_hash(entry: ChainedEntry, previous_hash: str) -> str:
    """SHA-256 over a canonical JSON of the entry and the previous hash.

    Times are hashed as UTC ISO text so SQLite (naive storage) and PostgreSQL (timestamptz)
    hash the same stored instant alike.
    """
    canonical = json.dumps(
        [
            entry.seq,
            entry.record_type,
            entry.record_id,
            entry.actor_id,
            entry.field,
            entry.old_value,
            entry.new_value,
            entry.at.astimezone(UTC).isoformat(),
            previous_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """One finding of a verification: where the chain stops vouching, and why."""

    seq: int | None
    entry_id: int | None
    problem: str

    def describe(self) -> str:
        if self.seq is None and self.entry_id is None:
            return self.problem  # about the chain as a whole (its head, a checkpoint)
        where = f"entry #{self.seq}" if self.seq is not None else f"row id {self.entry_id}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class StoredEntry:
    """An audit row as read back: the chained fields plus what was stored for the chain."""

    entry_id: int
    entry: ChainedEntry | None  # None when the row has no chain position at all
    prev_hash: str | None
    stored_hash: str | None


class ChainChecker:
    """Walks the entries in chain order (streamed, so a long trail needs little memory)."""

    def __init__(self) -> None:
        self.breaks: list[ChainBreak] = []
        self.checked = 0
        self._expected_seq = 1
        self._previous_hash = GENESIS_HASH

    def feed(self, stored: StoredEntry) -> None:
        self.checked += 1
        entry = stored.entry
        if entry is None:
            self.breaks.append(
                ChainBreak(None, stored.entry_id, "has no place in the chain (inserted directly)")
            )
            return
        if entry.seq > self._expected_seq:
            missing = (
                f"#{self._expected_seq}"
                if entry.seq == self._expected_seq + 1
                else f"#{self._expected_seq}-#{entry.seq - 1}"
            )
            self.breaks.append(
                ChainBreak(entry.seq, stored.entry_id, f"entries {missing} are missing (deleted)")
            )
        elif entry.seq < self._expected_seq:
            self.breaks.append(ChainBreak(entry.seq, stored.entry_id, "appears twice in the chain"))
        if stored.prev_hash != self._previous_hash and entry.seq == self._expected_seq:
            self.breaks.append(
                ChainBreak(entry.seq, stored.entry_id, "does not link to the entry before it")
            )
        if stored.stored_hash != entry_hash(entry, stored.prev_hash or ""):
            self.breaks.append(
                ChainBreak(entry.seq, stored.entry_id, "was altered after it was written")
            )
        self._expected_seq = max(self._expected_seq, entry.seq + 1)
        self._previous_hash = stored.stored_hash or ""

    def finish(self, head_seq: int, head_hash: str) -> list[ChainBreak]:
        """Compare the walked chain with the stored head; returns every break found."""
        last_seq = self._expected_seq - 1
        if head_seq > last_seq:
            self.breaks.append(
                ChainBreak(
                    last_seq + 1 if last_seq < head_seq else None,
                    None,
                    f"the chain ends at #{last_seq} but {head_seq} entries were written "
                    "(the newest were deleted)",
                )
            )
        elif head_seq < last_seq:
            self.breaks.append(
                ChainBreak(head_seq + 1, None, "entries beyond the recorded end of the chain")
            )
        elif head_hash != self._previous_hash:
            self.breaks.append(
                ChainBreak(last_seq or None, None, "the newest entry differs from the one recorded")
            )
        return self.breaks
