"""`itsm change ...` and `itsm freeze ...` as scripts use them: requests, edits with
`--expect-version`, approvals and who may vote, the emergency path, freezes and conflicts
blocking scheduling, JSON shapes, and incidents pointing at the change that caused them.

Commands run in-process through `itsm_tui.cli.main(argv, clock=...)` on SQLite (the rules are
tested on both engines at the service level); the desk is built once and copied per test.
The clock stands at 2026-03-02 09:00 UTC; changes are planned for the week after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from tests.cli_helpers import Cli, built_desk, fresh_cli, nothing_written

START, END = "2026-03-10T22:00+00:00", "2026-03-11T02:00+00:00"
FREEZE_START, FREEZE_END = "2026-03-09T00:00+00:00", "2026-03-16T00:00+00:00"
CHG1, CHG2 = "CHG0000001", "CHG0000002"
PLANS = [
    "--implementation-plan",
    "Patch mail-01",
    "--backout-plan",
    "Restore the snapshot",
    "--test-plan",
    "Send a test mail",
]
CHANGE_FIELDS = {
    "number",
    "title",
    "change_type",
    "state",
    "risk",
    "impact",
    "service",
    "cis",
    "planned_start",
    "planned_end",
    "assignee",
    "group",
    "requested_by",
    "outcome",
    "version",
    "approvals",
    "description",
    "justification",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "review_notes",
    "freeze_justification",
    "opened_at",
    "caused_incidents",
}


@pytest.fixture(scope="session")
def change_desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI test desk plus carl, a change manager in Network."""
    return built_desk(
        tmp_path_factory,
        "change-desk",
        ["user", "add", "carl", "--role", "change_manager", "--group", "Network"],
    )


