"""The audit trail is append-only and hash-chained: the database refuses edits, and an entry
altered, deleted (in the middle or at the end) or slipped in behind the application's back is
found by `verify_audit_chain` / `itsm audit verify`."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

import itsm_tui
from itsm_tui.domain.audit_chain import (
    GENESIS_HASH,
    ChainChecker,
    ChainedEntry,
    StoredEntry,
    entry_hash,
)
from itsm_tui.services import incidents
from itsm_tui.services.audit_verify import verify_audit_chain
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from tests.conftest import Desk

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# ------------------------------------------------------------------ the chain itself


def chain(length: int) -> list[StoredEntry]:
    stored, previous = [], GENESIS_HASH
    for seq in range(1, length + 1):
        entry = ChainedEntry(seq, "incident", seq % 3, 1, "state", "new", f"v{seq}", T)
        digest = entry_hash(entry, previous)
        stored.append(StoredEntry(seq * 10, entry, previous, digest))
        previous = digest
    return stored


def breaks_in(stored: list[StoredEntry], head_seq: int, head_hash: str) -> list[str]:
    checker = ChainChecker()
    for row in stored:
        checker.feed(row)
    return [b.describe() for b in checker.finish(head_seq, head_hash)]


def test_the_hash_covers_every_field_and_the_link() -> None:
    entry = ChainedEntry(1, "incident", 7, 2, "priority", "3", "1", T)
    digest = entry_hash(entry, GENESIS_HASH)
    assert len(digest) == 64 and digest == entry_hash(entry, GENESIS_HASH)
    variants = [
        ChainedEntry(2, "incident", 7, 2, "priority", "3", "1", T),
        ChainedEntry(1, "change", 7, 2, "priority", "3", "1", T),
        ChainedEntry(1, "incident", 8, 2, "priority", "3", "1", T),
        ChainedEntry(1, "incident", 7, None, "priority", "3", "1", T),
        ChainedEntry(1, "incident", 7, 2, "impact", "3", "1", T),
        ChainedEntry(1, "incident", 7, 2, "priority", None, "1", T),
        ChainedEntry(1, "incident", 7, 2, "priority", "3", "2", T),
        ChainedEntry(1, "incident", 7, 2, "priority", "3", "1", T + timedelta(microseconds=1)),
    ]
    assert all(entry_hash(v, GENESIS_HASH) != digest for v in variants)
    assert entry_hash(entry, "f" * 64) != digest
    # the same instant in another zone is the same entry (SQLite hands back UTC)
    shifted = ChainedEntry(1, "incident", 7, 2, "priority", "3", "1", T.astimezone())
    assert entry_hash(shifted, GENESIS_HASH) == digest


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    length=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_any_single_tampering_is_found(length: int, data: st.DataObject) -> None:
    stored = chain(length)
    head_seq, head_hash = length, stored[-1].stored_hash or ""
    assert breaks_in(stored, head_seq, head_hash) == []
    victim = data.draw(st.integers(min_value=0, max_value=length - 1))
    how = data.draw(st.sampled_from(["alter", "delete", "insert", "relink"]))
    tampered = list(stored)
    row = tampered[victim]
    assert row.entry is not None
    if how == "alter":
        forged = ChainedEntry(**{**row.entry.__dict__, "new_value": "forged"})
        tampered[victim] = StoredEntry(row.entry_id, forged, row.prev_hash, row.stored_hash)
    elif how == "delete":
        del tampered[victim]
    elif how == "insert":
        tampered.append(StoredEntry(999, None, None, None))
    else:  # a careful forger recomputes the altered entry's own hash
        forged = ChainedEntry(**{**row.entry.__dict__, "new_value": "forged"})
        digest = entry_hash(forged, row.prev_hash or "")
        tampered[victim] = StoredEntry(row.entry_id, forged, row.prev_hash, digest)
        # (on the last entry the head, which still names the original, gives it away)
    assert breaks_in(tampered, head_seq, head_hash), (how, victim)


def test_a_clean_empty_trail_and_a_missing_tail() -> None:
    assert breaks_in([], 0, GENESIS_HASH) == []
    stored = chain(5)
    found = breaks_in(stored[:3], 5, stored[-1].stored_hash or "")
    assert found == [
        "entry #4: the chain ends at #3 but 5 entries were written (the newest were deleted)"
    ]


# ------------------------------------------------------------------ on the database


def write_some(desk: Desk) -> str:
    data = validate(incidents.IncidentCreate, title="Mail down", impact=2, urgency=2)
    number = incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "in_progress")
    incidents.add_note(desk.session, desk["alice"], desk.clock, number, "looking")
    return number


@contextmanager
def behind_the_apps_back(database: Database) -> Iterator[Connection]:
    """A connection that can edit the trail: the append-only triggers are off meanwhile, as
    a database owner could do; the hashes must still tell."""
    sqlite = database.engine.dialect.name == "sqlite"
    with database.engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")
        else:
            connection.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        yield connection
        if not sqlite:
            connection.exec_driver_sql("ALTER TABLE audit_entries ENABLE TRIGGER USER")


def problems(database: Database, desk: Desk) -> list[str]:
    with database.session() as session:
        report = verify_audit_chain(session, desk.clock.now())
    return [b.problem for b in report.breaks]


def test_every_write_extends_one_unbroken_chain(desk: Desk, database: Database) -> None:
    write_some(desk)
    write_some(desk)
    with database.session() as session:
        report = verify_audit_chain(session, desk.clock.now())
    assert report.ok and report.breaks == []
    assert report.entries_checked == report.chain_length > 20  # directory seed + incidents


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_entries SET new_value = 'x'", "DELETE FROM audit_entries"]
)
def test_the_database_refuses_to_edit_the_trail(
    desk: Desk, database: Database, statement: str
) -> None:
    write_some(desk)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    assert problems(database, desk) == []


def test_an_altered_entry_is_found(desk: Desk, database: Database) -> None:
    write_some(desk)
    with behind_the_apps_back(database) as connection:
        seq = connection.execute(
            text(
                "SELECT chain_seq FROM audit_entries WHERE field = 'state' ORDER BY chain_seq DESC"
            )
        ).first()[0]
        connection.execute(
            text("UPDATE audit_entries SET new_value = 'closed' WHERE chain_seq = :s"), {"s": seq}
        )
    assert problems(database, desk) == [f"entry #{seq}: was altered after it was written"]


def test_deleted_entries_in_the_middle_and_at_the_end_are_found(
    desk: Desk, database: Database
) -> None:
    write_some(desk)
    with database.session() as session:
        length = verify_audit_chain(session, desk.clock.now()).chain_length
    with behind_the_apps_back(database) as connection:
        connection.execute(
            text("DELETE FROM audit_entries WHERE chain_seq IN (3, :l)"), {"l": length}
        )
    found = problems(database, desk)
    assert found == [
        "entry #4: entries #3 are missing (deleted)",
        f"entry #{length}: the chain ends at #{length - 1} but {length} entries were written "
        "(the newest were deleted)",
    ]


def test_cli_audit_verify_exits_1_and_lists_the_breaks(
    desk: Desk, database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from itsm_tui.cli import main

    write_some(desk)
    assert main(["--db", db_url, "--user", "vic", "audit", "verify"], clock=desk.clock) == 0
    assert "the chain is intact" in capsys.readouterr().out
    with behind_the_apps_back(database) as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entries"
                " (record_type, record_id, field, old_value, new_value, at)"
                " VALUES ('incident', 1, 'priority', '3', '1', :at)"
            ),
            {"at": T.replace(tzinfo=None) if db_url.startswith("sqlite") else T},
        )
    code = main(["--db", db_url, "--user", "vic", "audit", "verify", "--json"], clock=desk.clock)
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [b["problem"] for b in report["breaks"]] == [
        f"row id {report['breaks'][0]['entry_id']}: has no place in the chain (inserted directly)"
    ]


def test_no_code_path_updates_or_deletes_audit_entries() -> None:
    """Append-only in the code too: nothing builds an UPDATE or DELETE of AuditEntry or of the
    audit_entries table (the migration that chained old rows is the one exception)."""
    root = Path(itsm_tui.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                args = [ast.unparse(a) for a in node.args]
                if name in ("update", "delete") and any("AuditEntry" in a for a in args):
                    offenders.append(f"{path.name}:{node.lineno}")
        lowered = source.lower()
        for verb in ("update audit_entries", "delete from audit_entries"):
            if verb in lowered:
                offenders.append(f"{path.name}: {verb}")
    assert offenders == []
