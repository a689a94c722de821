"""Role rights over every action and every position of an incident relative to the actor."""

from __future__ import annotations

import itertools

import pytest

from itsm_tui.domain.enums import Role
from itsm_tui.domain.permissions import (
    IncidentAction,
    IncidentScope,
    may_act_on_incident,
    may_manage_directory,
    may_read,
)

SCOPES = [
    IncidentScope(in_actor_groups=g, assigned_to_actor=a, unassigned_group=u)
    for g, a, u in itertools.product((False, True), repeat=3)
]
OUTSIDE = IncidentScope(in_actor_groups=False, assigned_to_actor=False, unassigned_group=False)
RECORD_ACTIONS = [
    IncidentAction.UPDATE,
    IncidentAction.TRANSITION,
    IncidentAction.ASSIGN,
    IncidentAction.ESCALATE,
]


def expected(role: Role, action: IncidentAction, scope: IncidentScope | None) -> bool:
    """The issue's rules, restated: viewer reads only; agents (and change managers) create,
    note anywhere, work incidents of their groups, assigned to them or without a group, and
    never declare major; supervisors and admins do every incident action."""
    if role is Role.VIEWER:
        return False
    if role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    if action in (IncidentAction.CREATE, IncidentAction.NOTE):
        return True
    if action is IncidentAction.DECLARE_MAJOR:
        return False
    if scope is None:
        return False
    return scope.in_actor_groups or scope.assigned_to_actor or scope.unassigned_group


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(IncidentAction))
def test_every_role_action_and_scope(role: Role, action: IncidentAction) -> None:
    for scope in [None, *SCOPES]:
        assert may_act_on_incident(role, action, scope) is expected(role, action, scope), (
            role,
            action,
            scope,
        )


def test_viewer_may_do_nothing_that_writes() -> None:
    for action, scope in itertools.product(IncidentAction, [None, *SCOPES]):
        assert not may_act_on_incident(Role.VIEWER, action, scope)
    assert not may_manage_directory(Role.VIEWER)


@pytest.mark.parametrize("role", [Role.AGENT, Role.CHANGE_MANAGER])
def test_agent_rights_outside_their_groups(role: Role) -> None:
    for action in RECORD_ACTIONS:
        assert not may_act_on_incident(role, action, OUTSIDE)
        assert may_act_on_incident(
            role, action, IncidentScope(False, assigned_to_actor=True, unassigned_group=False)
        )
        assert may_act_on_incident(
            role, action, IncidentScope(False, assigned_to_actor=False, unassigned_group=True)
        )
        assert may_act_on_incident(
            role, action, IncidentScope(True, assigned_to_actor=False, unassigned_group=False)
        )
    # Notes go anywhere; major incidents are for supervisors even in the agent's own group.
    assert may_act_on_incident(role, IncidentAction.NOTE, OUTSIDE)
    for scope in SCOPES:
        assert not may_act_on_incident(role, IncidentAction.DECLARE_MAJOR, scope)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_supervisor_and_admin_do_every_incident_action(role: Role) -> None:
    for action, scope in itertools.product(IncidentAction, [None, OUTSIDE]):
        assert may_act_on_incident(role, action, scope)


@pytest.mark.parametrize("role", list(Role))
def test_only_admin_manages_the_directory(role: Role) -> None:
    assert may_manage_directory(role) is (role is Role.ADMIN)


@pytest.mark.parametrize("role", list(Role))
def test_everyone_reads(role: Role) -> None:
    assert may_read(role)


@pytest.mark.parametrize(
    ("in_groups", "assigned", "no_group", "works"),
    [
        (False, False, False, False),  # someone else's group, someone else's ticket
        (True, False, False, True),
        (False, True, False, True),
        (False, False, True, True),
        (True, True, False, True),
        (True, False, True, True),
        (False, True, True, True),
        (True, True, True, True),
    ],
)
def test_scope_agent_may_work(in_groups: bool, assigned: bool, no_group: bool, works: bool) -> None:
    scope = IncidentScope(
        in_actor_groups=in_groups, assigned_to_actor=assigned, unassigned_group=no_group
    )
    assert scope.agent_may_work is works
