"""The `itsm` command as scripts use it: every command's happy path, human and JSON output, the
global flags, and one run of the installed console script. Refusals (exit codes 2-5) live in
test_cli_bad_input.py.

Commands run in-process through `itsm_tui.cli.main(argv, clock=...)` on SQLite; the directory
every test starts from is built once through the CLI itself and copied per test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from itsm_tui import config
from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.services.demo_problems import story_incident_count
from tests.cli_helpers import Cli, copy_database, db_state
from tests.conftest import copy_of_built

ESC = "\x1b"
INCIDENT_FIELDS = {
    "number",
    "title",
    "state",
    "impact",
    "urgency",
    "priority",
    "assignee",
    "group",
    "version",
    "opened_at",
}

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def empty_cli(sqlite_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI on a database that does not exist yet."""
    return Cli(sqlite_url, clock, capsys)


# ---------------------------------------------------------------------------- init, bootstrap


def test_init_creates_the_schema_and_is_idempotent(empty_cli: Cli) -> None:
    first = empty_cli.ok("init")
    assert "Schema is up to date" in first.out
    assert empty_cli.json("init") == {"database": "sqlite:itsm.sqlite", "status": "ok"}
    tables = set(db_state(empty_cli.url))
    assert {"users", "groups", "incidents", "journal_entries", "audit_entries"} <= tables
    assert tables >= {"feed_events", "alembic_version"}
    assert db_state(empty_cli.url)["users"] == []  # init alone creates nobody


def test_first_user_of_an_empty_database_becomes_admin(empty_cli: Cli) -> None:
    empty_cli.ok("init")
    assert empty_cli.json("group", "add", "Ops", user="boss")["name"] == "Ops"
    users = empty_cli.json("user", "list", user="boss")
    assert [(u["username"], u["role"]) for u in users] == [("boss", "admin")]
    # Only the very first: the next stranger is refused, and can be added by the admin.
    refused = empty_cli.run("group", "add", "Other", user="eve")
    assert refused.code == 4
    assert "itsm user add eve" in refused.err
    empty_cli.ok("user", "add", "eve", "--role", "agent", "--group", "Ops", user="boss")
    assert empty_cli.json("group", "list", user="eve")[0]["members"] == ["eve"]


def test_reading_bootstraps_an_empty_database_too(empty_cli: Cli) -> None:
    empty_cli.ok("init")
    assert empty_cli.json("incident", "list", user="first") == []
    users = empty_cli.json("user", "list", user="first")
    assert [(u["username"], u["role"]) for u in users] == [("first", "admin")]


# ---------------------------------------------------------------------------- directory


def test_user_add_and_list(cli: Cli) -> None:
    added = cli.ok(
        "user",
        "add",
        "dave",
        "--role",
        "change_manager",
        "--group",
        "Network",
        "--group",
        "Security",
        "--display-name",
        "Dave Ops",
        "--email",
        "dave@example.com",
    )
    assert added.out.strip() == "Added user dave (change_manager)."
    users = {u["username"]: u for u in cli.json("user", "list")}
    assert set(users) == {"root", "sue", "alice", "bob", "vic", "dave"}
    assert users["dave"] == {
        "username": "dave",
        "display_name": "Dave Ops",
        "email": "dave@example.com",
        "role": "change_manager",
        "active": True,
        "groups": ["Network", "Security"],
    }
    assert users["root"]["role"] == "admin"
    assert users["vic"]["groups"] == []
    human = cli.ok("user", "list").out.splitlines()
    assert human[0].split() == ["USERNAME", "ROLE", "NAME", "GROUPS"]
    dave_line = next(line for line in human if line.startswith("dave"))
    assert "change_manager" in dave_line and "Network, Security" in dave_line
    vic_line = next(line for line in human if line.startswith("vic"))
    assert vic_line.split()[-1] == "-"


def test_user_add_json_is_the_new_user(cli: Cli) -> None:
    data = cli.json("user", "add", "erin", "--role", "agent")
    assert data["username"] == "erin" and data["role"] == "agent" and data["groups"] == []


