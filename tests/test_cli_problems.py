"""`itsm problem ...` as scripts use it: recording with incidents linked at once, listing and
showing (incident counts and the SLA impact), edits with `--expect-version`, state moves and
their guards, linking with the known error's workaround, resolving the linked incidents in one
command, a fix change made from the problem and carried through to resolve it, recurring-
incident candidates (listed, dismissed until they grow, promoted) and the known-error search.

Commands run in-process through `itsm_tui.cli.main(argv, clock=...)` on SQLite (the rules are
tested on both engines at the service level); the desk is built once and copied per test.
The clock stands at 2026-03-02 09:00 UTC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsm_tui.clock import FixedClock
from tests.cli_helpers import Cli, built_desk, fresh_cli, nothing_written

PRB1, PRB2 = "PRB0000001", "PRB0000002"
START, END = "2026-03-10T22:00+00:00", "2026-03-11T02:00+00:00"


@pytest.fixture(scope="session")
def problem_desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI test desk plus carl, a change manager in Network."""
    return built_desk(
        tmp_path_factory,
        "problem-desk",
        ["user", "add", "carl", "--role", "change_manager", "--group", "Network"],
    )


@pytest.fixture
def cli(
    problem_desk: Path, sqlite_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> Cli:
    return fresh_cli(problem_desk, sqlite_url, clock, capsys)


def new_problem(cli: Cli, *flags: str, user: str = "root", **values: str) -> dict[str, Any]:
    values = {"title": "Mail queue stalls", **values}
    args = [a for k, v in values.items() for a in (f"--{k.replace('_', '-')}", v)]
    return cli.json("problem", "new", *args, *flags, user=user)


def incident(cli: Cli, title: str = "Mail is slow", **values: str) -> str:
    return str(cli.new_incident(title=title, **values)["number"])


def show(cli: Cli, number: str = PRB1) -> dict[str, Any]:
    return cli.json("problem", "show", number)


def journal(cli: Cli, number: str) -> list[str]:
    return [entry["body"] for entry in cli.show(number)["journal"]]


# ---------------------------------------------------------------------------- new, list, show


def test_new_list_and_show_in_human_and_json(cli: Cli) -> None:
    first = incident(cli, "Mail is slow", service="Email")
    second = incident(cli, "Mail bounces", service="Email", group="Network")
    third = incident(cli, "VPN drops", service="VPN")
    created = cli.ok(
        "problem",
        "new",
        "--title",
        "Mail queue stalls",
        "--description",
        "Line one\nLine two",
        "--ci",
        "mail-01",
        "--impact",
        "1",
        "--urgency",
        "2",
        "--assignee",
        "me",
        "--group",
        "Network",
        "--root-cause",
        "The queue disk fills",
        "--incident",
        f"{first},{second.lower()}",
        "--incident",
        third,
        user="bob",
    )
    assert created.out.strip() == "Created PRB0000001 (P2, 3 incident(s) linked): Mail queue stalls"

    data = show(cli)
    assert (data["state"], data["priority"], data["version"]) == ("new", 2, 1)
    assert (data["service"], data["cis"], data["group"], data["assignee"]) == (
        "Email",  # from its CI
        ["mail-01"],
        "Network",
        "bob",
    )
    assert (data["root_cause"], data["workaround"], data["known_error"]) == (
        "The queue disk fills",
        "",
        False,
    )
    assert [i["number"] for i in data["incidents"]] == [first, second, third]
    assert (data["incident_count"], data["open_incident_count"]) == (3, 3)
    assert data["breached_incident_count"] == 0 and data["fix_change"] is None
    assert data["opened_by"] == "bob" and data["journal"] == []
    assert {a["field"] for a in data["audit"]} >= {"title", "state", "priority", "cis"}
    assert cli.show(first)["problem"] == PRB1

    human = cli.ok("problem", "show", PRB1).out
    assert human.startswith("PRB0000001\n")  # not a known error yet
    assert "  Priority:   P2 (impact 1, urgency 2)" in human
    assert "  Incidents:  3 (3 open, 0 breached SLA)" in human
    assert "Description:\n  Line one\n  Line two" in human
    assert "Root cause:\n  The queue disk fills" in human
    assert "Incidents:\n  NUMBER      PRI  STATE  OPENED" in human
    assert f"  {third}  P3   new" in human

    new_problem(cli, "--service", "VPN", "--workaround", "Reconnect", root_cause="MTU")
    assert show(cli, PRB2)["known_error"] is True
    assert cli.ok("problem", "show", PRB2).out.startswith("PRB0000002  [known error]\n")

    assert [p["number"] for p in cli.json("problem", "list")] == [PRB1, PRB2]  # by priority
    assert [p["number"] for p in cli.json("problem", "list", "--known-error")] == [PRB2]
    assert [p["number"] for p in cli.json("problem", "list", "--no-known-error")] == [PRB1]
    assert [p["number"] for p in cli.json("problem", "list", "--service", "VPN")] == [PRB2]
    assert [p["number"] for p in cli.json("problem", "list", "--search", "DISK")] == [PRB1]
    assert cli.json("problem", "list", "--state", "assess") == []
    listed = cli.json("problem", "list", "--state", "new", "--state", "assess")
    assert listed[0]["incident_count"] == 3 and "journal" not in listed[0]
    table = cli.ok("problem", "list").out.splitlines()
    assert table[0].split() == [
        "NUMBER",
        "PRI",
        "STATE",
        "KNOWN",
        "INCIDENTS",
        "SERVICE",
        "ASSIGNEE",
        "TITLE",
    ]
    assert table[1].split()[:6] == [PRB1, "P2", "new", "-", "3", "(3"]
    assert table[2].split()[:4] == [PRB2, "P5", "new", "yes"]
    assert cli.ok("problem", "list", "--state", "closed").out.strip() == "No problems match."
    assert cli.json("problem", "list", user="vic") != []  # viewers read
    assert cli.run("problem", "list", "--service", "Nowhere").code == 2


def test_user_text_is_shown_literally_and_escaped(cli: Cli) -> None:
    with nothing_written(cli.url):
        refused = cli.run("problem", "new", "--title", "evil \x1b[2J")
    assert refused.code == 2 and refused.out == "" and "\x1b" not in refused.err
    new_problem(cli, title="[bold]Mail[/]", workaround="rtl \u202egpj.exe")
    assert show(cli)["workaround"] == "rtl \u202egpj.exe"  # stored exactly
    out = cli.ok("problem", "show", PRB1).out
    assert "Title:      [bold]Mail[/]" in out  # markup is printed literally
    assert "\u202e" not in out and "rtl \\u202egpj.exe" in out


def test_sla_impact_counts_the_breached_incidents(cli: Cli) -> None:
    breached = incident(cli, "Mail is down", impact="1", urgency="1", service="Email")
    quiet = incident(cli, "Mail is slow", impact="3", urgency="3", service="Email")
    cli.clock.advance(hours=1)  # past the P1 response target (15 min, 24x7)
    cli.ok("worker", "--once")
    new_problem(cli, "--incident", breached, "--incident", quiet)
    data = show(cli)
    assert [(i["number"], i["sla_breached"]) for i in data["incidents"]] == [
        (breached, True),
        (quiet, False),
    ]
    assert data["breached_incident_count"] == 1
    human = cli.ok("problem", "show", PRB1).out
    assert "  Incidents:  2 (2 open, 1 breached SLA)" in human
    assert (
        f"{breached}  P1   new    2026-03-02 09:00 UTC  -         breached  Mail is down" in human
    )


# ---------------------------------------------------------------------------- update


def test_update_fields_with_expect_version_and_stale_writes(cli: Cli) -> None:
    new_problem(cli, service="Email", group="Network")
    updated = cli.ok(
        "problem",
        "update",
        PRB1,
        "--title",
        "Mail queue stalls nightly",
        "--ci",
        "mail-01",
        "--urgency",
        "1",
        "--expect-version",
        "1",
    )
    assert updated.out.strip() == "Updated PRB0000001 (version 2, new)."
    data = show(cli)
    assert (data["title"], data["cis"], data["priority"]) == (
        "Mail queue stalls nightly",
        ["mail-01"],
        3,  # impact 3 x urgency 1
    )
    with nothing_written(cli.url):
        stale = cli.run("problem", "update", PRB1, "--title", "Mine", "--expect-version", "1")
    assert stale.code == 5 and stale.out == ""
    assert "changed by someone else (now version 2)" in stale.err

    known = cli.json("problem", "update", PRB1, "--root-cause", "Disk", "--workaround", "Purge")
    assert (known["known_error"], known["version"]) == (True, 3)
    cleared = cli.json("problem", "update", PRB1, "--group", "none", "--ci", "none")
    assert (cleared["group"], cleared["cis"], cleared["version"]) == (None, [], 4)
    taken = cli.json("problem", "update", PRB1, "--assignee", "me", user="alice")
    assert taken["assignee"] == "alice"
    assert cli.json("problem", "update", PRB1, "--workaround", "")["known_error"] is False

    change = cli.json("change", "new", "--title", "Grow the queue disk")["number"]
    fixed = cli.json("problem", "update", PRB1, "--fix-change", change.lower())
    assert (fixed["fix_change"], fixed["fix_change_state"]) == (change, "new")
    assert f"  Fix change: {change} (new)" in cli.ok("problem", "show", PRB1).out
    assert cli.json("problem", "update", PRB1, "--fix-change", "none")["fix_change"] is None


def test_refused_commands_write_nothing(cli: Cli) -> None:
    new_problem(cli)
    linked = incident(cli)
    refusals: list[tuple[list[str], int, str]] = [
        (["--state", "assess", "--title", "Other"], 2, "--title edit it"),
        (["--state", "assess", "--fix-change", "none"], 2, "--fix-change edit it"),
        (["--reason", "because"], 2, "--reason goes with --state"),
        ([], 2, "nothing to change"),
        (["--title", "Mail queue stalls"], 2, "already so"),
        (["--assignee", "nobody"], 2, "unknown assignee"),
        (["--ci", "no-such-ci"], 2, "unknown CI"),
        (["--fix-change", "CHG0000099"], 2, "no change CHG0000099"),
        (["--state", "fix_in_progress"], 2, "cannot go from new to fix_in_progress"),
        (["--state", "cancelled"], 2, "cancelling needs a reason"),
        (["--title", " "], 2, ""),
    ]
    with nothing_written(cli.url):
        for flags, code, message in refusals:
            result = cli.run("problem", "update", PRB1, *flags)
            assert (result.code, result.out) == (code, ""), flags
            assert message in result.err, (flags, result.err)
        missing = cli.run("problem", "update", "PRB0000099", "--title", "x")
        assert missing.code == 3 and "no problem PRB0000099" in missing.err
        assert cli.run("problem", "show", "PRB0000099").code == 3
        assert cli.run("problem", "new", "--title", "x", "--incident", "INC0000099").code == 3
        assert cli.run("problem", "new", "--title", "x", "--service", "Nowhere").code == 2
        for argv in (
            ["problem", "update", PRB1, "--title", "x"],
            ["problem", "new", "--title", "x"],
            ["problem", "link", PRB1, linked],
            ["problem", "fix-change", PRB1],
        ):
            viewer = cli.run(*argv, user="vic")
            assert viewer.code == 4 and "read-only" in viewer.err, argv
        assert "invalid choice" in cli.usage_error("problem", "update", PRB1, "--state", "done")
        assert "invalid choice" in cli.usage_error(
            "problem", "new", "--title", "x", "--impact", "4"
        )


def test_the_lifecycle_guards_through_the_cli(cli: Cli) -> None:
    new_problem(cli)
    cli.ok("problem", "update", PRB1, "--state", "assess")
    cli.ok("problem", "update", PRB1, "--state", "root_cause_analysis", "--expect-version", "2")
    with nothing_written(cli.url):
        refused = cli.run("problem", "update", PRB1, "--state", "fix_in_progress")
    assert refused.code == 2 and "fix_in_progress needs the root cause" in refused.err
    cli.ok("problem", "update", PRB1, "--root-cause", "The queue disk fills")
    assert cli.json("problem", "update", PRB1, "--state", "fix_in_progress")["state"] == (
        "fix_in_progress"
    )
    with nothing_written(cli.url):
        no_fix = cli.run(
            "problem", "update", PRB1, "--state", "resolved", "--resolution-notes", "x"
        )
        assert no_fix.code == 2 and "has no fix change" in no_fix.err
        no_notes = cli.run("problem", "update", PRB1, "--state", "resolved", "--reason", "Gone")
        assert no_notes.code == 2 and "resolution notes" in no_notes.err
    resolved = cli.json(
        "problem",
        "update",
        PRB1,
        "--state",
        "resolved",
        "--reason",
        "The vendor fixed it upstream",
        "--resolution-notes",
        "Vendor patch 4.2",
    )
    assert (resolved["state"], resolved["resolution_notes"]) == ("resolved", "Vendor patch 4.2")
    assert resolved["resolution_reason"] == "The vendor fixed it upstream"
    assert resolved["resolved_at"] == "2026-03-02T09:00:00Z"
    data = show(cli)
    assert [e["body"] for e in data["journal"]] == [
        "fix_in_progress -> resolved: The vendor fixed it upstream"
    ]
    human = cli.ok("problem", "show", PRB1).out
    assert "Resolution notes:\n  Vendor patch 4.2" in human
    assert "Resolution reason:\n  The vendor fixed it upstream" in human
    assert "Journal:\n  2026-03-02 09:00 UTC  system     root\n    fix_in_progress -> resolved" in (
        human
    )
    back = cli.run("problem", "update", PRB1, "--state", "root_cause_analysis")
    assert back.code == 2 and "needs a reason" in back.err
    closed = cli.json("problem", "update", PRB1, "--state", "closed")
    assert closed["closed_at"] is not None
    with nothing_written(cli.url):
        assert cli.run("problem", "update", PRB1, "--title", "Later").code == 2


# ---------------------------------------------------------------------------- linking


def test_link_applies_a_known_errors_workaround_and_unlink_undoes_the_link(cli: Cli) -> None:
    new_problem(cli, root_cause="The queue disk fills", workaround="Purge the deferred queue")
    first, second, third = incident(cli, "Mail slow"), incident(cli, "Mail late"), incident(cli)
    linked = cli.ok("problem", "link", PRB1, first, second.lower())
    assert linked.out.strip() == (f"Linked {first}, {second} to PRB0000001 (2 incident(s) linked).")
    note = "Known error PRB0000001 workaround: Purge the deferred queue"
    assert journal(cli, first) == [note] and journal(cli, second) == [note]
    assert cli.show(first)["problem"] == PRB1
    assert f"Problem:    {PRB1}" in cli.ok("incident", "show", first).out

    quiet = cli.json("problem", "link", PRB1, third, "--no-workaround")
    assert quiet["incident_count"] == 3 and journal(cli, third) == []
    assert journal(cli, first) == [note]  # linking again adds nothing

    with nothing_written(cli.url):
        assert cli.run("problem", "link", PRB1, "INC0000099").code == 3
        assert cli.run("problem", "link", "PRB0000099", first).code == 3
        new_problem_refused = cli.run("problem", "unlink", PRB1, first, "INC0000099")
        assert new_problem_refused.code == 3
    unlinked = cli.ok("problem", "unlink", PRB1, first)
    assert unlinked.out.strip() == f"Unlinked {first} from PRB0000001 (2 incident(s) linked)."
    assert cli.show(first)["problem"] is None
    with nothing_written(cli.url):
        again = cli.run("problem", "unlink", PRB1, first)
    assert again.code == 2 and "is not linked to PRB0000001" in again.err
    assert "INC" in cli.usage_error("problem", "link", PRB1)  # at least one incident


def test_resolve_incidents_reports_each_and_exits_1_on_any_refusal(cli: Cli) -> None:
    desk = incident(cli, "Mail slow", group="Service Desk")
    network = incident(cli, "Mail late", group="Network")
    new_problem(cli, "--incident", f"{desk},{network}", root_cause="Disk")
    with nothing_written(cli.url):
        early = cli.run("problem", "resolve-incidents", PRB1)
    assert early.code == 2 and "resolve the problem before its incidents" in early.err
    cli.ok("problem", "update", PRB1, "--state", "assess")
    cli.ok("problem", "update", PRB1, "--state", "root_cause_analysis")
    cli.ok("problem", "update", PRB1, "--state", "fix_in_progress")
    cli.ok(
        "problem",
        "update",
        PRB1,
        "--state",
        "resolved",
        "--reason",
        "Disk grown by hand",
        "--resolution-notes",
        "Grew the queue disk",
    )

    partial = cli.run("problem", "resolve-incidents", PRB1, user="alice")  # not in Network
    assert partial.code == 1 and partial.err == ""
    lines = partial.out.splitlines()
    assert lines[0] == "Resolved 1 of 2 open incident(s) linked to PRB0000001."
    assert lines[1].split() == ["INCIDENT", "RESULT", "DETAIL"]
    assert lines[2].split()[:2] == [desk, "resolved"]
    assert lines[3].split()[:2] == [network, "refused"]
    resolved = cli.show(desk)
    assert (resolved["state"], resolved["resolution_code"]) == ("resolved", "solved_workaround")
    assert resolved["resolution_notes"] == "Resolved with PRB0000001: Grew the queue disk"
    assert cli.show(network)["state"] == "new"

    rest = cli.json("problem", "resolve-incidents", PRB1)
    assert rest == {
        "problem": PRB1,
        "outcomes": [{"number": network, "ok": True, "message": "now resolved"}],
    }
    assert show(cli)["open_incident_count"] == 0
    with nothing_written(cli.url):
        none_left = cli.run("problem", "resolve-incidents", PRB1)
        assert none_left.code == 2 and "no open incidents" in none_left.err
        assert cli.run("problem", "resolve-incidents", "PRB0000099").code == 3
        assert cli.run("problem", "resolve-incidents", PRB1, user="vic").code == 4


# ---------------------------------------------------------------------------- fix change


def test_a_fix_change_from_the_problem_resolves_it_once_closed_successfully(cli: Cli) -> None:
    new_problem(
        cli, "--ci", "mail-01", root_cause="The queue disk fills", group="Network", assignee="bob"
    )
    linked = incident(cli)
    cli.ok("problem", "link", PRB1, linked)
    made = cli.ok(
        "problem", "fix-change", PRB1, "--type", "standard", "--start", START, "--end", END
    )
    assert made.out.strip() == (
        "Created CHG0000001 (standard, moderate risk) as the fix for PRB0000001: "
        "Fix PRB0000001: Mail queue stalls"
    )
    change = cli.json("change", "show", "CHG0000001")
    assert (change["change_type"], change["cis"], change["group"], change["assignee"]) == (
        "standard",
        ["mail-01"],
        "Network",
        "bob",
    )
    assert "The queue disk fills" in change["description"]
    assert change["justification"] == "1 incident(s) linked to PRB0000001"
    assert (show(cli)["fix_change"], show(cli)["fix_change_state"]) == ("CHG0000001", "new")

    # The change runs its course: scheduled, implemented inside its window, reviewed, closed.
    cli.ok("change", "schedule", "CHG0000001")
    cli.clock.advance(days=8, hours=14)  # 2026-03-10 23:00 UTC, inside the window
    cli.ok("change", "update", "CHG0000001", "--state", "implement")
    cli.ok("change", "update", "CHG0000001", "--state", "review", "--outcome", "successful")
    cli.ok("change", "update", "CHG0000001", "--state", "closed", "--review-notes", "Quiet")
    assert "  Fix change: CHG0000001 (closed, successful)" in cli.ok("problem", "show", PRB1).out

    for state in ("assess", "root_cause_analysis", "fix_in_progress"):
        cli.ok("problem", "update", PRB1, "--state", state)
    resolved = cli.json(
        "problem", "update", PRB1, "--state", "resolved", "--resolution-notes", "Disk grown"
    )
    assert (resolved["state"], resolved["resolution_reason"]) == ("resolved", None)
    cli.ok("problem", "resolve-incidents", PRB1)
    assert cli.show(linked)["resolution_code"] == "solved_permanently"

    cli.ok("problem", "update", PRB1, "--state", "closed")
    with nothing_written(cli.url):
        late = cli.run("problem", "fix-change", PRB1)
    assert late.code == 2 and "needs no fix now" in late.err


# ---------------------------------------------------------------------------- candidates


def test_candidates_are_listed_dismissed_until_they_grow_and_promoted(cli: Cli) -> None:
    old = incident(cli, "Printer jams on floor two")  # falls out of the 30-day window below
    cli.clock.advance(days=40)
    printers = [
        incident(cli, title)
        for title in (
            "Printer jams on floor two",
            "Printer jammed on floor two",
            "Floor two printer: paper jam",
        )
    ]
    mail = [incident(cli, f"Mail {what}", ci="mail-01") for what in ("slow", "late", "gone")]
    incident(cli, "Password reset for the CFO")  # noise: shares nothing
    found = cli.json("problem", "candidates")
    assert [(c["key"], c["members"]) for c in found] == [
        ("ci:mail-01", mail),  # the most recently seen first among equals
        ("text:floor+jam+print+two", printers),
    ]
    first = found[0]
    assert (first["kind"], first["size"], first["service"], first["cis"]) == (
        "ci",
        3,
        "Email",
        ["mail-01"],
    )
    assert first["first_seen"] == first["last_seen"] == "2026-04-11T09:00:00Z"
    assert first["per_week"] == 21.0  # three in under a day
    table = cli.ok("problem", "candidates").out.splitlines()
    assert table[0].split() == [
        "KEY", "SIZE", "FIRST", "SEEN", "LAST", "SEEN", "PER", "WEEK", "SHARED", "INCIDENTS",
    ]  # fmt: skip
    assert table[1].split()[:2] == ["ci:mail-01", "3"]
    assert table[1].endswith(", ".join(mail))
    wider = cli.json("problem", "candidates", "--days", "60")
    assert [c["size"] for c in wider] == [4, 3] and old in wider[0]["members"]
    assert cli.json("problem", "candidates", "--min-size", "4") == []
    assert cli.ok("problem", "candidates", "--min-size", "4").out.strip() == (
        "No recurring-incident candidates."
    )

    text_key = "text:floor+jam+print+two"
    with nothing_written(cli.url):
        assert cli.run("problem", "candidates", "--days", "0").code == 2
        assert cli.run("problem", "candidates", "--min-size", "1").code == 2
        assert cli.run("problem", "dismiss", text_key, user="vic").code == 4
        assert cli.run("problem", "dismiss", "ci:nothing-here").code == 3
        assert cli.run("problem", "promote", "ci:nothing-here").code == 3
        assert cli.run("problem", "promote", "ci:mail-01", user="vic").code == 4
    dismissed = cli.ok("problem", "dismiss", text_key, user="alice")
    assert dismissed.out.strip() == (
        f"Dismissed {text_key} at 3 incidents; it comes back if it grows."
    )
    assert [c["key"] for c in cli.json("problem", "candidates")] == ["ci:mail-01"]
    again = cli.json("problem", "dismiss", text_key)  # still findable to dismiss again
    assert again == {"key": text_key, "incident_count": 3, "status": "dismissed"}
    grown = incident(cli, "Printer jams on floor two again")
    back = {c["key"]: c for c in cli.json("problem", "candidates")}
    assert back[text_key]["members"] == [*printers, grown]

    promoted = cli.ok("problem", "promote", "ci:mail-01", "--title", "Mail server keeps failing")
    assert promoted.out.strip() == (
        "Created PRB0000001 (P5, 3 incident(s) linked): Mail server keeps failing"
    )
    problem = show(cli)
    assert [i["number"] for i in problem["incidents"]] == mail
    assert (problem["service"], problem["cis"]) == ("Email", ["mail-01"])
    assert "recurring-incident candidate ci:mail-01" in problem["description"]
    assert [c["key"] for c in cli.json("problem", "candidates")] == [text_key]
    named = cli.json("problem", "promote", text_key)
    assert named["title"] == "Recurring: Similar: Printer jams on floor two (4 incidents)"
    assert cli.json("problem", "candidates") == []


# ---------------------------------------------------------------------------- known errors


def test_kedb_search_by_words_service_and_ci(cli: Cli) -> None:
    new_problem(
        cli,
        "--ci",
        "mail-01",
        root_cause="The queue disk fills",
        workaround="Purge the deferred queue",
        impact="1",
    )
    new_problem(
        cli,
        title="VPN drops every ten minutes",
        service="VPN",
        root_cause="MTU mismatch on the disk-less gateway",
        workaround="Lower the MTU to 1400",
    )
    new_problem(cli, title="Mail disk is slow", root_cause="Old disks")  # no workaround: not known
    found = cli.json("kedb", "search", "queue")
    assert [(h["number"], h["reasons"]) for h in found] == [(PRB1, ["matches queue"])]
    assert (found[0]["workaround"], found[0]["cis"], found[0]["service"]) == (
        "Purge the deferred queue",
        ["mail-01"],
        "Email",
    )
    both = cli.json("kedb", "search", "disk MTU")
    assert [h["number"] for h in both] == [PRB2, PRB1]  # two words match beats priority
    assert [h["number"] for h in cli.json("kedb", "search", "disk", "--service", "VPN")] == [PRB2]
    assert [h["number"] for h in cli.json("kedb", "search", "", "--ci", "mail-01")] == [PRB1]
    assert cli.json("kedb", "search", "printer") == []
    assert cli.ok("kedb", "search", "printer").out.strip() == "No known errors match."
    human = cli.ok("kedb", "search", "queue").out
    assert human.startswith("PRB0000001  P3  new  Email, mail-01  (matches queue)\n")
    assert "  Workaround:\n    Purge the deferred queue" in human
    limited = cli.run("kedb", "search", "", "--limit", "1", "--json")
    assert limited.code == 0 and [h["number"] for h in limited.json()] == [PRB1]
    assert "showing the first 1" in limited.err
    with nothing_written(cli.url):
        assert cli.run("kedb", "search", "disk", "--service", "Nowhere").code == 2
        assert cli.run("kedb", "search", "disk", "--ci", "nothing-01").code == 2
        assert cli.run("kedb", "search", "disk", "--limit", "0").code == 2
    assert cli.json("kedb", "search", "queue", user="vic") != []  # viewers read
