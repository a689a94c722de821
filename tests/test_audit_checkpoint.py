"""Issue 16.6: the plain SHA-256 chain can be recomputed by whoever holds the desk's database
role (triggers dropped or disabled, an entry rewritten, every later hash recomputed, the
head moved) and `audit verify` then says "intact". Signed checkpoints of the head, kept
outside the database under a key the role never sees, catch it: `itsm audit checkpoint`
and `itsm audit verify --checkpoint FILE`. On PostgreSQL `itsm init` prints the grants of a
DML-only desk role, which cannot disable the triggers at all."""

from __future__ import annotations

import json
import os
import secrets
import stat
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from itsm_tui.clock import FixedClock
from itsm_tui.domain.audit_chain import GENESIS_HASH, ChainedEntry, entry_hash
from itsm_tui.domain.audit_checkpoint import Checkpoint, to_line
from itsm_tui.services import directory, incidents
from itsm_tui.services.audit_verify import verify_audit_chain
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import AuditEntry
from tests.cli_helpers import Cli
from tests.conftest import Desk
from tests.test_audit_chain import behind_the_apps_back, write_some

# ------------------------------------------------------------------ the attack


def recompute_chain(connection: Connection) -> tuple[int, str]:
    """What a careful tamperer does after editing rows: renumber nothing, but give every
    entry the SHA-256 the plain chain expects and move the head to the new end."""
    with Session(bind=connection) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.chain_seq))).all()
        previous = GENESIS_HASH
        fixes = []
        for row in rows:
            assert row.chain_seq is not None
            entry = ChainedEntry(
                row.chain_seq,
                row.record_type,
                row.record_id,
                row.actor_id,
                row.field,
                row.old_value,
                row.new_value,
                row.at,
            )
            digest = entry_hash(entry, previous)
            fixes.append({"id": row.id, "p": previous, "h": digest})
            previous = digest
        last = rows[-1].chain_seq if rows else 0
    connection.execute(
        text("UPDATE audit_entries SET prev_hash = :p, entry_hash = :h WHERE id = :id"), fixes
    )
    connection.execute(
        text("UPDATE audit_chain_head SET seq = :s, entry_hash = :h WHERE id = 1"),
        {"s": last, "h": previous},
    )
    return last or 0, previous


def rewrite(connection: Connection, seq: int) -> None:
    connection.execute(
        text("UPDATE audit_entries SET new_value = 'forged' WHERE chain_seq = :s"), {"s": seq}
    )


def delete_and_renumber(connection: Connection, seq: int) -> None:
    connection.execute(text("DELETE FROM audit_entries WHERE chain_seq = :s"), {"s": seq})
    later = connection.execute(
        text("SELECT id FROM audit_entries WHERE chain_seq > :s ORDER BY chain_seq"), {"s": seq}
    ).all()
    for (row_id,) in later:  # one by one, upwards: chain_seq is unique
        connection.execute(
            text("UPDATE audit_entries SET chain_seq = chain_seq - 1 WHERE id = :id"),
            {"id": row_id},
        )


def cut_back_to(connection: Connection, seq: int) -> None:
    connection.execute(text("DELETE FROM audit_entries WHERE chain_seq > :s"), {"s": seq})