def test_group_add_and_list(cli: Cli) -> None:
    added = cli.json("group", "add", "Database", "--escalates-to", "Security")
    assert added == {
        "name": "Database",
        "description": "",
        "escalates_to": "Security",
        "members": [],
    }
    groups = {g["name"]: g for g in cli.json("group", "list")}
    assert list(groups) == sorted(groups)
    assert groups["Service Desk"]["escalates_to"] == "Network"
    assert groups["Network"]["members"] == ["bob", "sue"]
    assert groups["Security"]["escalates_to"] is None
    human = cli.ok("group", "list").out.splitlines()
    assert human[0].split() == ["GROUP", "ESCALATES", "TO", "MEMBERS"]
    assert any(line.split() == ["Network", "Security", "2"] for line in human)
    assert "Added group Apps." in cli.ok("group", "add", "Apps").out


def test_service_and_ci_add_and_list(cli: Cli) -> None:
    assert cli.json("service", "add", "Payroll", "--criticality", "critical") == {
        "name": "Payroll",
        "description": "",
        "criticality": "critical",
    }
    assert "Added service HR." in cli.ok("service", "add", "HR").out
    services = {s["name"]: s["criticality"] for s in cli.json("service", "list")}
    assert services == {"Email": "high", "HR": "medium", "Payroll": "critical", "VPN": "medium"}

    assert cli.json("ci", "add", "pay-db-01", "--service", "Payroll", "--class", "database") == {
        "name": "pay-db-01",
        "ci_class": "database",
        "service": "Payroll",
        "criticality": None,
        "maintenance": [],
    }
    assert (
        "Added CI pay-app-01 to Payroll."
        in cli.ok("ci", "add", "pay-app-01", "--service", "Payroll").out
    )
    items = cli.json("ci", "list")
    assert [c["name"] for c in items] == ["mail-01", "pay-app-01", "pay-db-01", "vpn-gw-01"]
    only_payroll = cli.json("ci", "list", "--service", "Payroll")
    assert [(c["name"], c["ci_class"]) for c in only_payroll] == [
        ("pay-app-01", "server"),
        ("pay-db-01", "database"),
    ]
    human = cli.ok("ci", "list").out.splitlines()
    assert human[0].split() == ["CI", "CLASS", "SERVICE", "CRITICALITY", "MAINTENANCE"]
    assert any(line.split() == ["vpn-gw-01", "gateway", "VPN", "(service)", "-"] for line in human)


@pytest.mark.parametrize("user", ["alice", "vic"])
def test_anyone_known_may_read_the_directory(cli: Cli, user: str) -> None:
    expected = {
        "user": ("username", "alice"),
        "group": ("name", "Service Desk"),
        "service": ("name", "VPN"),
        "ci": ("name", "vpn-gw-01"),
    }
    for what, (key, value) in expected.items():
        assert value in [row[key] for row in cli.json(what, "list", user=user)]


# ---------------------------------------------------------------------------- incident new


def test_incident_new_with_every_flag(cli: Cli) -> None:
    data = cli.new_incident(
        title="Mail delivery delayed",
        impact="1",
        urgency="1",
        description="Queue is growing\nsince 08:40",
        service="Email",
        ci="mail-01",
        category="email",
        group="Service Desk",
        assignee="alice",
        caller="Carol from Finance",
        user="alice",
    )
    assert set(data) >= INCIDENT_FIELDS
    assert data["number"] == "INC0000001"
    assert data["title"] == "Mail delivery delayed"
    assert data["description"] == "Queue is growing\nsince 08:40"
    assert (data["impact"], data["urgency"], data["priority"]) == (1, 1, 1)
    assert data["state"] == "new"
    assert (data["service"], data["ci"], data["category"]) == ("Email", "mail-01", "email")
    assert (data["group"], data["assignee"]) == ("Service Desk", "alice")
    assert data["caller"] == "Carol from Finance"
    assert data["opened_by"] == "alice"
    assert data["version"] == 1
    assert data["major"] is False


def test_incident_json_times_are_iso_8601_utc(cli: Cli) -> None:
    data = cli.new_incident()
    opened = datetime.fromisoformat(data["opened_at"])
    assert opened == cli.clock.now()
    assert opened.utcoffset() == timedelta(0)
    assert data["opened_at"].endswith(("Z", "+00:00"))
    assert data["resolved_at"] is None


def test_incident_new_minimal_and_human_output(cli: Cli) -> None:
    result = cli.ok("incident", "new", "--title", "VPN flaps", "--impact", "3", "--urgency", "2")
    assert result.out.strip() == "Created INC0000001 (P4): VPN flaps"
    data = cli.show("INC0000001")
    assert data["group"] is None and data["assignee"] is None and data["description"] == ""


def test_a_ci_alone_implies_its_service(cli: Cli) -> None:
    assert cli.new_incident(ci="vpn-gw-01")["service"] == "VPN"


