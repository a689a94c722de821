"""Who may do what. Services call these before writing; the UI may hide what they refuse, but
the service check is the one that counts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from itsm_tui.domain.enums import Role


class IncidentAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    TRANSITION = "transition"
    ASSIGN = "assign"
    ESCALATE = "escalate"
    NOTE = "note"
    DECLARE_MAJOR = "declare_major"


@dataclass(frozen=True)
class IncidentScope:
    """Where an incident sits relative to the actor; decides agent rights."""

    in_actor_groups: bool
    assigned_to_actor: bool
    unassigned_group: bool

    @property
    def agent_may_work(self) -> bool:
        # Agents work their groups' tickets, tickets handed to them, and the untriaged pool.
        return self.in_actor_groups or self.assigned_to_actor or self.unassigned_group


WORKER_ROLES = frozenset({Role.AGENT, Role.CHANGE_MANAGER})
ALL_INCIDENT_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def may_act_on_incident(role: Role, action: IncidentAction, scope: IncidentScope | None) -> bool:
    """True when `role` may perform `action`; `scope` is None for actions with no record yet."""
    if role is Role.VIEWER:
        return False
    if role in ALL_INCIDENT_ROLES:
        return True
    # agent and change_manager
    if action in (IncidentAction.CREATE, IncidentAction.NOTE):
        return True
    if action is IncidentAction.DECLARE_MAJOR:
        return False
    return scope is not None and scope.agent_may_work


def may_change_incidents(role: Role) -> bool:
    """True when `role` may do some incident action at all. Bulk actions ask first, so a
    viewer gets one refusal instead of one per marked incident."""
    return role is not Role.VIEWER


def may_manage_directory(role: Role) -> bool:
    """Users, groups, services and CIs are reference data: admins only."""
    return role is Role.ADMIN


def may_read(role: Role) -> bool:
    return True


@dataclass(frozen=True)
class ChangeScope:
    """Where a change sits relative to the actor; decides who may edit and move it."""

    requested_by_actor: bool
    assigned_to_actor: bool
    in_change_group: bool

    @property
    def involved(self) -> bool:
        return self.requested_by_actor or self.assigned_to_actor or self.in_change_group


# Change managers run the change process and admins do everything: they work any change.
CHANGE_AUTHORITY_ROLES = frozenset({Role.CHANGE_MANAGER, Role.ADMIN})


def may_work_change(role: Role, scope: ChangeScope) -> bool:
    """True when `role` may edit or move a change sitting at `scope` (ServiceNow's rule).

    A change is worked by the people it belongs to: its requester, its assignee and its
    assignment group, plus change managers (and admins). Nobody else: not an agent of another
    group, and not a supervisor outside it either, since supervisors sit on the CAB and their
    part in a change is the vote. Unlike incidents there is no untriaged pool: a change in no
    group belongs to its requester and assignee. Notes stay open to every worker.
    """
    if role is Role.VIEWER:
        return False
    return role in CHANGE_AUTHORITY_ROLES or scope.involved


def may_shape_standard_change(role: Role) -> bool:
    """True when `role` may file a standard change, make a change standard or change what a
    standard change runs.

    A standard change is scheduled with no CAB vote: in ServiceNow it may only be raised from
    a template change management approved. Until there is a catalogue of templates, the change
    manager stands in for it, so only change managers (and admins) decide a standard change's
    plan; everyone else files a normal change and the CAB votes on it.
    """
    return role in CHANGE_AUTHORITY_ROLES
