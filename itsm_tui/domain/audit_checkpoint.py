"""Signed checkpoints of the audit chain's head, kept outside the database.

Why: the hash chain (audit_chain.py) is plain SHA-256, so whoever can write the tables
(the desk's database role with its triggers dropped or disabled) can rewrite an entry,
recompute every later hash and move the head, and the chain reads as intact again. A
checkpoint records where the chain ended at a moment (the head's position and hash),
authenticated with HMAC-SHA256 under a key that never enters the database. Because each
entry's hash covers the one before, the hash at a checkpointed position vouches for every
entry up to it: a later rewrite, deletion or moved head changes or removes that hash, and
the tamperer cannot sign a new checkpoint without the key.

What it does not cover: entries written after the newest checkpoint (checkpoint often), and
entries appended through the application's own path by someone holding the desk's role
(they are indistinguishable from the desk's own writes).

A checkpoint is one line of JSON, so a checkpoint log is a file of such lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

FORMAT = "itsm-audit-checkpoint/1"
KEY_BYTES = 32  # HMAC-SHA256's block-strength key: 256 random bits


@dataclass(frozen=True)
class Checkpoint:
    """Where the audit chain ended when the checkpoint was taken."""

    seq: int  # the head's position: entries #1..#seq existed
    entry_hash: str  # the stored hash of entry #seq (the genesis hash when seq is 0)
    at: datetime


def key_id(key: bytes) -> str:
    """A short public name for a key, so "signed with another key" can be told from
    "forged". Derived under its own label: it reveals nothing usable about the MAC key."""
    return hashlib.sha256(b"itsm audit key id\x00" + key).hexdigest()[:16]


def _signed_text(checkpoint: Checkpoint, kid: str) -> bytes:
    canonical = [
        FORMAT,
        kid,
        checkpoint.seq,
        checkpoint.entry_hash,
        checkpoint.at.astimezone(UTC).isoformat(),
    ]
    return json.dumps(canonical, separators=(",", ":")).encode("ascii")


def _mac(checkpoint: Checkpoint, key: bytes, kid: str) -> str:
    return hmac.new(key, _signed_text(checkpoint, kid), hashlib.sha256).hexdigest()


def to_line(checkpoint: Checkpoint, key: bytes) -> str:
    """The checkpoint as one line of JSON (no newline), with its key id and HMAC."""
    kid = key_id(key)
    return json.dumps(
        {
            "format": FORMAT,
            "seq": checkpoint.seq,
            "entry_hash": checkpoint.entry_hash,
            "at": checkpoint.at.astimezone(UTC).isoformat(),
            "key_id": kid,
            "mac": _mac(checkpoint, key, kid),
        },
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class CheckpointLine:
    """One line of a checkpoint log as read: a checkpoint the key vouches for, or why not."""

    line: int
    checkpoint: Checkpoint | None
    problem: str | None = None


def read_line(number: int, text: str, key: bytes) -> CheckpointLine:
    """Parse and authenticate one line; anything the key does not vouch for is refused."""
    where = f"checkpoint on line {number}"
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError
        seq, digest, kid, mac = data["seq"], data["entry_hash"], data["key_id"], data["mac"]
        if not (
            type(seq) is int
            and seq >= 0
            and all(isinstance(v, str) for v in (digest, kid, mac, data["at"]))
        ):
            raise ValueError
        at = datetime.fromisoformat(data["at"])
        if at.tzinfo is None:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return CheckpointLine(number, None, f"{where} is not an itsm audit checkpoint")
    checkpoint = Checkpoint(seq=seq, entry_hash=digest, at=at)
    ours = key_id(key)
    if not hmac.compare_digest(kid, ours):
        return CheckpointLine(
            number,
            None,
            f"{where} was signed with another key (key id {kid[:16]!r}, this key is {ours}): "
            "verify with the key that signed it, or it was forged",
        )
    if not hmac.compare_digest(mac, _mac(checkpoint, key, ours)):
        return CheckpointLine(
            number, None, f"{where} has a wrong signature: it was forged or altered"
        )
    return CheckpointLine(number, checkpoint)


def checkpoint_problem(checkpoint: Checkpoint, line: int, stored_hash: str | None) -> str | None:
    """Why the chain no longer holds the checkpointed head, or None when it does.

    `stored_hash` is the hash the chain now stores at the checkpoint's position (None when
    the chain no longer reaches it). The chain walk separately proves every link up to it.
    """
    taken = checkpoint.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    origin = f"the checkpoint on line {line} (taken {taken})"
    if stored_hash is None:
        return (
            f"is missing: {origin} saw the chain reach it (entries were deleted and the "
            "head moved back)"
        )
    if not hmac.compare_digest(stored_hash, checkpoint.entry_hash):
        return f"differs from {origin}: the trail up to it was rewritten and its hashes recomputed"
    return None