def test_priority_follows_the_itil_matrix(cli: Cli) -> None:
    matrix = {(1, 1): 1, (1, 2): 2, (2, 1): 2, (1, 3): 3, (2, 2): 3, (3, 1): 3}
    matrix |= {(2, 3): 4, (3, 2): 4, (3, 3): 5}
    for (impact, urgency), priority in matrix.items():
        data = cli.new_incident(impact=str(impact), urgency=str(urgency))
        assert data["priority"] == priority, (impact, urgency)


def test_numbers_are_sequential(cli: Cli) -> None:
    numbers = [cli.new_incident(title=f"t{i}")["number"] for i in range(3)]
    assert numbers == ["INC0000001", "INC0000002", "INC0000003"]


# ---------------------------------------------------------------------------- incident list


@pytest.fixture
def queue(cli: Cli, desk_template: Path) -> Cli:
    """Five incidents opened an hour apart (INC1 oldest):
    INC1 P1 Service Desk/alice in_progress; INC2 P3 Network/bob; INC3 P5 no group;
    INC4 P2 Service Desk unassigned on_hold; INC5 P4 Network resolved.
    Made through the CLI once per test process and copied; the clock stands where the
    last command left it, as if the commands had just run."""
    when = cli.clock.now()

    def build(url: str) -> None:
        copy_database(desk_template, url)
        clock = FixedClock(when)
        _fill_queue(Cli(url, clock, cli.capsys))
        assert clock.now() == when + timedelta(hours=QUEUE_HOURS)

    copy_of_built(cli.url, ("test_cli.queue", when), build)
    cli.capsys.readouterr()
    cli.clock.advance(hours=QUEUE_HOURS)
    return cli


QUEUE_HOURS = 4  # the clock advances an hour between incidents


def _fill_queue(cli: Cli) -> None:
    cli.new_incident(title="Mail down for Finance", impact="1", urgency="1", group="Service Desk")
    cli.ok("incident", "update", "INC0000001", "--state", "in_progress", "--assignee", "alice")
    cli.clock.advance(hours=1)
    cli.new_incident(title="VPN gateway flapping", group="Network", assignee="bob")
    cli.clock.advance(hours=1)
    cli.new_incident(
        title="Printer 100% toner warning", impact="3", urgency="3", description="Floor 2"
    )
    cli.clock.advance(hours=1)
    cli.new_incident(title="Laptop_42 will not boot", impact="1", urgency="2", group="Service Desk")
    cli.ok(
        "incident", "update", "INC0000004", "--state", "on_hold", "--hold-reason", "awaiting_vendor"
    )
    cli.clock.advance(hours=1)
    cli.new_incident(title="Slow Wi-Fi", impact="2", urgency="3", group="Network")
    cli.ok(
        "incident",
        "update",
        "INC0000005",
        "--state",
        "resolved",
        "--resolution-code",
        "solved_workaround",
        "--resolution-notes",
        "Moved to 5 GHz",
    )


def numbers(records: list[dict[str, Any]]) -> list[str]:
    return [r["number"].removeprefix("INC000000") for r in records]


def test_list_is_a_json_array_newest_first(queue: Cli) -> None:
    records = queue.json("incident", "list")
    assert isinstance(records, list)
    assert numbers(records) == ["5", "4", "3", "2", "1"]
    assert all(set(r) >= INCIDENT_FIELDS for r in records)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--state", "new"], ["3", "2"]),
        (["--state", "on_hold", "--state", "resolved"], ["5", "4"]),
        (["--priority", "1"], ["1"]),
        (["--priority", "1", "--priority", "2"], ["4", "1"]),
        (["--group", "Network"], ["5", "2"]),
        (["--assignee", "bob"], ["2"]),
        (["--assignee", "none"], ["5", "4", "3"]),
        (["--search", "mail"], ["1"]),
        (["--search", "MAIL"], ["1"]),
        (["--search", "floor 2"], ["3"]),  # description
        (["--search", "0000004"], ["4"]),  # number
        (["--search", "100%"], ["3"]),  # % is literal, not a wildcard
        (["--search", "p_42"], ["4"]),  # _ is literal too
        (["--search", "1_0"], []),
        (["--group", "Service Desk", "--state", "in_progress"], ["1"]),
        (["--limit", "2"], ["5", "4"]),
        (["--state", "closed"], []),
    ],
)
def test_list_filters(queue: Cli, filters: list[str], expected: list[str]) -> None:
    result = queue.run("incident", "list", *filters, "--json")
    assert result.code == 0, result.err
    assert numbers(result.json()) == expected


