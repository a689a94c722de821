"""Import and export through the services, on both engines: the round trip (export, import
into an empty database, export again: the same bytes, JSON and CSV), re-import (identical
records unchanged, a differing one updated and audited), all-or-nothing validation with
every problem and its line, the admin-only rule, number counters and a ServiceNow mapping."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import pytest
from sqlmodel import Session, select

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import ApprovalDecision
from itsm_tui.services import (
    changes,
    directory,
    freeze_windows,
    incidents,
    problems,
    slas,
    user_keys,
)
from itsm_tui.services.errors import PermissionDenied, ValidationFailed
from itsm_tui.services.transfer_export import export_rows, parse_kinds, render
from itsm_tui.services.transfer_import import ImportRefused, import_data
from itsm_tui.services.transfer_mapping import load_mapping
from itsm_tui.services.transfer_schema import KINDS
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import AuditEntry, FeedEvent, Incident
from tests.conftest import Desk, _postgres_database_url, postgres_base_url
from tests.service_helpers import drive, footprint, make, mark, refused, written

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "assets" / "mappings" / "servicenow_incidents.toml"
SERVICENOW_CSV = ROOT / "tests" / "data" / "servicenow_incidents.csv"


@pytest.fixture
def empty_databases(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Database]]:
    """Makes more migrated databases on the same engine as `desk`, to import into."""
    opened: list[tuple[Database, Iterator[str]]] = []

    def make_empty() -> Database:
        if db_url.startswith("sqlite"):
            path = tmp_path / f"empty{len(opened)}.sqlite"
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
            urls: Iterator[str] = iter([f"sqlite:///{path}"])
        else:
            base = postgres_base_url()
            assert base is not None
            urls = _postgres_database_url(base, request.getfixturevalue("_postgres_template"))
        database = open_database(next(urls))
        opened.append((database, urls))
        return database

    yield make_empty
    for database, urls in opened:
        database.dispose()
        for _ in urls:  # drops the Postgres database
            pass


def seed_records(desk: Desk) -> None:
    """Incidents in several states with notes, a change through its approvals, a problem
    with linked incidents: every kind the round trip must carry."""
    slas.ensure_defaults(desk.session, desk.clock)
    s, c = desk.session, desk.clock
    first = make(desk, title="Mail bounces", ci="mail-01", assignee="alice").number
    incidents.add_note(s, desk["alice"], c, first, 'Looking at the "queue" — ünïcode, ok')
    incidents.add_note(s, desk["alice"], c, first, "Caller told", comment=True)
    drive(desk, make(desk, title="VPN slow", impact=1, urgency=1).number, "on_hold")
    drive(desk, make(desk, title="Printer", impact=3, urgency=3).number, "closed")
    resolved = drive(desk, make(desk, title="Password reset").number, "resolved").number
    start = c.now() + timedelta(days=2)
    change = changes.create_change(
        s,
        desk["alice"],
        c,
        validate(
            changes.ChangeCreate,
            title="Patch mail-01",
            cis=("mail-01",),
            outage_expected=True,
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            implementation_plan="do",
            backout_plan="undo",
            test_plan="check",
        ),
    ).number
    for state, extra in (("assess", {}), ("authorize", {"approvers": ("sue",)})):
        move = validate(changes.ChangeMove, state=state, **extra)
        changes.move_change(s, desk["alice"], c, change, move)
    changes.vote(s, desk["carl"], c, change, ApprovalDecision.APPROVED, comment="fine")
    changes.add_note(s, desk["carl"], c, change, "CAB agreed")
    freeze = validate(
        freeze_windows.FreezeCreate,
        name="Year end",
        starts_at=start + timedelta(days=30),
        ends_at=start + timedelta(days=33),
        service="VPN",
        reason="audit",
    )
    freeze_windows.add_freeze(s, desk["carl"], c, freeze)
    problems.create_problem(
        s,
        desk["sue"],
        c,
        validate(
            problems.ProblemCreate,
            title="Mail keeps bouncing",
            service="Email",
            incidents=(first, resolved),
        ),
    )


def export_text(database: Database, kinds: str | None = None, fmt: str = "json") -> str:
    with database.session() as session:
        actor = directory.find_user(session, "root")
        assert actor is not None
        return render(export_rows(session, actor, parse_kinds(kinds)), fmt)


def import_text(
    session: Session, clock: FixedClock, text: str | bytes, name: str = "desk.json", **kw: object
) -> dict[str, dict[str, int]]:
    slas.ensure_defaults(session, clock)
    actor = directory.resolve_actor(session, clock, "root")
    data = text.encode() if isinstance(text, str) else text
    report = import_data(session, actor, clock, data, source=name, **kw)  # type: ignore[arg-type]
    return {kind: vars(counts) for kind, counts in report.counts.items()}


def test_export_import_export_gives_the_same_bytes_in_json_and_csv(
    desk: Desk, database: Database, empty_databases: Callable[[], Database]
) -> None:
    seed_records(desk)
    original = export_text(database)
    document = json.loads(original)
    assert [k for k in document if k in KINDS] == list(KINDS)
    assert {i["state"] for i in document["incidents"]} >= {"new", "on_hold", "closed", "resolved"}
    assert document["changes"][0]["approvals"][0]["decision"] == "approved"
    assert document["problems"][0]["incidents"] == ["INC0000001", "INC0000004"]
    assert document["incidents"][0]["journal"][0]["created_at"].endswith("Z")
    csvs = {kind: export_text(database, kind, "csv") for kind in KINDS}
    assert all(text.count("\n") >= 2 for text in csvs.values())  # a header and records

    clock = FixedClock(desk.clock.now() + timedelta(days=1))
    from_json = empty_databases()
    with from_json.session() as session:
        counts = import_text(session, clock, original)
    assert counts["incidents"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert counts["users"]["unchanged"] == 1  # root, the importing admin, was already there
    assert export_text(from_json) == original

    from_csv = empty_databases()
    with from_csv.session() as session:
        for kind in KINDS:  # one file per kind, in dependency order
            counts = import_text(session, clock, csvs[kind], name=f"{kind}.csv")
            assert counts[kind]["created"] >= 1, kind
    assert {kind: export_text(from_csv, kind, "csv") for kind in KINDS} == csvs
    assert export_text(from_csv) == original


def test_reimport_skips_identical_records_and_updates_a_differing_one_audited(
    desk: Desk, database: Database
) -> None:
    seed_records(desk)
    text = export_text(database)
    before = mark(database)
    counts = import_text(desk.session, desk.clock, text)
    assert all(c["created"] == 0 and c["updated"] == 0 for c in counts.values()), counts
    assert written(database, before).audit == [] and written(database, before).feed == []

    document = json.loads(text)
    row = document["incidents"][0]
    row["title"] = "Mail bounces for everyone"
    row["journal"].append(
        {
            "kind": "work_note",
            "author": "bob",
            "body": "imported",
            "created_at": "2026-03-02T10:00:00Z",
        }
    )
    document["incidents"][1]["number"] = "INC0000042"  # a new record with a high number
    # A name longer than the feed's number column (16 characters) is fine on both engines.
    document["groups"].append({"name": "Infrastructure Operations", "escalates_to": "Network"})
    before = mark(database)
    counts = import_text(desk.session, desk.clock, json.dumps(document))
    assert counts["incidents"] == {"created": 1, "updated": 1, "unchanged": 2}
    assert counts["groups"] == {"created": 1, "updated": 0, "unchanged": 3}
    changes_made = written(database, before)
    first = [a for a in changes_made.audit if (a.record_type, a.record_id) == ("incident", 1)]
    assert [(a.field, a.old_value, a.new_value) for a in first] == [
        ("title", "Mail bounces", "Mail bounces for everyone")
    ]
    assert [(e.record_type, e.record_number, e.action) for e in changes_made.feed] == [
        ("group", None, "import"),
        ("incident", "INC0000001", "import"),
        ("incident", "INC0000042", "import"),
    ]
    assert [j.body for j in changes_made.journal] == ["imported"]
    # The counter moved past the imported number.
    assert make(desk).number == "INC0000043"


def test_every_problem_is_reported_with_its_line_and_nothing_is_written(
    desk: Desk, database: Database
) -> None:
    seed_records(desk)
    document = json.loads(export_text(database, "incidents"))
    bad = document["incidents"]
    bad[0]["priority"] = 1  # impact 2 x urgency 2 is P3
    bad[1]["group"] = "Nowhere"
    bad[2]["hold_reason"] = "awaiting_caller"  # closed: no hold reason
    bad[3]["number"] = bad[1]["number"]
    text = json.dumps(document, indent=2)
    lines = {
        i: text.count("\n", 0, text.index(f'"title": "{r["title"]}"')) - 1
        for i, r in enumerate(bad)
    }
    error = refused(database, ImportRefused, lambda: import_text(desk.session, desk.clock, text))
    assert isinstance(error, ImportRefused)
    found = [(issue.line, issue.where, issue.message) for issue in error.issues]
    assert len(found) == 4, found
    assert found[0][0] == lines[0] and "does not match impact 2 x urgency 2" in found[0][2]
    assert found[1][:2] == (lines[1], "incidents[1] INC0000002")
    assert "unknown group 'Nowhere'" in found[1][2]
    assert "hold reason" in found[2][2] and found[2][0] == lines[2]
    assert "appears twice" in found[3][2]

    csv_text = export_text(database, "incidents", "csv").encode()
    broken = csv_text.replace(b"VPN slow", b"VPN \xff slow")
    error = refused(
        database, ImportRefused, lambda: import_text(desk.session, desk.clock, broken, "x.csv")
    )
    assert isinstance(error, ImportRefused)
    assert [(i.line, "UTF-8" in i.message) for i in error.issues] == [(3, True)]

    # A stored record the rules refuse (edited by hand) still exports; importing reports it.
    held = desk.session.exec(select(Incident).where(Incident.state == "on_hold")).one()
    held.hold_reason = None
    desk.session.add(held)
    desk.session.commit()
    text = export_text(database, "incidents")
    error = refused(database, ImportRefused, lambda: import_text(desk.session, desk.clock, text))
    assert isinstance(error, ImportRefused)
    assert [(i.where, "hold reason" in i.message) for i in error.issues] == [
        (f"incidents[1] {held.number}", True)
    ]


def test_only_admins_import_and_any_user_exports(desk: Desk, database: Database) -> None:
    seed_records(desk)
    text = export_text(database, "services")
    for user in ("sue", "vic"):
        refused(
            database,
            PermissionDenied,
            lambda user=user: import_data(
                desk.session, desk[user], desk.clock, text.encode(), source="s.json"
            ),
        )
    rows = export_rows(desk.session, desk["vic"], ["incidents"])
    assert len(rows["incidents"]) == 4

    # A failure in the middle of the writes (after a new user was written) leaves nothing.
    users = [
        {"username": "zoe", "role": "agent", "groups": ["Network"]},
        {"username": "root", "role": "agent"},  # the importing admin may not demote themself
    ]
    document = {"format": "itsm-tui-export", "version": 1, "users": users}
    refused(
        database,
        ValidationFailed,
        lambda: import_text(desk.session, desk.clock, json.dumps(document)),
        match="changes your own account",
    )


def test_a_servicenow_csv_imports_through_the_shipped_mapping(
    desk: Desk, database: Database
) -> None:
    mapping = load_mapping(MAPPING)
    data = SERVICENOW_CSV.read_bytes()
    slas.ensure_defaults(desk.session, desk.clock)
    before = footprint(database)
    counts = import_text(desk.session, desk.clock, data, "sn.csv", mapping=mapping, dry_run=True)
    assert counts == {"incidents": {"created": 3, "updated": 0, "unchanged": 0}}
    assert footprint(database) == before  # the dry run wrote nothing
    import_text(desk.session, desk.clock, data, "sn.csv", mapping=mapping)
    sync = incidents.get_incident(desk.session, "INC0010001")
    assert (sync.state, sync.impact, sync.urgency, sync.priority) == ("in_progress", 2, 2, 3)
    assert (sync.assignee, sync.group, sync.caller) == ("alice", "Service Desk", "Dana Lee")
    assert sync.description == "Caller says mail stopped\nafter the update"
    assert sync.opened_at == datetime(2026, 7, 2, 8, 0, tzinfo=UTC)  # 09:00 in London, BST
    vpn = incidents.get_incident(desk.session, "INC0010002")
    assert (vpn.state, vpn.resolution_code, vpn.assignee) == (
        "resolved", "solved_workaround", "bob",
    )  # fmt: skip
    assert incidents.get_incident(desk.session, "INC0010003").urgency == 3
    assert make(desk).number == "INC0010004"
    audit = desk.session.exec(
        select(AuditEntry).where(
            AuditEntry.record_id
            == desk.session.exec(select(Incident.id).where(Incident.number == "INC0010001")).one(),
            AuditEntry.record_type == "incident",
            AuditEntry.field == "title",
        )
    ).one()
    assert audit.new_value == "Email not syncing on phone"
    assert desk.session.exec(select(FeedEvent).where(FeedEvent.action == "import")).all()


# ---------------------------------------------------------------------------- SSH keys


def _public_key(comment: str) -> str:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return key.export_public_key().decode().strip()


def _fingerprints(session: Session, username: str) -> list[str]:
    return [k.get_fingerprint("sha256") for k in user_keys.login_keys(session, username) or []]


def test_ssh_keys_travel_inside_users_and_survive_the_round_trip(
    desk: Desk, database: Database, empty_databases: Callable[[], Database]
) -> None:
    """An admin's export carries each user's public keys; importing it into an empty desk lets
    the same keys log in, and exporting again gives the same bytes (JSON and CSV)."""
    s, c = desk.session, desk.clock
    laptop, desktop, bob = (_public_key(n) for n in ("alice laptop", "alice@desk", ""))
    for owner, text in (("alice", laptop), ("alice", desktop), ("bob", bob)):
        user_keys.add_key(s, desk["root"], c, owner, text)
    original = export_text(database)
    users = {u["username"]: u for u in json.loads(original)["users"]}
    assert users["alice"]["ssh_keys"] == [laptop, desktop]
    assert (users["bob"]["ssh_keys"], users["sue"]["ssh_keys"]) == ([bob], [])
    csv_users = export_text(database, "users", "csv")

    fresh = empty_databases()
    with fresh.session() as session:
        counts = import_text(session, c, original)
        assert counts["users"]["created"] >= 3
        assert _fingerprints(session, "alice") == _fingerprints(s, "alice")
        assert len(_fingerprints(session, "alice")) == 2
        assert _fingerprints(session, "bob") == _fingerprints(s, "bob")
    assert export_text(fresh) == original
    from_csv = empty_databases()
    with from_csv.session() as session:
        import_text(session, c, export_text(database, "groups", "csv"), name="groups.csv")
        import_text(session, c, csv_users, name="users.csv")
    assert export_text(from_csv, "users", "csv") == csv_users

    # Only admins manage other users' keys, so only their exports carry them: a viewer's
    # leaves them out (null), and importing a row without keys leaves the user's alone.
    viewer = json.loads(render(export_rows(s, desk["vic"], ["users"]), "json"))
    assert {u["ssh_keys"] is None for u in viewer["users"]} == {True}
    before = mark(database)
    counts = import_text(s, c, json.dumps(viewer))
    assert counts["users"]["updated"] == 0 and written(database, before).audit == []
    assert len(_fingerprints(s, "alice")) == 2

    # A list replaces the user's keys, audited like any field.
    document = json.loads(original)
    for user in document["users"]:
        if user["username"] == "alice":
            user["ssh_keys"] = [desktop]
    before = mark(database)
    counts = import_text(s, c, json.dumps(document))
    assert counts["users"] == {"created": 0, "updated": 1, "unchanged": len(users) - 1}
    [entry] = written(database, before).audit
    assert (entry.field, entry.new_value) == ("ssh_keys", json.dumps([desktop]))
    assert _fingerprints(s, "alice") == [asyncssh.import_public_key(desktop).get_fingerprint()]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("ssh-ed25519 AAAAnotakey", "not an SSH public key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
        ("twice", "appears twice"),
    ],
    ids=["garbage", "private", "duplicate"],
)
def test_an_invalid_ssh_key_in_an_import_is_refused_and_nothing_is_written(
    desk: Desk, database: Database, bad: str, message: str
) -> None:
    """The rules of `itsm user key add`: one OpenSSH public key per line, no private key, no
    key twice for one user."""
    slas.ensure_defaults(desk.session, desk.clock)
    good = _public_key("alice@laptop")
    keys = [good, good] if bad == "twice" else [good, bad]
    users = [{"username": "alice", "role": "agent", "groups": ["Service Desk"], "ssh_keys": keys}]
    text = json.dumps({"format": "itsm-tui-export", "version": 1, "users": users}, indent=2)
    error = refused(database, ImportRefused, lambda: import_text(desk.session, desk.clock, text))
    assert isinstance(error, ImportRefused)
    [issue] = error.issues
    assert issue.where == "users[0] alice" and issue.line == 5
    assert issue.message.startswith("ssh_keys") and message in issue.message, issue.message


# ---------------------------------------------------------------------------- CSV kinds


def readme_csv_example() -> str:
    """The minimal incident CSV the README shows under 'Import, export and backup'."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Import, export and backup") :]
    return section.split("```csv\n", 1)[1].split("```", 1)[0]