@pytest.fixture
def cli(
    change_desk: Path, sqlite_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> Cli:
    return fresh_cli(change_desk, sqlite_url, clock, capsys)


def new_change(cli: Cli, *flags: str, user: str = "root", **values: str) -> dict[str, Any]:
    values = {"title": "Patch the mail server", **values}
    args = [a for k, v in values.items() for a in (f"--{k.replace('_', '-')}", v)]
    return cli.json("change", "new", *args, *flags, user=user)


def normal_change(cli: Cli, *flags: str) -> dict[str, Any]:
    """A moderate-risk normal change on mail-01 with its plans and window, assigned to bob."""
    return new_change(
        cli,
        "--ci",
        "mail-01",
        "--risk",
        "moderate",
        "--risk-reason",
        "Patch is vendor-tested",
        "--start",
        START,
        "--end",
        END,
        "--assignee",
        "bob",
        "--group",
        "Network",
        *PLANS,
        *flags,
    )


def show(cli: Cli, number: str) -> dict[str, Any]:
    return cli.json("change", "show", number)


# ---------------------------------------------------------------------------- new, list, show


def test_new_list_and_show_in_human_and_json(cli: Cli) -> None:
    created = cli.ok(
        "change",
        "new",
        "--title",
        "Replace the VPN gateway",
        "--type",
        "normal",
        "--service",
        "VPN",
        "--ci",
        "vpn-gw-01",
        "--impact",
        "2",
        "--outage-expected",
        "--untested",
        "--description",
        "Line one\nLine two",
        "--justification",
        "End of support",
        "--start",
        START,
        "--end",
        "2026-03-11T03:00+01:00",  # the same instant as END, written in another zone
        "--group",
        "Network",
        "--assignee",
        "bob",
        *PLANS,
    )
    assert created.out.startswith("Created CHG0000001 (normal, ")
    assert created.out.rstrip().endswith("risk): Replace the VPN gateway")

    data = show(cli, CHG1)
    assert set(data) >= CHANGE_FIELDS and "conflicts" in data
    assert (data["state"], data["change_type"], data["version"]) == ("new", "normal", 1)
    assert (data["service"], data["cis"], data["impact"]) == ("VPN", ["vpn-gw-01"], 2)
    assert (data["outage_expected"], data["tested"], data["backout_possible"]) == (
        True,
        False,
        True,
    )
    assert data["planned_end"].startswith("2026-03-11T02:00:00")
    assert data["requested_by"] == "root" and data["assignee"] == "bob"
    assert data["approvals"] == [] and data["caused_incidents"] == [] and data["conflicts"] == []

    human = cli.ok("change", "show", CHG1).out
    assert "  Window:     2026-03-10 22:00 UTC to 2026-03-11 02:00 UTC" in human
    assert "Description:\n  Line one\n  Line two" in human
    assert "Backout plan:\n  Restore the snapshot" in human
    assert "Conflicts: none" in human

    new_change(cli, title="Rotate mail certificates", service="Email", group="Service Desk")
    listed = cli.json("change", "list")
    # Where a change without a window sorts is the database's choice: compare as a set.
    assert {c["number"] for c in listed} == {CHG1, CHG2}
    assert [c["number"] for c in cli.json("change", "list", "--service", "Email")] == [CHG2]
    assert [c["number"] for c in cli.json("change", "list", "--group", "Network")] == [CHG1]
    assert [c["number"] for c in cli.json("change", "list", "--assignee", "me", user="bob")] == [
        CHG1
    ]
    in_window = cli.json("change", "list", "--from", "2026-03-10", "--to", "2026-03-10")
    assert [c["number"] for c in in_window] == [CHG1]
    assert cli.json("change", "list", "--from", "2026-03-12") == []
    assert cli.json("change", "list", "--state", "scheduled") == []
    table = cli.ok("change", "list", "--state", "new").out
    assert table.splitlines()[0].split() == [
        "NUMBER",
        "TYPE",
        "STATE",
        "RISK",
        "START",
        "END",
        "GROUP",
        "ASSIGNEE",
        "TITLE",
    ]
    assert "Rotate mail certificates" in table
    assert cli.ok("change", "list", "--state", "closed").out.strip() == "No changes match."


def test_escape_codes_are_refused_and_bidi_in_long_text_is_shown_escaped(cli: Cli) -> None:
    with nothing_written(cli.url):
        refused = cli.run("change", "new", "--title", "evil \x1b[2J")
    assert refused.code == 2 and refused.out == "" and "\x1b" not in refused.err
    new_change(cli, description="rtl \u202egpj.exe", title="[bold]Mail[/]")
    assert show(cli, CHG1)["description"] == "rtl \u202egpj.exe"  # stored exactly
    out = cli.ok("change", "show", CHG1).out
    assert "\u202e" not in out and "rtl \\u202egpj.exe" in out
    assert "Title:      [bold]Mail[/]" in out  # markup is printed literally


# ---------------------------------------------------------------------------- update


def test_update_fields_with_expect_version_and_stale_writes(cli: Cli) -> None:
    new_change(cli)
    updated = cli.ok(
        "change",
        "update",
        CHG1,
        "--title",
        "Patch mail-01",
        "--ci",
        "mail-01",
        "--group",
        "Network",
        "--expect-version",
        "1",
    )
    assert updated.out.strip() == "Updated CHG0000001 (version 2, new)."
    data = show(cli, CHG1)
    assert (data["title"], data["cis"], data["service"], data["group"]) == (
        "Patch mail-01",
        ["mail-01"],
        "Email",
        "Network",
    )
    with nothing_written(cli.url):
        stale = cli.run("change", "update", CHG1, "--title", "Mine", "--expect-version", "1")
    assert stale.code == 5 and stale.out == ""
    assert "changed by someone else (now version 2)" in stale.err
    cleared = cli.json("change", "update", CHG1, "--group", "none", "--ci", "none")
    assert (cleared["group"], cleared["cis"], cleared["version"]) == (None, [], 3)
    taken = cli.json("change", "update", CHG1, "--assignee", "me", user="carl")
    assert (taken["assignee"], taken["version"]) == ("carl", 4)


def test_refused_updates_write_nothing(cli: Cli) -> None:
    normal_change(cli)
    refusals: list[tuple[list[str], int, str]] = [
        (["--start", "2026-03-10T22:00"], 2, "time zone"),  # no offset
        (["--start", "2026-03-12T00:00+00:00"], 2, "before the planned end"),
        (["--state", "assess", "--title", "Other"], 2, "--title edit it"),
        (["--approvers", "sue"], 2, "--approvers go with --state"),
        (["--state", "scheduled"], 2, "cannot go from new to scheduled"),
        (["--risk", "low"], 2, ""),  # an override needs its reason
        ([], 2, "nothing to change"),
        (["--assignee", "nobody"], 2, "unknown assignee"),
    ]
    with nothing_written(cli.url):
        for flags, code, message in refusals:
            result = cli.run("change", "update", CHG1, *flags)
            assert (result.code, result.out) == (code, ""), flags
            assert message in result.err, (flags, result.err)
        missing = cli.run("change", "update", "CHG0000099", "--title", "x")
        assert missing.code == 3 and "no change CHG0000099" in missing.err
        viewer = cli.run("change", "update", CHG1, "--title", "x", user="vic")
        assert viewer.code == 4
        assert cli.run("change", "new", "--title", "x", user="vic").code == 4
        assert "invalid choice" in cli.usage_error("change", "new", "--title", "x", "--type", "y")


# ---------------------------------------------------------------------------- approvals


def test_cab_approval_refusals_then_quorum_schedules(cli: Cli) -> None:
    normal_change(cli)
    assessed = cli.json("change", "update", CHG1, "--state", "assess")
    asked = cli.json(
        "change",
        "update",
        CHG1,
        "--state",
        "authorize",
        "--approvers",
        "sue",
        "--expect-version",
        str(assessed["version"]),
    )
    assert asked["state"] == "authorize"
    assert [(a["approver"], a["decision"]) for a in asked["approvals"]] == [("sue", "pending")]

    with nothing_written(cli.url):
        agent = cli.run("change", "approve", CHG1, user="alice")
        assert agent.code == 4 and "agents cannot approve" in agent.err
        own = cli.run("change", "approve", CHG1)  # root requested it
        assert own.code == 4 and "they requested or will implement" in own.err
        assert cli.run("change", "reject", CHG1, "--comment", " ", user="carl").code == 2
    assert "--comment" in cli.usage_error("change", "reject", CHG1, user="carl")

    first = cli.ok("change", "approve", CHG1, "--comment", "Fine by me", user="carl")
    assert first.out.strip().startswith("Approved CHG0000001 (version ")
    assert show(cli, CHG1)["state"] == "authorize"  # moderate: the CAB quorum is still due
    done = cli.json("change", "approve", CHG1, user="sue")
    assert done["state"] == "scheduled"
    assert {(a["approver"], a["decision"]) for a in done["approvals"]} == {
        ("sue", "approved"),
        ("carl", "approved"),
    }
    human = cli.ok("change", "show", CHG1).out
    assert "Approvals:" in human and "Fine by me" in human


def test_a_rejection_sends_the_change_back_to_new(cli: Cli) -> None:
    normal_change(cli)
    cli.ok("change", "update", CHG1, "--state", "assess")
    cli.ok("change", "update", CHG1, "--state", "authorize")
    rejected = cli.ok("change", "reject", CHG1, "--comment", "Not during month end", user="carl")
    assert rejected.out.strip().startswith("Rejected CHG0000001")
    data = show(cli, CHG1)
    assert (data["state"], data["approvals"]) == ("new", [])


def test_the_emergency_path_needs_one_change_manager(cli: Cli) -> None:
    created = new_change(
        cli, "--type", "emergency", "--start", START, "--end", END, title="Mail relay is open"
    )
    assert (created["change_type"], created["state"]) == ("emergency", "new")
    cli.ok("change", "update", CHG1, "--state", "authorize", "--reason", "Spam is going out")
    scheduled = cli.json("change", "approve", CHG1, user="carl")
    assert scheduled["state"] == "scheduled"
    # Delivery goes on through `update --state`: implement inside the window, then review.
    cli.clock.advance(days=8, hours=14)  # 2026-03-10 23:00 UTC
    cli.ok("change", "update", CHG1, "--state", "implement")
    reviewed = cli.json("change", "update", CHG1, "--state", "review", "--outcome", "successful")
    assert (reviewed["state"], reviewed["outcome"]) == ("review", "successful")
    closed = cli.json("change", "update", CHG1, "--state", "closed", "--review-notes", "Quiet")
    assert (closed["state"], closed["review_notes"]) == ("closed", "Quiet")
    assert closed["closed_at"] is not None


# ---------------------------------------------------------------------------- freezes


def test_freeze_blocks_scheduling_until_a_change_manager_overrides_with_a_reason(
    cli: Cli,
) -> None:
    freeze = ["freeze", "add", "Quarter end", "--start", FREEZE_START, "--end", FREEZE_END]
    with nothing_written(cli.url):
        assert cli.run(*freeze, user="bob").code == 4
        assert cli.run(*freeze[:4], "2026-03-09T00:00", "--end", FREEZE_END, user="carl").code == 2
    added = cli.ok(*freeze, "--service", "Email", "--reason", "Books close", user="carl")
    assert added.out.strip() == (
        "Added freeze window Quarter end on Email, 2026-03-09 00:00 UTC to 2026-03-16 00:00 UTC."
    )
    listed = cli.json("freeze", "list", "--from", "2026-03-10")
    assert listed == [
        {
            "name": "Quarter end",
            "starts_at": "2026-03-09T00:00:00Z",
            "ends_at": "2026-03-16T00:00:00Z",
            "service": "Email",
            "reason": "Books close",
        }
    ]
    assert cli.json("freeze", "list", "--to", "2026-03-08") == []
    assert "Quarter end" in cli.ok("freeze", "list").out

    new_change(
        cli, "--type", "standard", "--ci", "mail-01", "--start", START, "--end", END,
        "--group", "Service Desk",  # sue's: she may move it, but not over a freeze
    )  # fmt: skip
    with nothing_written(cli.url):
        blocked = cli.run("change", "schedule", CHG1)
        assert blocked.code == 2 and "freeze" in blocked.err and "--override" in blocked.err
        supervisor = cli.run("change", "schedule", CHG1, "--override", "--reason", "x", user="sue")
        assert supervisor.code == 4 and "only change managers" in supervisor.err
        no_reason = cli.run("change", "schedule", CHG1, "--override", user="carl")
        assert no_reason.code == 2 and "needs a reason" in no_reason.err
    scheduled = cli.ok(
        "change", "schedule", CHG1, "--override", "--reason", "Security fix", user="carl"
    )
    assert scheduled.out.strip() == (
        "Scheduled CHG0000001 for 2026-03-10 22:00 UTC to 2026-03-11 02:00 UTC (version 2)."
    )
    conflicts = cli.json("change", "conflicts", CHG1)
    assert [(c["kind"], c["with_record"]) for c in conflicts] == [("freeze", "Quarter end")]

    with nothing_written(cli.url):
        assert cli.run("freeze", "remove", "Quarter end", user="bob").code == 4
        assert cli.run("freeze", "remove", "No such", user="carl").code == 3
    removed = cli.json("freeze", "remove", "Quarter end", user="carl")
    assert removed == {"name": "Quarter end", "status": "removed"}
    assert cli.ok("freeze", "list").out.strip() == "No freeze windows."


def test_a_justified_emergency_change_runs_through_a_freeze(cli: Cli) -> None:
    cli.ok("freeze", "add", "Quarter end", "--start", FREEZE_START, "--end", FREEZE_END)
    new_change(
        cli,
        "--type",
        "emergency",
        "--service",
        "Email",
        "--start",
        START,
        "--end",
        END,
        "--freeze-justification",
        "Mail is down for everyone",
    )
    cli.ok("change", "update", CHG1, "--state", "authorize")
    assert cli.json("change", "approve", CHG1, user="carl")["state"] == "scheduled"
    assert (
        "Freeze justification:\n  Mail is down for everyone" in cli.ok("change", "show", CHG1).out
    )


# ---------------------------------------------------------------------------- conflicts


def test_conflicts_block_scheduling_and_are_listed(cli: Cli) -> None:
    standard = ["--type", "standard", "--ci", "mail-01"]
    new_change(cli, *standard, "--start", START, "--end", END)
    new_change(cli, *standard, "--start", "2026-03-11T01:00+00:00", "--end", "2026-03-11T04:00Z")
    cli.ok("change", "schedule", CHG1)
    assert cli.ok("change", "conflicts", CHG1).out.strip() == "No conflicts."
    assert cli.json("change", "conflicts", CHG1) == []

    with nothing_written(cli.url):
        blocked = cli.run("change", "schedule", CHG2)
    assert blocked.code == 2 and "CHG0000001 is booked on mail-01" in blocked.err
    listed = cli.json("change", "conflicts", CHG2)
    assert listed == [
        {
            "kind": "same_ci",
            "with_record": CHG1,
            "window": {"start": "2026-03-11T01:00:00Z", "end": "2026-03-11T02:00:00Z"},
            "detail": "CHG0000001 is booked on mail-01 from 2026-03-10 22:00 to "
            "2026-03-11 02:00 UTC",
        }
    ]
    table = cli.ok("change", "conflicts", CHG2).out
    assert table.splitlines()[0].split() == ["KIND", "WITH", "SHARED", "WINDOW", "DETAIL"]
    assert "same_ci  CHG0000001  2026-03-11 01:00 to 02:00 UTC" in table
    assert "Conflicts:\n  KIND" in cli.ok("change", "show", CHG2).out

    # Moving it clear of the other one and scheduling is one step.
    moved = cli.json("change", "schedule", CHG2, "--start", END, "--end", "2026-03-11T04:00+00:00")
    assert (moved["state"], moved["planned_start"]) == ("scheduled", "2026-03-11T02:00:00Z")
    assert cli.run("change", "conflicts", "CHG0000099").code == 3


def test_conflicts_help_says_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["change", "conflicts", "--help"])
    assert exit_info.value.code == 0
    assert "Exits 0 whether or not there are conflicts" in " ".join(capsys.readouterr().out.split())