def test_one_process_running_many_commands_carries_no_flag_into_the_next(queue: Cli) -> None:
    """`main` reuses one parser per process: repeated flags given to one command (appended
    lists) and values given once are never seen by the next command, which lists all."""
    for filters in (["--state", "on_hold", "--state", "resolved"], ["--group", "Network"]):
        assert queue.run("incident", "list", *filters, "--json").code == 0
        assert numbers(queue.json("incident", "list")) == ["5", "4", "3", "2", "1"]
    assert numbers(queue.json("incident", "list", "--priority", "1")) == ["1"]
    assert numbers(queue.json("incident", "list", "--priority", "2")) == ["4"]
    queue.ok("user", "add", "dave", "--role", "agent", "--group", "Network", "--group", "Security")
    queue.ok("user", "add", "erin", "--role", "agent")
    groups = {u["username"]: u["groups"] for u in queue.json("user", "list")}
    assert (groups["dave"], groups["erin"]) == (["Network", "Security"], [])


def test_a_list_cut_at_the_limit_says_so_on_stderr_only(queue: Cli) -> None:
    cut = queue.run("incident", "list", "--limit", "2", "--json")
    assert len(cut.json()) == 2
    assert "showing the first 2" in cut.err
    whole = queue.run("incident", "list", "--limit", "1000", "--json")
    assert whole.err == ""


def test_list_assignee_me_means_the_acting_user(queue: Cli) -> None:
    assert numbers(queue.json("incident", "list", "--assignee", "me", user="alice")) == ["1"]
    assert queue.json("incident", "list", "--assignee", "me", user="sue") == []


def test_list_human_output(queue: Cli) -> None:
    lines = queue.ok("incident", "list").out.splitlines()
    assert lines[0].split() == ["NUMBER", "PRI", "STATE", "GROUP", "ASSIGNEE", "OPENED", "TITLE"]
    assert len(lines) == 6
    first = lines[-1]
    assert first.startswith("INC0000001")
    for text in ("P1", "in_progress", "Service Desk", "alice", "2026-03-02 09:00 UTC"):
        assert text in first
    assert "Mail down for Finance" in first
    assert queue.ok("incident", "list", "--state", "closed").out.strip() == "No incidents match."


def test_list_clips_long_titles_in_human_output_only(cli: Cli) -> None:
    title = "x" * 150
    cli.new_incident(title=title)
    human = cli.ok("incident", "list").out
    assert title not in human and "x" * 59 + "…" in human
    assert cli.json("incident", "list")[0]["title"] == title


def test_viewers_may_list_and_show(queue: Cli) -> None:
    assert len(queue.json("incident", "list", user="vic")) == 5
    assert queue.show("INC0000002", user="vic")["assignee"] == "bob"


# ---------------------------------------------------------------------------- incident show


def test_show_json_has_journal_and_audit(cli: Cli) -> None:
    cli.new_incident(title="Mail down", group="Service Desk", assignee="alice", user="alice")
    cli.clock.advance(minutes=5)
    cli.ok("incident", "note", "INC0000001", "--text", "Looking at the queue", user="alice")
    data = cli.show("INC0000001")
    assert set(data) >= INCIDENT_FIELDS
    assert data["number"] == "INC0000001"
    assert [(j["kind"], j["author"], j["body"]) for j in data["journal"]] == [
        ("work_note", "alice", "Looking at the queue")
    ]
    assert datetime.fromisoformat(data["journal"][0]["created_at"]) == cli.clock.now()
    audit = {a["field"]: a for a in data["audit"]}
    assert audit["title"]["new_value"] == "Mail down"
    assert audit["state"]["old_value"] is None and audit["state"]["new_value"] == "new"
    assert audit["assignee"]["new_value"] == "alice"
    assert all(a["actor"] == "alice" for a in data["audit"])


def test_show_accepts_lower_case_numbers(cli: Cli) -> None:
    cli.new_incident()
    assert cli.show("inc0000001")["number"] == "INC0000001"


