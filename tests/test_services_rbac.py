"""Who may do what, through the services, table-driven: every seeded user tries every write on
incidents in their own group, another group and no group, plus every directory write. A refusal
is PermissionDenied (exit 4) and writes nothing; a permitted action writes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete

from itsm_tui.services import directory, incidents
from itsm_tui.services.errors import PermissionDenied, ServiceError, ValidationFailed
from itsm_tui.services.incidents import IncidentChanges, IncidentQuery
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import GroupMembership
from tests.conftest import Desk
from tests.service_helpers import drive, footprint, make, mark, refused, written

# The seeded desk, restated so the expectations below do not read the code under test.
ROLES = {
    "root": "admin",
    "sue": "supervisor",
    "alice": "agent",
    "bob": "agent",
    "carl": "change_manager",
    "vic": "viewer",
}
GROUPS = {
    "root": set(),
    "sue": {"Service Desk", "Network"},
    "alice": {"Service Desk"},
    "bob": {"Network"},
    "carl": {"Network"},
    "vic": set(),
}
PLACEMENTS = ("Service Desk", "Network", None)  # the incident's group


def permitted(actor: str, action: str, group: str | None) -> bool:
    """The issue's rights: viewer reads only; agents and change managers create, note anywhere
    and work incidents of their groups or with no group, never declare major; supervisors and
    admins do every incident action; only admins manage the directory."""
    role = ROLES[actor]
    if action.startswith("directory:"):
        return role == "admin"
    if role == "viewer":
        return False
    if role in ("supervisor", "admin"):
        return True
    if action in ("create", "work_note", "comment"):
        return True
    if action == "set_major":
        return False
    return group is None or group in GROUPS[actor]


@dataclass(frozen=True)
class Action:
    name: str
    state: str  # the state the incident is put in first
    run: Callable[..., object]  # (desk, actor, number) -> result


def _call(service: Callable[..., object], *args: Any, **kwargs: Any) -> Callable[..., object]:
    """An incident service call as (desk, actor, number) -> result."""
    return lambda d, who, n: service(d.session, d[who], d.clock, n, *args, **kwargs)


def _update(**changes: Any) -> Callable[..., object]:
    return lambda d, who, n: incidents.update_incident(
        d.session, d[who], d.clock, n, validate(IncidentChanges, **changes)
    )


RESOLVE = {"resolution_code": "solved_permanently", "resolution_notes": "fixed"}
ACTIONS = [
    Action("create", "new", lambda d, who, n: make(d, who, title=f"By {who}", group="Network")),
    Action("update", "new", _update(title="Renamed", impact=1)),
    Action("assign", "new", _call(incidents.assign, group="Security")),
    Action("assign_to_me", "new", _call(incidents.assign_to_me)),
    Action("start", "new", _call(incidents.transition, "in_progress")),
    Action("resolve", "in_progress", _call(incidents.transition, "resolved", **RESOLVE)),
    Action("close", "resolved", _call(incidents.transition, "closed")),
    Action("cancel", "new", _call(incidents.transition, "cancelled")),
    Action("edit_hold_reason", "on_hold", _update(hold_reason="awaiting_vendor")),
    Action("edit_resolution", "resolved", _update(resolution_notes="really fixed")),
    Action("reopen", "resolved", _call(incidents.reopen, reason="back")),
    Action("escalate", "in_progress", _call(incidents.escalate, reason="r", to_group="Security")),
    Action("set_major", "new", _call(incidents.set_major, True)),
    Action("work_note", "new", _call(incidents.add_note, "seen")),
    Action("comment", "new", _call(incidents.add_note, "hello", comment=True)),
]


def _directory_actions() -> list[Action]:
    counter = itertools.count()

    def unique(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    return [
        Action(
            "directory:add_user",
            "new",
            lambda d, who, n: directory.add_user(
                d.session,
                d[who],
                d.clock,
                validate(directory.UserCreate, username=unique("u"), role="agent"),
            ),
        ),
        Action(
            "directory:add_group",
            "new",
            lambda d, who, n: directory.add_group(
                d.session, d[who], d.clock, validate(directory.GroupCreate, name=unique("G"))
            ),
        ),
        Action(
            "directory:add_service",
            "new",
            lambda d, who, n: directory.add_service(
                d.session, d[who], d.clock, validate(directory.ServiceCreate, name=unique("S"))
            ),
        ),
        Action(
            "directory:add_config_item",
            "new",
            lambda d, who, n: directory.add_config_item(
                d.session,
                d[who],
                d.clock,
                validate(directory.ConfigItemCreate, name=unique("ci-"), service="Email"),
            ),
        ),
    ]


def test_the_table_matches_the_seeded_desk(desk: Desk) -> None:
    for username, role in ROLES.items():
        assert desk[username].role == role
        record = directory.get_user(desk.session, username)
        assert set(record.groups) == GROUPS[username]


@pytest.mark.parametrize("actor", list(ROLES))
def test_rights_of_each_user(desk: Desk, database: Database, actor: str) -> None:
    mismatches: list[str] = []
    cases = [
        (action, group)
        for action in ACTIONS
        for group in (PLACEMENTS if action.name != "create" else ("Network",))
    ]
    cases += [(action, None) for action in _directory_actions()]
    for action, group in cases:
        number = make(desk, "root", title=f"{action.name} in {group}", group=group).number
        drive(desk, number, action.state, actor="root")
        label = f"{actor} {action.name} on an incident in {group or 'no group'}"
        expect = permitted(actor, action.name, group)
        if not expect:
            try:
                error = refused(
                    database, PermissionDenied, lambda a=action, n=number: a.run(desk, actor, n)
                )
            except (Exception, pytest.fail.Exception) as failure:  # collect every mismatch
                mismatches.append(f"{label}: expected PermissionDenied, got {failure!r}")
                continue
            assert error.exit_code == 4
            assert actor in str(error)
            continue
        if action.name == "assign_to_me" and group is not None and group not in GROUPS[actor]:
            # Allowed to assign, but one can only take incidents of one's own groups.
            try:
                refused(
                    database, ValidationFailed, lambda a=action, n=number: a.run(desk, actor, n)
                )
            except (Exception, pytest.fail.Exception) as failure:
                mismatches.append(f"{label}: expected ValidationFailed, got {failure!r}")
            continue
        before = mark(database)
        try:
            action.run(desk, actor, number)
        except ServiceError as failure:
            mismatches.append(f"{label}: expected success, got {failure!r}")
            continue
        event = written(database, before).one_event()
        assert event.actor_id == desk[actor].id, label
    assert mismatches == []


@pytest.mark.parametrize("actor", ["vic", "alice", "root"])
def test_everyone_reads(desk: Desk, database: Database, actor: str) -> None:
    number = make(desk, "sue", group="Network").number
    before = footprint(database)
    assert incidents.get_incident(desk.session, number).number == number
    assert incidents.incident_detail(desk.session, number).incident.number == number
    listed = incidents.list_incidents(desk.session, desk[actor], validate(IncidentQuery))
    assert [r.number for r in listed] == [number]
    assert {u.username for u in directory.list_users(desk.session)} == set(ROLES)
    assert footprint(database) == before


@pytest.mark.parametrize("agent", ["bob", "carl"])
def test_agents_keep_incidents_assigned_to_them_outside_their_groups(
    desk: Desk, database: Database, agent: str
) -> None:
    """An agent who leaves a group still works what is assigned to them there; nobody else
    outside the group does, and they lose it once it is handed to someone else."""
    number = make(desk, "sue", group="Network", assignee=agent).number
    other = make(desk, "sue", group="Network").number
    desk.session.execute(delete(GroupMembership).where(GroupMembership.user_id == desk[agent].id))
    desk.session.commit()

    incidents.update_incident(
        desk.session, desk[agent], desk.clock, number, validate(IncidentChanges, urgency=1)
    )
    incidents.transition(desk.session, desk[agent], desk.clock, number, "in_progress")
    # ...but not other Network incidents any more, and not major.
    refused(
        database,
        PermissionDenied,
        lambda: incidents.transition(desk.session, desk[agent], desk.clock, other, "in_progress"),
    )
    refused(
        database,
        PermissionDenied,
        lambda: incidents.set_major(desk.session, desk[agent], desk.clock, number, True),
    )
    # alice (Service Desk) is neither in Network nor assigned.
    refused(
        database,
        PermissionDenied,
        lambda: incidents.update_incident(
            desk.session, desk["alice"], desk.clock, number, validate(IncidentChanges, urgency=3)
        ),
    )
    incidents.assign(desk.session, desk["sue"], desk.clock, number, assignee="sue")
    refused(
        database,
        PermissionDenied,
        lambda: incidents.update_incident(
            desk.session, desk[agent], desk.clock, number, validate(IncidentChanges, urgency=3)
        ),
    )


def test_refusal_messages_say_why(desk: Desk, database: Database) -> None:
    number = make(desk, "sue", group="Network").number
    viewer = refused(
        database,
        PermissionDenied,
        lambda: incidents.update_incident(
            desk.session, desk["vic"], desk.clock, number, validate(IncidentChanges, title="x")
        ),
    )
    assert "read-only" in str(viewer)
    assert "outside" not in str(viewer)
    outsider = refused(
        database,
        PermissionDenied,
        lambda: incidents.transition(desk.session, desk["alice"], desk.clock, number, "cancelled"),
    )
    assert "outside their groups" in str(outsider)
    major = refused(
        database,
        PermissionDenied,
        lambda: incidents.set_major(desk.session, desk["bob"], desk.clock, number, True),
    )
    assert "supervisors" in str(major)
    assert "outside" not in str(major)  # bob is in Network; groups are not the reason
    admin_only = refused(
        database,
        PermissionDenied,
        lambda: directory.add_group(
            desk.session, desk["sue"], desk.clock, validate(directory.GroupCreate, name="DBA")
        ),
    )
    assert "admin" in str(admin_only)