# ---------------------------------------------------------------------------- incidents


def test_incident_caused_by_a_change(cli: Cli) -> None:
    new_change(cli, service="Email")
    incident = cli.new_incident(title="Mail bounces", service="Email")["number"]
    linked = cli.json("incident", "update", incident, "--caused-by", "chg0000001")
    assert linked["caused_by"] == CHG1
    caused = show(cli, CHG1)["caused_incidents"]
    assert [(i["number"], i["title"], i["state"]) for i in caused] == [
        (incident, "Mail bounces", "new")
    ]
    assert "Caused incidents:" in cli.ok("change", "show", CHG1).out
    assert f"Caused by:  {CHG1}" in cli.ok("incident", "show", incident).out
    with nothing_written(cli.url):
        assert cli.run("incident", "update", incident, "--caused-by", "CHG0000099").code == 2
    assert cli.json("incident", "update", incident, "--caused-by", "none")["caused_by"] is None
    assert show(cli, CHG1)["caused_incidents"] == []


# ---------------------------------------------------------------------------- CIs


def test_ci_criticality_and_maintenance_windows_feed_risk_and_conflicts(cli: Cli) -> None:
    updated = cli.json(
        "ci", "update", "mail-01", "--criticality", "critical", "--maintenance", "sat 22:00-04:00"
    )
    assert (updated["criticality"], updated["maintenance"]) == ("critical", ["Sat 22:00-04:00 UTC"])
    listed = cli.ok("ci", "list").out
    assert "critical" in listed and "Sat 22:00-04:00 UTC" in listed
    change = new_change(cli, "--ci", "mail-01", "--start", START, "--end", END)
    assert change["risk"] == "moderate"  # a critical CI weighs 3: moderate without an outage
    clashes = cli.json("change", "conflicts", change["number"])
    assert [c["kind"] for c in clashes] == ["outside_maintenance"]
    cli.ok("ci", "update", "mail-01", "--maintenance", "Tue 21:00-03:00 UTC")
    assert cli.json("change", "conflicts", change["number"]) == []
    with nothing_written(cli.url):
        assert cli.run("ci", "update", "mail-01", "--maintenance", "someday 9-5").code == 2
        assert cli.run("ci", "update", "mail-01", "--criticality", "low", user="alice").code == 4
    cleared = cli.json("ci", "update", "mail-01", "--criticality", "inherit", "--no-maintenance")
    assert (cleared["criticality"], cleared["maintenance"]) == (None, [])