def test_show_human_output(cli: Cli) -> None:
    cli.new_incident(
        title="Mail down",
        description="Line one\nLine two",
        service="Email",
        group="Service Desk",
        assignee="alice",
        caller="Carol",
    )
    cli.ok("incident", "note", "INC0000001", "--text", "Called Carol back", "--comment")
    out = cli.ok("incident", "show", "INC0000001").out
    lines = out.splitlines()
    assert lines[0] == "INC0000001"
    for label, value in [
        ("Title:", "Mail down"),
        ("State:", "new"),
        ("Priority:", "P3 (impact 2, urgency 2)"),
        ("Service:", "Email"),
        ("Group:", "Service Desk"),
        ("Assignee:", "alice"),
        ("Caller:", "Carol"),
        ("Opened:", "2026-03-02 09:00 UTC by root"),
        ("Version:", "2"),  # the first comment set responded_at
    ]:
        assert any(line.split(None, 1) == [label, value] for line in lines), (label, out)
    assert "Description:\n  Line one\n  Line two" in out
    assert "Journal:" in out and "comment" in out and "Called Carol back" in out


# ---------------------------------------------------------------------------- incident update


@pytest.fixture
def inc(cli: Cli) -> Cli:
    """INC0000001: Service Desk, unassigned, P3, new, version 1."""
    cli.new_incident(title="Mail down", group="Service Desk", service="Email")
    return cli


def test_update_takes_and_starts_work(inc: Cli) -> None:
    inc.clock.advance(minutes=10)
    result = inc.ok(
        "incident",
        "update",
        "INC0000001",
        "--state",
        "in_progress",
        "--assignee",
        "alice",
        user="alice",
    )
    assert result.out.strip() == "Updated INC0000001 (version 2, in_progress)."
    data = inc.show("INC0000001")
    assert (data["state"], data["assignee"], data["version"]) == ("in_progress", "alice", 2)
    assert datetime.fromisoformat(data["responded_at"]) == inc.clock.now()
    changed = {(a["field"], a["old_value"], a["new_value"]) for a in data["audit"][-3:]}
    assert ("state", "new", "in_progress") in changed
    assert ("assignee", None, "alice") in changed


def test_update_through_the_whole_lifecycle(inc: Cli) -> None:
    def update(*flags: str, user: str = "alice") -> dict[str, Any]:
        return inc.json("incident", "update", "INC0000001", *flags, user=user)

    assert update("--state", "in_progress", "--assignee", "alice")["version"] == 2
    held = update("--state", "on_hold", "--hold-reason", "awaiting_caller")
    assert (held["state"], held["hold_reason"], held["version"]) == (
        "on_hold",
        "awaiting_caller",
        3,
    )
    assert "on_hold (awaiting_caller)" in inc.ok("incident", "show", "INC0000001").out
    changed_reason = update("--state", "on_hold", "--hold-reason", "awaiting_vendor")
    assert changed_reason["hold_reason"] == "awaiting_vendor"
    back = update("--state", "in_progress")
    assert (back["state"], back["hold_reason"]) == ("in_progress", None)
    inc.clock.advance(hours=2)
    resolved = update(
        "--state",
        "resolved",
        "--resolution-code",
        "solved_permanently",
        "--resolution-notes",
        "Restarted the MTA",
    )
    assert resolved["state"] == "resolved"
    assert resolved["resolution_code"] == "solved_permanently"
    assert resolved["resolution_notes"] == "Restarted the MTA"
    assert datetime.fromisoformat(resolved["resolved_at"]) == inc.clock.now()

    reopened = update("--state", "in_progress", "--reason", "Caller says it is back")
    assert reopened["state"] == "in_progress"
    assert reopened["resolution_code"] is None and reopened["resolved_at"] is None
    journal = inc.show("INC0000001")["journal"]
    assert journal[-1]["kind"] == "system"
    assert "resolved -> in_progress" in journal[-1]["body"]
    assert "Caller says it is back" in journal[-1]["body"]

    update(
        "--state",
        "resolved",
        "--resolution-code",
        "resolved_by_caller",
        "--resolution-notes",
        "Caller fixed it",
    )
    closed = update("--state", "closed")
    assert closed["state"] == "closed"
    assert datetime.fromisoformat(closed["closed_at"]) == inc.clock.now()
    states = [a["new_value"] for a in inc.show("INC0000001")["audit"] if a["field"] == "state"]
    assert states == [
        "new",
        "in_progress",
        "on_hold",
        "in_progress",
        "resolved",
        "in_progress",
        "resolved",
        "closed",
    ]


def test_cancel_from_new(inc: Cli) -> None:
    data = inc.json("incident", "update", "INC0000001", "--state", "cancelled", "--reason", "dup")
    assert data["state"] == "cancelled"


