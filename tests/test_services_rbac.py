"""Incident rights by group placement, through the services, table-driven: every seeded user
tries every incident write on incidents in their own group, another group and no group. A
refusal is PermissionDenied (exit 4) and writes nothing; a permitted action writes.

Every other operation against every role (changes, problems, SLA admin, the directory, ...)
is the RBAC matrix in tests/test_services_rbac_matrix.py."""

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
    admins do every incident action."""
    role = ROLES[actor]
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


def test_rights_of_each_user(desk: Desk, database: Database) -> None:
    """Every user, every action, every placement, in one database. The refused users of a
    case share one incident (a refusal writes nothing: no audit, feed or journal row per call,
    and not one changed row in any table over them all); each permitted user acts on an
    incident of their own, so the cases cannot disturb each other."""
    for username, role in ROLES.items():
        assert desk[username].role == role
        assert set(directory.get_user(desk.session, username).groups) == GROUPS[username]

    def incident(action: Action, group: str | None) -> str:
        number = make(desk, "root", title=f"{action.name} in {group}", group=group).number
        drive(desk, number, action.state, actor="root")
        return number

    cases = [
        (action, group)
        for action in ACTIONS
        for group in (PLACEMENTS if action.name != "create" else ("Network",))
    ]
    targets = {(action.name, group): incident(action, group) for action, group in cases}
    mismatches: list[str] = []
    before = footprint(database)
    for (action, group), actor in itertools.product(cases, ROLES):
        if permitted(actor, action.name, group):
            continue
        label = f"{actor} {action.name} on an incident in {group or 'no group'}"
        since = mark(database)
        try:
            action.run(desk, actor, targets[action.name, group])
        except PermissionDenied as error:
            assert error.exit_code == 4
            assert actor in str(error), label
            if mark(database) != since:
                mismatches.append(f"{label}: refused, but left audit/feed/journal rows")
            continue
        except ServiceError as failure:
            mismatches.append(f"{label}: expected PermissionDenied, got {failure!r}")
            continue
        mismatches.append(f"{label}: expected PermissionDenied, was allowed")
    if changed := [t for t in before if before[t] != footprint(database)[t]]:
        mismatches.append(f"the refusals together wrote to {', '.join(changed)}")

    for action, group in cases:
        allowed = [actor for actor in ROLES if permitted(actor, action.name, group)]
        for index, actor in enumerate(allowed):
            number = targets[action.name, group] if index == 0 else incident(action, group)
            label = f"{actor} {action.name} on an incident in {group or 'no group'}"
            if action.name == "assign_to_me" and group is not None and group not in GROUPS[actor]:
                # Allowed to assign, but one can only take incidents of one's own groups.
                try:
                    refused(
                        database,
                        ValidationFailed,
                        lambda a=action, n=number, who=actor: a.run(desk, who, n),
                    )
                except (Exception, pytest.fail.Exception) as failure:
                    mismatches.append(f"{label}: expected ValidationFailed, got {failure!r}")
                continue
            since = mark(database)
            try:
                action.run(desk, actor, number)
            except ServiceError as failure:
                mismatches.append(f"{label}: expected success, got {failure!r}")
                continue
            event = written(database, since).one_event()
            assert event.actor_id == desk[actor].id, label
    assert not mismatches, "\n".join(mismatches)


def test_everyone_reads(desk: Desk, database: Database) -> None:
    number = make(desk, "sue", group="Network").number
    before = footprint(database)
    for actor in ("vic", "alice", "root"):
        assert incidents.get_incident(desk.session, number).number == number
        assert incidents.incident_detail(desk.session, number).incident.number == number
        listed = incidents.list_incidents(desk.session, desk[actor], validate(IncidentQuery))
        assert [r.number for r in listed] == [number], actor
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