def test_work_notes_and_votes_show_in_the_change_journal(cli: Cli) -> None:
    number = new_change(cli)["number"]
    added = cli.json("change", "note", number, "CAB asked for a [bold]dry run[/bold]")
    assert (added["number"], added["kind"], added["author"]) == (number, "work_note", "root")
    shown = show(cli, number)
    assert [e["body"] for e in shown["journal"]] == ["CAB asked for a [bold]dry run[/bold]"]
    assert "CAB asked for a [bold]dry run[/bold]" in cli.ok("change", "show", number).out
    with nothing_written(cli.url):
        assert cli.run("change", "note", number, "   ").code == 2
        assert cli.run("change", "note", number, "read-only", user="vic").code == 4
        assert cli.run("change", "note", "CHG0000099", "lost").code == 3


def test_outsiders_are_refused_and_an_approved_plan_that_changes_goes_back_for_approval(
    cli: Cli,
) -> None:
    normal_change(cli)  # root's, in Network, assigned to bob; alice is in Service Desk
    with nothing_written(cli.url):
        outsider = cli.run("change", "update", CHG1, "--title", "Mine now", user="alice")
        assert outsider.code == 4 and outsider.out == ""
        assert "may not edit CHG0000001" in outsider.err and "Traceback" not in outsider.err
        moved = cli.run("change", "update", CHG1, "--state", "cancelled", user="alice")
        assert moved.code == 4 and "may not move CHG0000001" in moved.err
    cli.ok("change", "update", CHG1, "--state", "assess")
    cli.ok("change", "update", CHG1, "--state", "authorize", "--approvers", "sue")
    cli.ok("change", "approve", CHG1, user="carl")
    assert cli.json("change", "approve", CHG1, user="sue")["state"] == "scheduled"
    with nothing_written(cli.url):
        approver = cli.run(
            "change", "update", CHG1, "--state", "implement", "--window-override",
            "--reason", "early", user="sue",
        )  # fmt: skip
        assert approver.code == 4 and "sue approved this change" in approver.err
    sent = cli.ok("change", "update", CHG1, "--backout-plan", "Fail over to mail-02", user="bob")
    assert sent.out.strip().endswith("authorize).")
    data = show(cli, CHG1)
    assert data["state"] == "authorize"
    assert {a["decision"] for a in data["approvals"]} == {"pending"}
    assert any("sent back to authorize" in entry["body"] for entry in data["journal"])