def test_update_fields_and_priority(inc: Cli) -> None:
    data = inc.json(
        "incident",
        "update",
        "INC0000001",
        "--title",
        "Mail down for everyone",
        "--description",
        "All users",
        "--impact",
        "1",
        "--urgency",
        "1",
        user="alice",
    )
    assert data["title"] == "Mail down for everyone"
    assert data["description"] == "All users"
    assert (data["impact"], data["urgency"], data["priority"]) == (1, 1, 1)
    assert data["version"] == 2
    audit = {a["field"]: (a["old_value"], a["new_value"]) for a in inc.show("INC0000001")["audit"]}
    assert audit["priority"] == ("3", "1")
    only_urgency = inc.json("incident", "update", "INC0000001", "--urgency", "3")
    assert only_urgency["priority"] == 3  # impact 1 kept, urgency 3


def test_update_major_flag_by_a_supervisor(inc: Cli) -> None:
    data = inc.json("incident", "update", "INC0000001", "--major", user="sue")
    assert data["major"] is True
    assert "P3!" in inc.ok("incident", "list").out
    assert inc.json("incident", "update", "INC0000001", "--no-major", user="sue")["major"] is False


def test_update_reassign_and_unassign(inc: Cli) -> None:
    inc.ok("incident", "update", "INC0000001", "--assignee", "alice")
    moved = inc.json("incident", "update", "INC0000001", "--group", "Network", user="sue")
    # alice is not in Network, so the move leaves the incident unassigned.
    assert (moved["group"], moved["assignee"]) == ("Network", None)
    taken = inc.json("incident", "update", "INC0000001", "--assignee", "bob", user="bob")
    assert taken["assignee"] == "bob"
    cleared = inc.json("incident", "update", "INC0000001", "--assignee", "none", user="bob")
    assert cleared["assignee"] is None


def test_update_with_the_current_version_succeeds(inc: Cli) -> None:
    data = inc.json("incident", "update", "INC0000001", "--title", "New", "--expect-version", "1")
    assert data["version"] == 2
    data = inc.json("incident", "update", "INC0000001", "--title", "Newer", "--expect-version", "2")
    assert (data["title"], data["version"]) == ("Newer", 3)


# ---------------------------------------------------------------------------- note, escalate


def test_note_and_comment(inc: Cli) -> None:
    note = inc.ok("incident", "note", "inc0000001", "--text", "Checked logs", user="bob")
    assert note.out.strip() == "Added a work note to INC0000001."
    comment = inc.json(
        "incident", "note", "INC0000001", "--text", "We are on it", "--comment", user="alice"
    )
    assert comment["kind"] == "comment" and comment["author"] == "alice"
    assert comment["body"] == "We are on it"
    data = inc.show("INC0000001")
    assert [(j["kind"], j["author"], j["body"]) for j in data["journal"]] == [
        ("work_note", "bob", "Checked logs"),
        ("comment", "alice", "We are on it"),
    ]
    # A first customer-visible reply counts as the response.
    assert datetime.fromisoformat(data["responded_at"]) == inc.clock.now()


def test_multiline_notes_keep_their_lines(inc: Cli) -> None:
    inc.ok("incident", "note", "INC0000001", "--text", "step 1\nstep 2\ttabbed")
    out = inc.ok("incident", "show", "INC0000001").out
    assert "    step 1\n    step 2\ttabbed" in out


def test_escalate_to_the_escalation_group(inc: Cli) -> None:
    inc.ok("incident", "update", "INC0000001", "--assignee", "alice")
    result = inc.ok(
        "incident", "escalate", "INC0000001", "--reason", "Needs network access", user="alice"
    )
    assert result.out.strip() == "Escalated INC0000001 to Network."
    data = inc.show("INC0000001")
    assert (data["group"], data["assignee"]) == ("Network", None)
    assert data["journal"][-1]["kind"] == "system"
    assert data["journal"][-1]["body"] == (
        "Escalated from Service Desk to Network: Needs network access"
    )
    audit = {a["field"]: (a["old_value"], a["new_value"]) for a in data["audit"][-2:]}
    assert audit == {"group": ("Service Desk", "Network"), "assignee": ("alice", None)}


def test_escalate_to_a_named_group_with_json(inc: Cli) -> None:
    data = inc.json(
        "incident",
        "escalate",
        "INC0000001",
        "--reason",
        "Phishing",
        "--to-group",
        "Security",
        "--expect-version",
        "1",
        user="sue",
    )
    assert (data["group"], data["version"]) == ("Security", 2)