def test_the_readmes_minimal_incident_csv_imports_as_incidents(
    desk: Desk, database: Database
) -> None:
    """Its columns fit problems too (their required columns are a subset): the kind whose
    required columns the header has most of wins, as the README promises."""
    text = readme_csv_example()
    assert text.splitlines()[0] == "number,title,impact,urgency,opened_at"
    counts = import_text(desk.session, desk.clock, text, name="minimal.csv")
    assert list(counts) == ["incidents"] and counts["incidents"]["created"] >= 1
    number = text.splitlines()[1].split(",")[0]
    assert incidents.get_incident(desk.session, number).state == "new"


def test_a_header_that_fits_several_kinds_names_them_and_kind_chooses(
    desk: Desk, database: Database
) -> None:
    slas.ensure_defaults(desk.session, desk.clock)
    text = "name,description\nPayroll,Monthly pay runs\n"
    error = refused(
        database, ImportRefused, lambda: import_text(desk.session, desk.clock, text, "x.csv")
    )
    assert isinstance(error, ImportRefused)
    [issue] = error.issues
    assert "groups, services" in issue.message and "--kind" in issue.message, issue.message

    counts = import_text(desk.session, desk.clock, text, "x.csv", kind="services")
    assert counts == {"services": {"created": 1, "updated": 0, "unchanged": 0}}
    # The README's incident header, read as problems when asked.
    minimal = readme_csv_example().replace("INC", "PRB")
    counts = import_text(desk.session, desk.clock, minimal, "p.csv", kind="problems")
    assert counts["problems"]["created"] >= 1

    # A kind the header does not fit says which columns are missing or foreign to it.
    error = refused(
        database,
        ImportRefused,
        lambda: import_text(desk.session, desk.clock, text, "x.csv", kind="cis"),
    )
    assert isinstance(error, ImportRefused)
    assert "service" in error.issues[0].message and "cis" in error.issues[0].message
    refused(
        database,
        ValidationFailed,
        lambda: import_text(desk.session, desk.clock, "{}", "x.json", kind="incidents"),
        match="--kind",
    )