def test_only_a_change_manager_raises_a_standard_change(cli: Cli) -> None:
    """A standard change skips the CAB (issue 16): an agent may neither file one nor make
    their change standard (exit 4, nothing written, told to file it as normal); the change
    manager may, and the agent then books it."""
    standard = ["--type", "standard", "--ci", "mail-01", "--start", START, "--end", END, *PLANS]
    new_change(cli, *PLANS, "--ci", "mail-01", user="bob")
    with nothing_written(cli.url):
        filed = cli.run("change", "new", "--title", "Skip the CAB", *standard, user="bob")
        assert filed.code == 4 and filed.out == "" and "Traceback" not in filed.err
        assert "a change manager must raise standard changes" in filed.err
        assert "file it as a normal change for CAB approval" in filed.err
        retyped = cli.run("change", "update", CHG1, "--type", "standard", user="bob")
        assert retyped.code == 4 and "may not make CHG0000001 standard" in retyped.err
    assert show(cli, CHG1)["change_type"] == "normal"
    raised = new_change(cli, *standard, "--assignee", "bob", user="carl")
    assert (raised["change_type"], raised["requested_by"]) == ("standard", "carl")
    with nothing_written(cli.url):
        rewritten = cli.run(
            "change", "update", CHG2, "--implementation-plan", "Something else", user="bob"
        )
        assert rewritten.code == 4 and "plan is its change manager's" in rewritten.err
    assert cli.json("change", "schedule", CHG2, user="bob")["state"] == "scheduled"
