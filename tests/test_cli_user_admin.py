"""`itsm user deactivate|activate|update` as an admin's scripts use them: human and JSON
output (the user record, as `user add` prints it), the audit and feed rows each leaves, a
re-run that says so and writes nothing, and every refusal (exit 2, 3, 4) writing nothing."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import pytest

from tests.cli_helpers import Cli, nothing_written

Rows = list[tuple[Any, ...]]


def query(cli: Cli, sql: str, *params: object) -> Rows:
    with closing(sqlite3.connect(cli.url.removeprefix("sqlite:///"))) as connection:
        return connection.execute(sql, params).fetchall()


def newest_ids(cli: Cli) -> tuple[int, int]:
    (row,) = query(
        cli,
        "SELECT (SELECT coalesce(max(id), 0) FROM audit_entries),"
        " (SELECT coalesce(max(id), 0) FROM feed_events)",
    )
    return row[0], row[1]


def since(cli: Cli, ids: tuple[int, int]) -> tuple[Rows, Rows]:
    """(audit rows, feed rows) written after `ids`, with usernames for ids."""
    audit = query(
        cli,
        "SELECT a.record_type, u.username, a.field, a.old_value, a.new_value, actor.username"
        " FROM audit_entries a JOIN users u ON u.id = a.record_id"
        " JOIN users actor ON actor.id = a.actor_id WHERE a.id > ? ORDER BY a.id",
        ids[0],
    )
    feed = query(
        cli,
        "SELECT f.record_type, f.record_number, f.action, actor.username FROM feed_events f"
        " JOIN users actor ON actor.id = f.actor_id WHERE f.id > ? ORDER BY f.id",
        ids[1],
    )
    return audit, feed


def test_deactivate_and_activate(cli: Cli) -> None:
    ids = newest_ids(cli)
    assert cli.ok("user", "deactivate", "Alice").out == "Deactivated user alice.\n"
    assert since(cli, ids) == (
        [("user", "alice", "active", "true", "false", "root")],
        [("user", "alice", "deactivate", "root")],
    )
    users = {u["username"]: u for u in cli.json("user", "list")}
    assert users["alice"]["active"] is False and users["bob"]["active"] is True
    alice_line = next(line for line in cli.ok("user", "list").out.splitlines() if "alice" in line)
    assert alice_line.split()[:3] == ["alice", "agent", "(inactive)"]
    refused_alice = cli.run("incident", "list", user="alice")
    assert refused_alice.code == 4 and "deactivated" in refused_alice.err

    with nothing_written(cli.url):
        again = cli.ok("user", "deactivate", "alice")
    assert again.out == "User alice is already inactive.\n"

    ids = newest_ids(cli)
    back = cli.json("user", "activate", "alice")
    assert back == {
        "username": "alice",
        "display_name": "alice",
        "email": None,
        "role": "agent",
        "active": True,
        "groups": ["Service Desk"],
    }
    assert since(cli, ids) == (
        [("user", "alice", "active", "false", "true", "root")],
        [("user", "alice", "activate", "root")],
    )
    with nothing_written(cli.url):
        assert cli.ok("user", "activate", "alice").out == "User alice is already active.\n"
    assert cli.ok("incident", "list", user="alice").code == 0


def test_update_changes_role_groups_name_and_email(cli: Cli) -> None:
    ids = newest_ids(cli)
    data = cli.json(
        "user",
        "update",
        "bob",
        "--role",
        "supervisor",
        "--group",
        "Security",
        "--group",
        "Service Desk",
        "--display-name",
        "Bob Ops",
        "--email",
        "bob@example.com",
    )
    assert data == {
        "username": "bob",
        "display_name": "Bob Ops",
        "email": "bob@example.com",
        "role": "supervisor",
        "active": True,
        "groups": ["Security", "Service Desk"],
    }
    audit, feed = since(cli, ids)
    assert audit == [
        ("user", "bob", "display_name", "bob", "Bob Ops", "root"),
        ("user", "bob", "email", None, "bob@example.com", "root"),
        ("user", "bob", "role", "agent", "supervisor", "root"),
        ("user", "bob", "groups", "Network", "Security, Service Desk", "root"),
    ]
    assert feed == [("user", "bob", "update", "root")]

    human = cli.ok("user", "update", "bob", "--no-groups", "--email", "")
    assert human.out == "Updated user bob (supervisor).\n"
    bob = {u["username"]: u for u in cli.json("user", "list")}["bob"]
    assert (bob["groups"], bob["email"]) == ([], None)

    with nothing_written(cli.url):
        same = cli.ok("user", "update", "bob", "--role", "supervisor", "--no-groups")
    assert "nothing changed" in same.out


REFUSALS = [
    pytest.param("alice", ["user", "deactivate", "bob"], 4, "admin role", id="agent-deactivates"),
    pytest.param("sue", ["user", "activate", "bob"], 4, "admin role", id="supervisor-activates"),
    pytest.param("vic", ["user", "update", "vic", "--role", "admin"], 4, "admin", id="viewer-up"),
    pytest.param("sue", ["user", "update", "ghost", "--role", "agent"], 4, "admin", id="no-probe"),
    pytest.param("root", ["user", "deactivate", "ghost"], 3, "no user 'ghost'", id="unknown"),
    pytest.param("root", ["user", "activate", "ghost"], 3, "no user 'ghost'", id="unknown-on"),
    pytest.param(
        "root", ["user", "update", "ghost", "--role", "agent"], 3, "ghost", id="unknown-update"
    ),
    pytest.param("root", ["user", "deactivate", "root"], 2, "yourself", id="self"),
    pytest.param(
        "root", ["user", "update", "root", "--role", "agent"], 2, "last active admin", id="last"
    ),
    pytest.param("root", ["user", "update", "bob"], 2, "nothing to change", id="no-flags"),
    pytest.param("root", ["user", "update", "bob", "--group", "Nope"], 2, "Nope", id="no-group"),
    pytest.param(
        "root", ["user", "update", "bob", "--email", "a\x1b[2Jb"], 2, "control", id="escape"
    ),
]


@pytest.mark.parametrize(("user", "argv", "code", "says"), REFUSALS)
def test_refusals_write_nothing(cli: Cli, user: str, argv: list[str], code: int, says: str) -> None:
    with nothing_written(cli.url):
        result = cli.run(*argv, user=user)
    assert result.code == code, (result.code, result.err)
    assert result.out == ""
    assert result.err.startswith("itsm: error: ") and says in result.err, result.err
    assert "Traceback" not in result.err


def test_group_and_no_groups_together_are_a_usage_error(cli: Cli) -> None:
    err = cli.usage_error("user", "update", "bob", "--group", "Network", "--no-groups")
    assert "not allowed with" in err
    assert "--role" in cli.usage_error("user", "update", "bob", "--role", "root")