# ---------------------------------------------------------------------------- global flags


@pytest.mark.parametrize(
    "layout",
    ["all-before", "all-after", "mixed", "json-before"],
)
def test_global_flags_work_before_and_after_the_command(inc: Cli, layout: str) -> None:
    db, user = ["--db", inc.url], ["--user", "alice"]
    command = ["incident", "list", "--state", "new"]
    argv = {
        "all-before": [*db, *user, "--json", *command],
        "all-after": [*command, *db, *user, "--json"],
        "mixed": [*db, *command, "--json", *user],
        "json-before": ["--json", *command, *db, *user],
    }[layout]
    result = inc.raw(*argv)
    assert (result.code, result.err) == (0, "")
    assert numbers(result.json()) == ["1"]


def test_the_last_user_flag_picks_the_actor(inc: Cli) -> None:
    inc.ok("incident", "update", "INC0000001", "--assignee", "alice")
    mine = ["incident", "list", "--assignee", "me", "--json"]
    as_alice = inc.raw("--db", inc.url, "--user", "root", *mine, "--user", "alice")
    assert (as_alice.code, numbers(as_alice.json())) == (0, ["1"])
    as_root = inc.raw("--db", inc.url, "--user", "alice", *mine, "--user", "root")
    assert (as_root.code, as_root.json()) == (0, [])


def test_json_output_is_exactly_one_document(queue: Cli) -> None:
    for argv in (
        ["incident", "list"],
        ["incident", "show", "INC0000001"],
        ["incident", "note", "INC0000002", "--text", "x"],
        ["user", "list"],
        ["group", "list"],
        ["init"],
    ):
        out = queue.ok(*argv, "--json").out
        decoder = json.JSONDecoder()
        _, end = decoder.raw_decode(out)
        assert out[end:].strip() == "", argv


# ---------------------------------------------------------------------------- terminal safety


def test_control_characters_in_titles_are_refused_not_printed(cli: Cli) -> None:
    result = cli.run(
        "incident",
        "new",
        "--title",
        f"{ESC}[31mred alert{ESC}[0m",
        "--impact",
        "1",
        "--urgency",
        "1",
    )
    assert result.code == 2
    assert ESC not in result.out and ESC not in result.err
    assert "control characters" in result.err


def test_terminal_escape_codes_are_refused_in_any_text(cli: Cli) -> None:
    """ESC/OSC/C1 sequences could recolour, retitle or write the clipboard of a colleague's
    terminal; they are refused at the edge (exit 2) and nothing is written."""
    cli.new_incident(title="Mail", group="Service Desk")
    for evil in (f"a{ESC}[31mred", f"a{ESC}]52;c;cHduZWQ=\x07", "a\x9b2J", "a\x07"):
        for argv in (
            ["incident", "note", "INC0000001", "--text", evil],
            ["incident", "update", "INC0000001", "--description", evil],
        ):
            result = cli.run(*argv)
            assert result.code == 2, (argv, result.err)
            assert "control character" in result.err and ESC not in result.err
    shown = cli.show("INC0000001")
    assert (shown["description"], shown["journal"], shown["version"]) == ("", [], 1)


def test_tabs_line_breaks_and_bidi_in_long_text_are_kept_and_shown_escaped(cli: Cli) -> None:
    text = "line one\n\tindented\r\nrtl \u202egpj.exe"
    cli.new_incident(title="Mail", description=text, group="Service Desk")
    assert cli.show("INC0000001")["description"] == text  # stored exactly
    out = cli.ok("incident", "show", "INC0000001").out
    assert "\u202e" not in out and "rtl \\u202egpj.exe" in out
    assert "\tindented" in out


def test_bidi_overrides_are_refused_in_titles_and_names(cli: Cli) -> None:
    number = cli.new_incident(group="Service Desk")["number"]
    for argv in (
        ["incident", "new", "--title", "invoice \u202egpj.exe", "--impact", "2", "--urgency", "2"],
        ["incident", "update", number, "--title", "x\u2066y"],
        ["group", "add", "Ops\u202e"],
        ["service", "add", "Mail\u202d"],
    ):
        result = cli.run(*argv)
        assert result.code == 2, argv
        assert "bidirectional control" in result.err and "\u202e" not in result.err
    assert [g["name"] for g in cli.json("group", "list")] == ["Network", "Security", "Service Desk"]


