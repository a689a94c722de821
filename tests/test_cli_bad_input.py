"""Every way `itsm` refuses: exit 2 (bad input), 3 (not found), 4 (permission denied) and
5 (conflict). Each refusal must write nothing at all (every row of every table is compared
before and after), print nothing on stdout, and say on stderr what was wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm_tui.clock import FixedClock
from tests.cli_helpers import Cli, build_desk, copy_database, nothing_written

INC_WORKING = "INC0000001"  # Service Desk, assigned to alice, in_progress, service Email
INC_NEW = "INC0000002"  # Network, unassigned, new
INC_RESOLVED = "INC0000003"  # Service Desk, resolved
INC_CLOSED = "INC0000004"  # Network, closed
INC_NO_GROUP = "INC0000005"  # no group, new
MISSING = "INC0000099"


def new(*extra: str, title: str = "Mail down") -> list[str]:
    return ["incident", "new", "--title", title, "--impact", "2", "--urgency", "2", *extra]


def update(number: str, *extra: str) -> list[str]:
    return ["incident", "update", number, *extra]


RESOLVE = [
    "--state",
    "resolved",
    "--resolution-code",
    "solved_permanently",
    "--resolution-notes",
    "x",
]
INCIDENTS = [
    new("--group", "Service Desk", "--service", "Email", "--assignee", "alice"),
    update(INC_WORKING, "--state", "in_progress"),
    new("--group", "Network"),
    new("--group", "Service Desk"),
    update(INC_RESOLVED, *RESOLVE),
    new("--group", "Network"),
    update(INC_CLOSED, *RESOLVE),
    update(INC_CLOSED, "--state", "closed"),
    new(),
]


@pytest.fixture(scope="session")
def bad_input_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as patch:  # the autouse isolation is per test
        patch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
        patch.setenv("XDG_DATA_HOME", str(folder / "data"))
        patch.delenv("ITSM_DATABASE_URL", raising=False)
        patch.delenv("ITSM_USER", raising=False)
        build_desk(folder / "desk.sqlite", *INCIDENTS)
    return folder / "desk.sqlite"


@pytest.fixture
def cli(
    bad_input_template: Path,
    sqlite_url: str,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    copy_database(bad_input_template, sqlite_url)
    return Cli(sqlite_url, clock, capsys)


def test_the_incidents_are_as_the_cases_assume(cli: Cli) -> None:
    found = {
        i["number"]: (i["group"], i["assignee"], i["state"], i["version"])
        for i in cli.json("incident", "list")
    }
    assert found == {
        INC_WORKING: ("Service Desk", "alice", "in_progress", 2),
        INC_NEW: ("Network", None, "new", 1),
        INC_RESOLVED: ("Service Desk", None, "resolved", 2),
        INC_CLOSED: ("Network", None, "closed", 3),
        INC_NO_GROUP: (None, None, "new", 1),
    }


def refused(cli: Cli, user: str, argv: list[str], code: int, says: str) -> None:
    with nothing_written(cli.url):
        result = cli.run(*argv, user=user)
    assert result.code == code, (result.code, result.err)
    assert result.out == ""
    assert result.err.startswith("itsm: error: ")
    assert says.lower() in result.err.lower(), result.err
    assert "Traceback" not in result.err


# ---------------------------------------------------------------------------- exit 2: argparse

USAGE_ERRORS = [
    pytest.param(
        ["incident", "new", "--title", "t", "--impact", "7", "--urgency", "1"],
        "--impact",
        id="impact-7",
    ),
    pytest.param(
        ["incident", "new", "--title", "t", "--impact", "1", "--urgency", "0"],
        "--urgency",
        id="urgency-0",
    ),
    pytest.param(
        ["incident", "new", "--title", "t", "--impact", "high", "--urgency", "1"],
        "--impact",
        id="impact-word",
    ),
    pytest.param(
        ["incident", "new", "--title", "t", "--impact", "1.5", "--urgency", "1"],
        "--impact",
        id="impact-float",
    ),
    pytest.param(["incident", "new", "--impact", "1", "--urgency", "1"], "--title", id="no-title"),
    pytest.param(["incident", "new", "--title", "t", "--urgency", "1"], "--impact", id="no-impact"),
    pytest.param(["incident", "list", "--state", "open"], "--state", id="list-bad-state"),
    pytest.param(["incident", "list", "--priority", "6"], "--priority", id="list-priority-6"),
    pytest.param(["incident", "list", "--limit", "ten"], "--limit", id="list-limit-word"),
    pytest.param(["incident", "show"], "number", id="show-no-number"),
    pytest.param(
        ["incident", "update", INC_WORKING, "--state", "done"], "--state", id="update-bad-state"
    ),
    pytest.param(
        ["incident", "update", INC_WORKING, "--state", "on_hold", "--hold-reason", "lunch"],
        "--hold-reason",
        id="bad-hold-reason",
    ),
    pytest.param(
        ["incident", "update", INC_WORKING, "--resolution-code", "fixed"],
        "--resolution-code",
        id="bad-resolution-code",
    ),
    pytest.param(
        ["incident", "update", INC_WORKING, "--major", "--no-major"],
        "not allowed with",
        id="major-and-no-major",
    ),
    pytest.param(
        ["incident", "update", INC_WORKING, "--title", "x", "--expect-version", "v2"],
        "--expect-version",
        id="version-word",
    ),
    pytest.param(["incident", "note", INC_WORKING], "--text", id="note-no-text"),
    pytest.param(["incident", "escalate", INC_WORKING], "--reason", id="escalate-no-reason"),
    pytest.param(["user", "add", "zed", "--role", "wizard"], "--role", id="bad-role"),
    pytest.param(["user", "add", "zed"], "--role", id="no-role"),
    pytest.param(["ci", "add", "db-01"], "--service", id="ci-no-service"),
    pytest.param(
        ["service", "add", "HR", "--criticality", "meh"], "--criticality", id="bad-criticality"
    ),
    pytest.param(["ticket", "list"], "invalid choice", id="unknown-command"),
    pytest.param(["incident"], "required", id="incident-no-action"),
    pytest.param(["user"], "required", id="user-no-action"),
]


@pytest.mark.parametrize(("argv", "says"), USAGE_ERRORS)
def test_usage_errors_exit_2(cli: Cli, argv: list[str], says: str) -> None:
    with nothing_written(cli.url):
        err = cli.usage_error(*argv)
    assert says in err
    assert "usage: itsm" in err


# ---------------------------------------------------------------------------- exit 2: validation


BAD_INPUT = [
    # incident new
    pytest.param("alice", new(title=""), "title: may not be empty", id="empty-title"),
    pytest.param("alice", new(title="   "), "title", id="blank-title"),
    pytest.param("alice", new(title="x" * 201), "title", id="title-too-long"),
    pytest.param("alice", new(title="two\nlines"), "control characters", id="title-newline"),
    pytest.param("alice", new("--group", "Nowhere"), "unknown group 'Nowhere'", id="unknown-group"),
    pytest.param("alice", new("--service", "Fax"), "unknown service 'Fax'", id="unknown-service"),
    pytest.param("alice", new("--ci", "fax-01"), "unknown CI 'fax-01'", id="unknown-ci"),
    pytest.param(
        "alice", new("--assignee", "ghost"), "unknown assignee 'ghost'", id="unknown-assignee"
    ),
    pytest.param("alice", new("--assignee", "vic"), "cannot take incidents", id="viewer-assignee"),
    pytest.param(
        "alice",
        new("--group", "Network", "--assignee", "alice"),
        "not a member",
        id="assignee-outside-group",
    ),
    pytest.param(
        "alice",
        new("--service", "VPN", "--ci", "mail-01"),
        "does not belong",
        id="ci-of-other-service",
    ),
    pytest.param("alice", new("--category", "c" * 61), "category", id="category-too-long"),
    pytest.param("alice", new("--caller", "a\x1bb"), "caller", id="caller-control-char"),
    # incident list
    pytest.param("alice", ["incident", "list", "--limit", "0"], "limit", id="limit-0"),
    pytest.param("alice", ["incident", "list", "--limit", "5000"], "limit", id="limit-5000"),
    pytest.param(
        "alice",
        ["incident", "list", "--group", "Nowhere"],
        "unknown group",
        id="list-unknown-group",
    ),
    pytest.param(
        "alice", ["incident", "list", "--assignee", "ghost"], "ghost", id="list-unknown-assignee"
    ),
    # incident update: workflow guards
    pytest.param(
        "alice", update(INC_WORKING, "--state", "on_hold"), "hold", id="hold-without-reason"
    ),
    pytest.param(
        "alice", update(INC_WORKING, "--state", "resolved"), "resolution", id="resolve-without-code"
    ),
    pytest.param(
        "alice",
        update(INC_WORKING, "--state", "resolved", "--resolution-code", "duplicate"),
        "notes",
        id="resolve-without-notes",
    ),
    pytest.param("sue", update(INC_NEW, "--state", "closed"), "closed", id="close-from-new"),
    pytest.param("sue", update(INC_CLOSED, "--state", "cancelled"), INC_CLOSED, id="cancel-closed"),
    pytest.param(
        "sue", update(INC_RESOLVED, "--state", "in_progress"), "reason", id="reopen-without-reason"
    ),
    pytest.param(
        "sue", update(INC_RESOLVED, "--title", "x"), "reopen it first", id="edit-resolved"
    ),
    pytest.param(
        "sue", update(INC_CLOSED, "--title", "x"), "can no longer change", id="edit-closed"
    ),
    pytest.param(
        "alice",
        update(INC_WORKING, "--hold-reason", "awaiting_caller"),
        "only applies",
        id="hold-reason-not-on-hold",
    ),
    pytest.param(
        "alice",
        update(INC_WORKING, "--resolution-notes", "x"),
        "only apply",
        id="notes-not-resolved",
    ),
    # incident update: values
    pytest.param("alice", update(INC_WORKING), "nothing to change", id="update-without-flags"),
    pytest.param("alice", update(INC_WORKING, "--title", ""), "title", id="update-empty-title"),
    pytest.param(
        "alice",
        update(INC_WORKING, "--group", "Nowhere"),
        "unknown group",
        id="update-unknown-group",
    ),
    pytest.param(
        "alice",
        update(INC_WORKING, "--assignee", "bob"),
        "not a member",
        id="update-assignee-outside-group",
    ),
    pytest.param(
        "alice",
        update(INC_WORKING, "--ci", "vpn-gw-01", "--service", "Email"),
        "does not belong",
        id="update-ci-mismatch",
    ),
    # notes
    pytest.param("alice", ["incident", "note", INC_WORKING, "--text", ""], "text", id="empty-note"),
    pytest.param(
        "alice", ["incident", "note", INC_WORKING, "--text", "  \n "], "text", id="blank-note"
    ),
    pytest.param(
        "sue", ["incident", "note", INC_CLOSED, "--text", "late"], "closed", id="note-on-closed"
    ),
    # escalation
    pytest.param(
        "alice", ["incident", "escalate", INC_WORKING, "--reason", ""], "reason", id="empty-reason"
    ),
    pytest.param(
        "alice",
        ["incident", "escalate", INC_WORKING, "--reason", "x", "--to-group", "Nowhere"],
        "unknown group",
        id="escalate-unknown-group",
    ),
    pytest.param(
        "alice",
        ["incident", "escalate", INC_WORKING, "--reason", "x", "--to-group", "Service Desk"],
        "already with",
        id="escalate-same-group",
    ),
    pytest.param(
        "sue",
        ["incident", "escalate", INC_NO_GROUP, "--reason", "x"],
        "--to-group",
        id="escalate-no-target",
    ),
    pytest.param(
        "sue",
        ["incident", "escalate", INC_RESOLVED, "--reason", "x"],
        "only open",
        id="escalate-resolved",
    ),
    # directory
    pytest.param(
        "root", ["user", "add", "alice", "--role", "agent"], "already exists", id="duplicate-user"
    ),
    pytest.param(
        "root", ["user", "add", "Bad Name", "--role", "agent"], "username", id="bad-username"
    ),
    pytest.param(
        "root", ["user", "add", "me", "--role", "agent"], "reserved", id="reserved-username"
    ),
    pytest.param(
        "root",
        ["user", "add", "zed", "--role", "agent", "--group", "Nowhere"],
        "unknown group",
        id="user-unknown-group",
    ),
    pytest.param("root", ["group", "add", "Network"], "already exists", id="duplicate-group"),
    pytest.param("root", ["group", "add", ""], "name", id="empty-group-name"),
    pytest.param(
        "root",
        ["group", "add", "Ops", "--escalates-to", "Nowhere"],
        "unknown group",
        id="escalates-to-unknown",
    ),
    pytest.param("root", ["service", "add", "Email"], "already exists", id="duplicate-service"),
    pytest.param(
        "root",
        ["ci", "add", "fax-01", "--service", "Fax"],
        "unknown service",
        id="ci-unknown-service",
    ),
    pytest.param(
        "root", ["ci", "add", "mail-01", "--service", "Email"], "already exists", id="duplicate-ci"
    ),
    pytest.param(
        "root", ["ci", "list", "--service", "Fax"], "unknown service", id="ci-list-unknown-service"
    ),
]


@pytest.mark.parametrize(("user", "argv", "says"), BAD_INPUT)
def test_bad_input_exits_2_and_writes_nothing(
    cli: Cli, user: str, argv: list[str], says: str
) -> None:
    refused(cli, user, argv, 2, says)


def test_an_unknown_reference_says_how_to_list_the_valid_ones(cli: Cli) -> None:
    refused(cli, "alice", new("--group", "Nowhere"), 2, "itsm group list")
    refused(cli, "alice", new("--service", "Fax"), 2, "itsm service list")


def test_a_refused_update_leaves_the_version_alone(cli: Cli) -> None:
    before = cli.show(INC_WORKING)
    refused(cli, "alice", update(INC_WORKING, "--state", "on_hold"), 2, "hold")
    assert cli.show(INC_WORKING) == before


def test_a_refused_json_command_prints_no_document(cli: Cli) -> None:
    refused(cli, "alice", [*new(title=""), "--json"], 2, "title")
    refused(cli, "alice", ["incident", "show", MISSING, "--json"], 3, MISSING)


# ---------------------------------------------------------------------------- exit 3


@pytest.mark.parametrize(
    "argv",
    [
        ["incident", "show", MISSING],
        ["incident", "update", MISSING, "--title", "x"],
        ["incident", "update", MISSING, "--state", "in_progress", "--expect-version", "1"],
        ["incident", "note", MISSING, "--text", "x"],
        ["incident", "escalate", MISSING, "--reason", "x"],
    ],
    ids=["show", "update", "update-with-version", "note", "escalate"],
)
def test_unknown_incident_exits_3(cli: Cli, argv: list[str]) -> None:
    refused(cli, "sue", argv, 3, f"no incident {MISSING}")
    assert "itsm incident list" in cli.run(*argv, user="sue").err


def test_a_malformed_number_is_not_found_too(cli: Cli) -> None:
    refused(cli, "sue", ["incident", "show", "CHG0000001"], 3, "no incident CHG0000001")


# ---------------------------------------------------------------------------- exit 4

PERMISSION_DENIED = [
    # viewers only read
    pytest.param("vic", new(), "viewers have read-only access", id="viewer-new"),
    pytest.param("vic", update(INC_WORKING, "--title", "x"), "read-only", id="viewer-update"),
    pytest.param(
        "vic",
        update(INC_WORKING, "--state", "on_hold", "--hold-reason", "awaiting_caller"),
        "read-only",
        id="viewer-transition",
    ),
    pytest.param(
        "vic", ["incident", "note", INC_WORKING, "--text", "hi"], "read-only", id="viewer-note"
    ),
    pytest.param(
        "vic",
        ["incident", "note", INC_WORKING, "--text", "hi", "--comment"],
        "read-only",
        id="viewer-comment",
    ),
    pytest.param(
        "vic",
        ["incident", "escalate", INC_WORKING, "--reason", "x"],
        "read-only",
        id="viewer-escalate",
    ),
    # agents work their own groups' incidents
    pytest.param(
        "bob",
        update(INC_WORKING, "--title", "x"),
        "(agent) may not",
        id="agent-update-other-group",
    ),
    pytest.param(
        "bob",
        update(INC_WORKING, "--state", "on_hold", "--hold-reason", "awaiting_caller"),
        "(agent) may not",
        id="agent-transition-other-group",
    ),
    pytest.param(
        "bob",
        update(INC_WORKING, "--group", "Network"),
        "(agent) may not",
        id="agent-assign-other-group",
    ),
    pytest.param(
        "alice",
        update(INC_NEW, "--assignee", "bob"),
        "(agent) may not",
        id="agent-assign-into-other-group",
    ),
    pytest.param(
        "bob",
        ["incident", "escalate", INC_WORKING, "--reason", "x"],
        "(agent) may not",
        id="agent-escalate-other-group",
    ),
    pytest.param(
        "alice",
        update(INC_WORKING, "--major"),
        "only supervisors and admins",
        id="agent-declares-major",
    ),
    # directory is admin only
    pytest.param(
        "sue", ["user", "add", "zed", "--role", "agent"], "admin role", id="supervisor-user-add"
    ),
    pytest.param(
        "alice", ["user", "add", "zed", "--role", "admin"], "admin role", id="agent-makes-admin"
    ),
    pytest.param("alice", ["group", "add", "Ops"], "admin role", id="agent-group-add"),
    pytest.param("sue", ["service", "add", "HR"], "admin role", id="supervisor-service-add"),
    pytest.param(
        "bob", ["ci", "add", "db-01", "--service", "Email"], "admin role", id="agent-ci-add"
    ),
    pytest.param("vic", ["group", "add", "Ops"], "admin role", id="viewer-group-add"),
]


@pytest.mark.parametrize(("user", "argv", "says"), PERMISSION_DENIED)
def test_permission_denied_exits_4_and_writes_nothing(
    cli: Cli, user: str, argv: list[str], says: str
) -> None:
    refused(cli, user, argv, 4, says)


@pytest.mark.parametrize(
    "argv",
    [
        ["incident", "list"],
        ["incident", "show", INC_WORKING],
        new(),
        ["incident", "note", INC_WORKING, "--text", "hi"],
        ["user", "list"],
        ["group", "list"],
        ["user", "add", "ghost", "--role", "admin"],
    ],
    ids=["list", "show", "new", "note", "user-list", "group-list", "self-add"],
)
def test_an_unknown_acting_user_is_told_how_to_get_added(cli: Cli, argv: list[str]) -> None:
    refused(cli, "ghost", argv, 4, "unknown user 'ghost'")
    err = cli.run(*argv, user="ghost").err
    assert "itsm user add ghost --role" in err
    assert "--user NAME" in err


def test_an_agent_may_still_note_anywhere_and_work_the_untriaged_pool(cli: Cli) -> None:
    """The counterpart of the refusals above, so they are not refusing everything."""
    assert cli.ok("incident", "note", INC_WORKING, "--text", "fyi", user="bob").code == 0
    data = cli.json("incident", "update", INC_NO_GROUP, "--assignee", "bob", user="bob")
    assert data["assignee"] == "bob"


# ---------------------------------------------------------------------------- exit 5


def test_stale_expect_version_exits_5_and_leaves_the_record_unchanged(cli: Cli) -> None:
    seen = cli.show(INC_WORKING, user="alice")
    cli.clock.advance(minutes=1)
    cli.ok("incident", "update", INC_WORKING, "--title", "Mail down (sue)", user="sue")
    after_sue = cli.show(INC_WORKING)
    assert after_sue["version"] == seen["version"] + 1

    stale = str(seen["version"])
    argv = update(INC_WORKING, "--title", "Mail down (alice)", "--expect-version", stale)
    refused(cli, "alice", argv, 5, f"version {after_sue['version']}, not {stale}")
    assert "itsm incident show" in cli.run(*argv, user="alice").err
    now = cli.show(INC_WORKING)
    assert now == after_sue
    assert now["title"] == "Mail down (sue)"


@pytest.mark.parametrize(
    "argv",
    [
        update(
            INC_WORKING,
            "--state",
            "on_hold",
            "--hold-reason",
            "awaiting_caller",
            "--expect-version",
            "1",
        ),
        update(INC_WORKING, "--title", "x", "--expect-version", "99"),
        ["incident", "escalate", INC_WORKING, "--reason", "x", "--expect-version", "1"],
    ],
    ids=["transition", "future-version", "escalate"],
)
def test_conflicts_exit_5(cli: Cli, argv: list[str]) -> None:
    assert cli.show(INC_WORKING)["version"] == 2
    refused(cli, "sue", argv, 5, "version 2")
