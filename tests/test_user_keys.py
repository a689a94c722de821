"""SSH keys per user (`itsm user key ...`) and the SSH session audit: the service rules, what
the SSH server reads at login, and the authorized-keys directory. Permissions per role are in
the RBAC matrix (tests/test_services_rbac_matrix.py); the server end to end in
tests/test_serve_ssh.py."""

from __future__ import annotations

import json
from pathlib import Path

import asyncssh
import pytest
from sqlalchemy import update
from sqlmodel import col, select

from itsm_tui.clock import FixedClock
from itsm_tui.remote.keys import directory_keys
from itsm_tui.services import ssh_sessions, user_keys
from itsm_tui.services.audit_verify import verify_audit_chain
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.tx import transaction
from itsm_tui.store.database import Database
from itsm_tui.store.models import AuditEntry, User
from tests.cli_helpers import Cli
from tests.conftest import Desk
from tests.service_helpers import mark, refused, written
from tests.tui_helpers import seeded_desk


def _key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519", comment="alice@laptop")


def _public(key: asyncssh.SSHKey) -> str:
    return key.export_public_key().decode()


def _blobs(keys: list[asyncssh.SSHKey] | None) -> list[bytes]:
    return [k.public_data for k in keys or []]


def test_a_user_adds_lists_and_removes_their_key_and_each_write_is_audited(
    desk: Desk, database: Database
) -> None:
    key = _key()
    since = mark(database)
    added = user_keys.add_key(desk.session, desk["alice"], desk.clock, "alice", _public(key))
    assert added.fingerprint == key.get_fingerprint("sha256")
    assert (added.key_type, added.comment) == ("ssh-ed25519", "alice@laptop")
    assert user_keys.list_keys(desk.session, desk["alice"], "alice") == [added]
    assert user_keys.list_keys(desk.session, desk["root"], "alice") == [added]  # admin
    assert _blobs(user_keys.login_keys(desk.session, "alice")) == [key.public_data]
    assert _blobs(user_keys.login_keys(desk.session, "bob")) == []
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        user_keys.list_keys(desk.session, desk["bob"], "alice")  # not his keys to see

    # Without the SHA256: prefix, as people copy it from ssh-keygen -l.
    short = added.fingerprint.removeprefix("SHA256:")
    user_keys.remove_key(desk.session, desk["alice"], desk.clock, "alice", short)
    assert user_keys.list_keys(desk.session, desk["alice"], "alice") == []
    assert user_keys.login_keys(desk.session, "alice") == []

    rows = written(database, since)
    audit = [(a.field, a.old_value, a.new_value) for a in rows.audit]
    line = f"ssh-ed25519 {added.fingerprint} alice@laptop"
    assert audit == [("ssh_key", None, line), ("ssh_key", line, None)]
    assert [e.actor_id for e in rows.feed] == [desk["alice"].id] * 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("ssh-ed25519 AAAAnotbase64 me@host", "not an SSH public key"),
        ("hello world", "not an SSH public key"),
        ("PRIVATE", "not an SSH public key"),
        (None, "private key"),  # the private half of a real key
        ("two", "exactly one public key"),
        # Stored without its options, a key limited to some addresses or to one command
        # would let its holder in from anywhere to the desk: refused, saying why.
        ('from="10.0.0.0/8" KEY', "authorized_keys options"),
        ('command="/bin/true",no-pty KEY', "authorized_keys options"),
    ],
)
def test_junk_private_keys_and_several_keys_are_refused_with_nothing_written(
    desk: Desk, database: Database, text: str | None, message: str
) -> None:
    key = _key()
    if text is None:
        text = key.export_private_key().decode()
    elif text == "two":
        text = _public(key) + _public(_key())
    else:
        text = text.replace("KEY", _public(key))
    refused(
        database,
        ValidationFailed,
        lambda: user_keys.add_key(desk.session, desk["alice"], desk.clock, "alice", text),
        match=message,
    )


def test_a_key_twice_an_unknown_owner_and_an_unknown_fingerprint_are_refused(
    desk: Desk, database: Database
) -> None:
    text = _public(_key())
    user_keys.add_key(desk.session, desk["alice"], desk.clock, "alice", text)
    add = user_keys.add_key
    refused(
        database,
        ValidationFailed,
        lambda: add(desk.session, desk["alice"], desk.clock, "alice", text),
        match="already registered",
    )
    refused(
        database,
        ValidationFailed,
        lambda: add(desk.session, desk["root"], desk.clock, "nobody", text),
        match="unknown user",
    )
    refused(
        database,
        NotFound,
        lambda: user_keys.remove_key(desk.session, desk["alice"], desk.clock, "alice", "AAAA"),
        match="no key SHA256:AAAA",
    )
    # The same key may belong to two people (a shared jump host's key, say).
    add(desk.session, desk["root"], desk.clock, "bob", text)


def test_nobody_logs_in_as_an_unknown_or_deactivated_user(desk: Desk) -> None:
    user_keys.add_key(desk.session, desk["root"], desk.clock, "bob", _public(_key()))
    assert user_keys.login_keys(desk.session, "nobody") is None
    with transaction(desk.session):
        desk.session.execute(update(User).where(col(User.username) == "bob").values(active=False))
    assert user_keys.login_keys(desk.session, "bob") is None