def test_markup_is_printed_literally(cli: Cli) -> None:
    title = "[bold red]Mail[/] is [link=http://x]down[/link]"
    created = cli.ok("incident", "new", "--title", title, "--impact", "2", "--urgency", "2")
    assert created.out.strip() == f"Created INC0000001 (P3): {title}"
    assert title in cli.ok("incident", "list").out
    assert f"Title:      {title}" in cli.ok("incident", "show", "INC0000001").out


# ---------------------------------------------------------------------------- the real command


def itsm_command() -> list[str]:
    """The installed console script next to this interpreter (a venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / ("itsm.exe" if os.name == "nt" else "itsm")
    found = str(beside) if beside.exists() else shutil.which("itsm")
    assert found, "the `itsm` console script is not installed; run: pip install -e '.[test]'"
    return [found]


def test_installed_console_script_speaks_json_and_exit_codes(cli: Cli) -> None:
    base = [*itsm_command(), "--db", cli.url, "--user", "alice"]
    created = subprocess.run(
        [
            *base,
            "incident",
            "new",
            "--title",
            "From a script",
            "--impact",
            "1",
            "--urgency",
            "2",
            "--group",
            "Service Desk",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert (data["number"], data["priority"], data["group"]) == ("INC0000001", 2, "Service Desk")
    datetime.fromisoformat(data["opened_at"])  # real clock, still ISO 8601

    missing = subprocess.run(
        [*base, "incident", "show", "INC0000099", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )
    assert missing.returncode == 3
    assert missing.stdout == "" and "INC0000099" in missing.stderr


# ---------------------------------------------------------------------------- demo


def test_demo_no_launch_loads_a_deterministic_dataset(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [f"sqlite:///{tmp_path / name}" for name in ("one.sqlite", "two.sqlite")]
    for url in urls:
        code = main(
            [
                "demo",
                "--no-launch",
                "--db",
                url,
                "--incidents",
                "20",
                "--seed",
                "3",
                "--user",
                "tester",
                "--json",
            ],
            clock=clock,
        )
        captured = capsys.readouterr()
        assert code == 0, captured.err
        summary = json.loads(captured.out)
        assert (summary["seed"], summary["incidents"]) == (3, 20)
        assert Path(url.removeprefix("sqlite:///")).name in summary["database"]

    one, two = (Cli(url, clock, capsys, user="tester") for url in urls)
    incidents = one.json("incident", "list", "--limit", "1000")
    assert len(incidents) == 20 + story_incident_count()  # the random ones and the problems'
    assert incidents == two.json("incident", "list", "--limit", "1000")
    users = {u["username"]: u["role"] for u in one.json("user", "list")}
    assert users["tester"] == "supervisor"  # the acting user lands on the desk as a supervisor
    assert set(users.values()) >= {"agent", "supervisor", "change_manager", "admin", "viewer"}
    groups = {g["name"] for g in one.json("group", "list")}
    assert {"Service Desk", "Network", "Database", "Applications", "Security"} <= groups
    # Opened over the 30 days before the clock's now, never in the future.
    opened = [datetime.fromisoformat(i["opened_at"]) for i in incidents]
    assert all(clock.now() - timedelta(days=31) <= t <= clock.now() for t in opened)


def test_demo_never_loads_into_a_database_named_by_the_environment(
    sqlite_url: str,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ITSM_DATABASE_URL", sqlite_url)
    code = main(
        ["--user", "boss", "demo", "--no-launch", "--incidents", "3", "--json"], clock=clock
    )
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out)["database"].endswith("itsm-tui/demo.sqlite")
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_demo_with_a_bad_acting_user_writes_nothing(
    sqlite_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    for user in ("John Doe", "none"):
        code = main(["--db", sqlite_url, "--user", user, "demo", "--no-launch"], clock=clock)
        assert code == 2
        assert "acting_user" in capsys.readouterr().err
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()
    code = main(["--user", "John Doe", "demo", "--no-launch"], clock=clock)
    assert code == 2
    assert not (config.data_dir() / "demo.sqlite").exists()


def test_an_unusable_database_path_is_a_clear_error(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/x.sqlite"
    code = main(["--db", url, "incident", "list"], clock=clock)
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith(f"itsm: error: there is no database file {blocker}/x.sqlite")
    code = main(["--db", url, "init"], clock=clock)  # only init tries to create it
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith("itsm: error: cannot use")
    assert "Traceback" not in captured.err