def cli(db_url: str, desk: Desk, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(db_url, desk.clock, capsys, user="vic")  # a viewer may audit


def checkpoint(tool: Cli, log: Path) -> int:
    """Take a checkpoint into `log`; returns the head position it signed."""
    result = tool.json("audit", "checkpoint", "--output", str(log))
    tool.clock.advance(minutes=5)
    return int(result["seq"])


def length(database: Database, desk: Desk) -> int:
    with database.session() as session:
        return verify_audit_chain(session, desk.clock.now()).chain_length


@pytest.mark.parametrize("attack", ["rewrite", "delete", "cut back"])
def test_a_recomputed_chain_passes_plain_verify_but_not_the_checkpoints(
    desk: Desk,
    database: Database,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    attack: str,
) -> None:
    tool, log = cli(db_url, desk, capsys), tmp_path / "checkpoints.jsonl"
    write_some(desk)
    first = checkpoint(tool, log)
    write_some(desk)
    second = checkpoint(tool, log)
    write_some(desk)  # written after the newest checkpoint
    untampered = tool.json("audit", "verify", "--checkpoint", str(log))
    assert untampered["ok"] is True and untampered["checkpoints_checked"] == 2
    assert first < second < length(database, desk)

    victim = (first + second) // 2 + 1  # between the two checkpoints
    with behind_the_apps_back(database) as connection:
        if attack == "rewrite":
            rewrite(connection, victim)
        elif attack == "delete":
            delete_and_renumber(connection, victim)
        else:
            cut_back_to(connection, victim)
        recompute_chain(connection)

    plain = tool.ok("audit", "verify")  # the issue: the plain chain is fooled
    assert "the chain is intact" in plain.out

    found = tool.run("audit", "verify", "--checkpoint", str(log))
    assert found.code == 1, found.err
    assert "2 checkpoints" in found.out and "1 breaks" in found.out
    taken = (desk.clock.now() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S UTC")
    if attack == "cut back":
        problem = (
            f"entry #{second}: is missing: the checkpoint on line 2 (taken {taken}) saw the "
            "chain reach it (entries were deleted and the head moved back)"
        )
    else:
        problem = (
            f"entry #{second}: differs from the checkpoint on line 2 (taken {taken}): the trail "
            "up to it was rewritten and its hashes recomputed"
        )
    assert found.out.splitlines()[1:] == [f"  {problem}"]
    report = tool.run("audit", "verify", "--checkpoint", str(log), "--json").json()
    assert report["ok"] is False
    assert report["breaks"] == [{"seq": second, "entry_id": None, "problem": problem}]


def test_the_newest_checkpoint_is_the_default_log_and_a_checkpoint_refuses_a_broken_chain(
    desk: Desk, database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from itsm_tui.audit_files import default_checkpoint_log, default_key_path

    tool = cli(db_url, desk, capsys)
    write_some(desk)
    taken = tool.ok("audit", "checkpoint")
    assert str(default_checkpoint_log()) in taken.out
    assert "Created the audit key" in taken.out
    assert tool.ok("audit", "verify", "--checkpoint").out.startswith(
        f"Checked {length(database, desk)} audit entries against 1 checkpoints in "
    )
    with behind_the_apps_back(database) as connection:
        rewrite(connection, 3)  # not recomputed: the plain chain sees it
    lines = default_checkpoint_log().read_text()
    refused = tool.run("audit", "checkpoint")
    assert refused.code == 1
    assert "no checkpoint written" in refused.out
    assert "entry #3: was altered after it was written" in refused.out
    assert default_checkpoint_log().read_text() == lines  # nothing appended
    assert default_key_path().exists()


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_a_checkpoint_is_never_appended_to_the_database_or_its_companions(
    suffix: str, desk_db: tuple[str, Desk], capsys: pytest.CaptureFixture[str]
) -> None:
    url, desk = desk_db
    tool = cli(url, desk, capsys)
    target = Path(url.removeprefix("sqlite:///") + suffix)
    before = target.read_bytes() if target.exists() else None
    refused = tool.run("audit", "checkpoint", "--output", str(target))
    assert refused.code == 2, refused.err
    assert "would break the desk" in refused.err
    assert (target.read_bytes() if target.exists() else None) == before
    tool.ok("incident", "list")  # the desk still opens


# ------------------------------------------------------------------ the key and the log


def test_the_key_is_private_created_once_and_never_shown(
    desk: Desk, database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from itsm_tui.audit_files import default_checkpoint_log, default_key_path

    tool = cli(db_url, desk, capsys)
    key_path = default_key_path()
    assert not key_path.exists()
    outputs = [
        tool.ok("audit", "checkpoint"),
        tool.ok("audit", "checkpoint", "--json"),
        tool.ok("audit", "verify", "--checkpoint"),
        tool.ok("audit", "verify", "--checkpoint", "--json"),
    ]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(default_checkpoint_log().stat().st_mode) == 0o600
    key = key_path.read_text().strip()
    assert len(bytes.fromhex(key)) == 32
    seen = [r.out + r.err for r in outputs] + [default_checkpoint_log().read_text()]
    assert not any(key in text or key.upper() in text for text in seen)
    assert json.loads(outputs[1].out)["key_created"] is False  # the same key, reused
    assert key_path.read_text().strip() == key


def test_verify_without_the_key_says_so_and_a_shared_key_is_refused(
    desk: Desk, database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from itsm_tui.audit_files import default_checkpoint_log, default_key_path

    tool = cli(db_url, desk, capsys)
    tool.ok("audit", "checkpoint")
    elsewhere = default_key_path().with_name("moved.key")
    default_key_path().rename(elsewhere)
    missing = tool.run("audit", "verify", "--checkpoint")
    assert missing.code == 2 and missing.out == ""
    assert f"no audit key at {default_key_path()}" in missing.err
    assert "Traceback" not in missing.err
    assert tool.ok("audit", "verify", "--checkpoint", "--key", str(elsewhere)).code == 0

    elsewhere.chmod(0o644)
    lines = default_checkpoint_log().read_text()
    for argv in (["verify", "--checkpoint"], ["checkpoint"]):
        shared = tool.run("audit", *argv, "--key", str(elsewhere))
        assert shared.code == 2, argv
        assert "is open to other users (mode 0644)" in shared.err
        assert f"chmod 600 {elsewhere}" in shared.err
    assert default_checkpoint_log().read_text() == lines

    elsewhere.chmod(0o600)
    nope = default_key_path().parent / "nope"
    gone = tool.run("audit", "verify", "--checkpoint", str(nope), "--key", str(elsewhere))
    assert gone.code == 3 and "no checkpoint file" in gone.err


def forged_lines(genuine: str, seq: int, digest: str) -> list[str]:
    """What a tamperer without the key can write: the genuine line relabelled, a line signed
    with a key of their own, the same with the genuine key id copied, and junk."""
    data = json.loads(genuine)
    relabelled = json.dumps({**data, "seq": seq, "entry_hash": digest})
    at = datetime.fromisoformat(data["at"])
    signed_elsewhere = to_line(Checkpoint(seq, digest, at), secrets.token_bytes(32))
    copied_id = json.dumps({**json.loads(signed_elsewhere), "key_id": data["key_id"]})
    return [relabelled, signed_elsewhere, copied_id, "not json at all"]


def test_forged_checkpoints_and_ones_signed_with_another_key_are_refused(
    desk: Desk,
    database: Database,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    tool, log = cli(db_url, desk, capsys), tmp_path / "checkpoints.jsonl"
    write_some(desk)
    checkpoint(tool, log)
    genuine = log.read_text().strip()
    with behind_the_apps_back(database) as connection:
        rewrite(connection, 2)
        seq, digest = recompute_chain(connection)
    # The tamperer, who cannot read the key, writes checkpoints of the rewritten head.
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(forged_lines(genuine, seq, digest)) + "\n")
    found = tool.run("audit", "verify", "--checkpoint", str(forged), "--json")
    assert found.code == 1
    report = found.json()
    problems = [b["problem"] for b in report["breaks"]]
    key_id = json.loads(genuine)["key_id"]
    assert problems[0] == "checkpoint on line 1 has a wrong signature: it was forged or altered"
    assert problems[1].startswith("checkpoint on line 2 was signed with another key (key id '")
    assert problems[1].endswith(
        f", this key is {key_id}): verify with the key that signed it, or it was forged"
    )
    assert problems[2] == "checkpoint on line 3 has a wrong signature: it was forged or altered"
    assert problems[3] == "checkpoint on line 4 is not an itsm audit checkpoint"
    assert report["checkpoints_checked"] == 4 and len(problems) == 4

    # the genuine one, verified with a different key, is refused too
    other = tmp_path / "other.key"
    fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, secrets.token_hex(32).encode())
    os.close(fd)
    wrong = tool.run("audit", "verify", "--checkpoint", str(log), "--key", str(other))
    assert wrong.code == 1 and "was signed with another key" in wrong.out


# ------------------------------------------------------------------ the PostgreSQL role split


def test_init_prints_the_desk_roles_grants_on_postgres_only(
    db_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from itsm_tui.cli import main

    assert main(["--db", db_url, "init", "--json"], clock=clock) == 0
    machine = json.loads(capsys.readouterr().out)
    assert main(["--db", db_url, "init", "--desk-role", "desk"], clock=clock) == 0
    human = capsys.readouterr().out
    if db_url.startswith("sqlite"):
        assert machine == {"database": "sqlite:itsm.sqlite", "status": "ok"}
        assert "GRANT" not in human
        return
    database = make_url(db_url).database
    grants = machine["desk_role_grants"]
    quoted = postgresql.dialect().identifier_preparer.quote(database)
    assert grants[:2] == [
        f"GRANT CONNECT ON DATABASE {quoted} TO itsm_desk;",
        "GRANT USAGE ON SCHEMA public TO itsm_desk;",
    ]
    full = grants[2]
    assert full.startswith("GRANT SELECT, INSERT, UPDATE, DELETE ON ")
    assert " incidents," in full and "audit_entries" not in full and "alembic" not in full
    assert grants[3:] == [
        "GRANT SELECT ON alembic_version TO itsm_desk;",
        "GRANT SELECT, INSERT ON audit_entries TO itsm_desk;",
        "GRANT SELECT, UPDATE ON audit_chain_head TO itsm_desk;",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO itsm_desk;",
    ]
    assert "As the owner:\n  CREATE ROLE desk LOGIN;\n  GRANT CONNECT ON DATABASE" in human
    assert "  GRANT SELECT, INSERT ON audit_entries TO desk;" in human
    assert "TRUNCATE" not in human and "ALTER" not in human


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # roles are PostgreSQL's
def test_a_role_with_exactly_the_printed_grants_works_the_desk_but_cannot_touch_the_trail(
    desk: Desk, database: Database, db_url: str
) -> None:
    from itsm_tui.store.roles import create_desk_role, desk_role_grants

    role = f"itsm_desk_{uuid.uuid4().hex[:10]}"
    with database.engine.begin() as owner:
        owner.exec_driver_sql(create_desk_role(database.engine, role))
        for grant in desk_role_grants(database.engine, role):
            owner.exec_driver_sql(grant)
    as_desk = open_database(make_url(db_url).set(username=role).render_as_string(False))
    try:
        with as_desk.session() as session:  # the desk's writes, audit trail included
            alice = directory.find_user(session, "alice")
            assert alice is not None
            data = validate(incidents.IncidentCreate, title="Printer", impact=3, urgency=3)
            number = incidents.create_incident(session, alice, desk.clock, data).number
            incidents.transition(session, alice, desk.clock, number, "in_progress")
            incidents.add_note(session, alice, desk.clock, number, "on it")
            assert verify_audit_chain(session, desk.clock.now()).ok
        refused = {
            "ALTER TABLE audit_entries DISABLE TRIGGER USER": "must be owner",
            "DROP TRIGGER audit_entries_append_only ON audit_entries": "must be owner",
            "UPDATE audit_entries SET new_value = 'x'": "permission denied",
            "DELETE FROM audit_entries": "permission denied",
            "TRUNCATE audit_entries": "permission denied",
            "DELETE FROM audit_chain_head": "permission denied",
        }
        for statement, reason in refused.items():
            with pytest.raises(DBAPIError, match=reason), as_desk.engine.begin() as connection:
                connection.exec_driver_sql(statement)
    finally:
        as_desk.dispose()
        with database.engine.begin() as owner:
            owner.exec_driver_sql(f"DROP OWNED BY {role}")
            owner.exec_driver_sql(f"DROP ROLE {role}")
    with database.session() as session:
        assert verify_audit_chain(session, desk.clock.now()).ok