def test_logins_and_logouts_are_chained_audit_entries_of_the_user(desk: Desk) -> None:
    ssh_sessions.record_login(desk.session, desk.clock, "alice", "127.0.0.1:5022", "SHA256:x")
    ssh_sessions.record_logout(desk.session, desk.clock, "alice", 12.4)
    entries = desk.session.exec(
        select(AuditEntry).where(AuditEntry.field == "ssh_session").order_by(col(AuditEntry.id))
    ).all()
    assert [(e.record_type, e.record_id, e.actor_id, e.new_value) for e in entries] == [
        ("user", desk["alice"].id, desk["alice"].id, "login from 127.0.0.1:5022 key SHA256:x"),
        ("user", desk["alice"].id, desk["alice"].id, "logout after 12 s"),
    ]
    assert verify_audit_chain(desk.session, desk.clock.now()).ok


def test_the_authorized_keys_directory(tmp_path: Path) -> None:
    one, two, three = _key(), _key(), _key()
    (tmp_path / "alice").write_text(
        "# alice's keys\n\n"
        f'from="10.0.0.0/8",no-pty {_public(one)}'
        "ssh-rsa AAAAjunk broken\n"
        "not a key at all\n"
    )
    (tmp_path / "alice.pub").write_text(_public(two))
    (tmp_path / "bob.pub").write_text(_public(three))
    alice = directory_keys(tmp_path, "alice")
    assert _blobs([entry.key for entry in alice]) == [one.public_data, two.public_data]
    assert [entry.where for entry in alice] == [
        f"{tmp_path / 'alice'} line 3",
        f"{tmp_path / 'alice.pub'} line 1",
    ]
    assert _blobs([entry.key for entry in directory_keys(tmp_path, "bob")]) == [three.public_data]
    assert directory_keys(tmp_path, "carl") == []
    assert directory_keys(tmp_path, "../" + tmp_path.name + "/bob") == []
    assert directory_keys(None, "alice") == []


def test_user_key_commands(
    sqlite_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    database, desk = seeded_desk(sqlite_url, clock)
    desk.session.close()
    database.dispose()
    cli = Cli(sqlite_url, clock, capsys, user="alice")
    key = _key()
    (tmp_path / "id.pub").write_text(_public(key))
    (tmp_path / "id").write_bytes(key.export_private_key())
    fingerprint = key.get_fingerprint("sha256")

    out = cli.ok("user", "key", "add", "alice", str(tmp_path / "id.pub")).out
    assert out == f"Added key {fingerprint} (ssh-ed25519) for alice.\n"
    listed = cli.json("user", "key", "list", "alice")
    assert [(k["fingerprint"], k["comment"]) for k in listed] == [(fingerprint, "alice@laptop")]
    assert fingerprint in cli.ok("user", "key", "list", "alice").out

    private = cli.run("user", "key", "add", "alice", str(tmp_path / "id"))
    assert (private.code, "private key" in private.err) == (2, True)
    missing = cli.run("user", "key", "add", "alice", str(tmp_path / "nope.pub"))
    assert (missing.code, "cannot read" in missing.err) == (2, True)
    foreign = cli.run("user", "key", "add", "bob", str(tmp_path / "id.pub"))
    assert (foreign.code, "needs the admin role" in foreign.err) == (4, True)

    out = cli.ok("user", "key", "remove", "alice", fingerprint).out
    assert out == f"Removed key {fingerprint} of alice.\n"
    assert cli.json("user", "key", "list", "alice") == []
    assert cli.run("user", "key", "remove", "alice", fingerprint).code == 3


@pytest.mark.parametrize("comment", ["a\x00b", "\x1b]0;pwned\x07"], ids=["nul", "osc"])
def test_a_key_comment_with_nul_or_control_characters_is_refused_by_add_and_import(
    desk: Desk,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    comment: str,
) -> None:
    """`itsm user key add` and `itsm import` share the rule: a NUL broke the INSERT on
    PostgreSQL (exit 1, 'database error'), an escape code was stored and audited."""
    key_type, blob = _public(_key()).split()[:2]
    line = f"{key_type} {blob} {comment}"
    pub = tmp_path / "k.pub"
    pub.write_text(line + "\n", encoding="utf-8")
    users = [{"username": "alice", "role": "agent", "groups": ["Service Desk"], "ssh_keys": [line]}]
    export = tmp_path / "desk.json"
    export.write_text(
        json.dumps({"format": "itsm-tui-export", "version": 1, "users": users}), encoding="utf-8"
    )
    cli = Cli(database.url, desk.clock, capsys)
    cli.ok("user", "list")  # the first run stores the SLA defaults
    since = mark(database)
    added = cli.run("user", "key", "add", "alice", str(pub), user="alice")
    assert added.code == 2 and "the key's comment" in added.err, added
    imported = cli.run("import", str(export))
    assert imported.code == 2 and "the key's comment" in imported.err, imported
    assert not written(database, since).audit
    assert user_keys.list_keys(desk.session, desk["root"], "alice") == []
