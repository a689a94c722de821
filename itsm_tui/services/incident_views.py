"""Incidents as callers see them: records with references resolved to names, the journal,
the audit trail, and the audited field view every write diffs before and after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from itsm_tui.domain.enums import RecordType
from itsm_tui.services.history import audit_of, journal_of
from itsm_tui.services.records import AuditRecord, IncidentRecord, JournalRecord
from itsm_tui.store.models import (
    Change,
    ConfigItem,
    Group,
    Incident,
    Problem,
    Service,
    User,
)


def audited_fields(session: Session, incident: Incident) -> dict[str, object]:
    """The audited view of an incident: references by their human names."""
    names = _names(session, [incident])
    return {
        "title": incident.title,
        "description": incident.description or None,
        "caller": incident.caller,
        "service": names.services.get(incident.service_id),
        "ci": names.cis.get(incident.ci_id),
        "category": incident.category,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "priority": incident.priority,
        "state": incident.state,
        "hold_reason": incident.hold_reason,
        "assignee": names.users.get(incident.assignee_id),
        "group": names.groups.get(incident.group_id),
        "major": incident.major,
        "resolution_code": incident.resolution_code,
        "resolution_notes": incident.resolution_notes,
        "responded_at": incident.responded_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "caused_by": names.changes.get(incident.caused_by_change_id),
    }


@dataclass
class _Names:
    users: dict[int | None, str]
    user_display: dict[int | None, str]
    groups: dict[int | None, str]
    services: dict[int | None, str]
    cis: dict[int | None, str]
    incidents: dict[int | None, str]
    changes: dict[int | None, str]
    problems: dict[int | None, str]


def _names(session: Session, incidents: Sequence[Incident]) -> _Names:
    """Fetch the names every listed incident refers to in one query per table."""
    if len(incidents) == 1:
        return _names_of_one(session, incidents[0])

    def ids(attr: str) -> set[int]:
        return {v for i in incidents if (v := getattr(i, attr)) is not None}

    user_ids = ids("assignee_id") | ids("opened_by_id")
    users = session.exec(select(User).where(col(User.id).in_(user_ids))).all() if user_ids else []
    group_ids, service_ids, ci_ids, parent_ids = (
        ids("group_id"),
        ids("service_id"),
        ids("ci_id"),
        ids("parent_id"),
    )
    change_ids = ids("caused_by_change_id")
    problem_ids = ids("problem_id")
    return _Names(
        users={u.id: u.username for u in users},
        user_display={u.id: u.display_name for u in users},
        groups=dict(
            session.exec(select(Group.id, Group.name).where(col(Group.id).in_(group_ids))).all()
        )
        if group_ids
        else {},
        services=dict(
            session.exec(
                select(Service.id, Service.name).where(col(Service.id).in_(service_ids))
            ).all()
        )
        if service_ids
        else {},
        cis=dict(
            session.exec(
                select(ConfigItem.id, ConfigItem.name).where(col(ConfigItem.id).in_(ci_ids))
            ).all()
        )
        if ci_ids
        else {},
        incidents=dict(
            session.exec(
                select(Incident.id, Incident.number).where(col(Incident.id).in_(parent_ids))
            ).all()
        )
        if parent_ids
        else {},
        changes=dict(
            session.exec(
                select(Change.id, Change.number).where(col(Change.id).in_(change_ids))
            ).all()
        )
        if change_ids
        else {},
        problems=dict(
            session.exec(
                select(Problem.id, Problem.number).where(col(Problem.id).in_(problem_ids))
            ).all()
        )
        if problem_ids
        else {},
    )


def _names_of_one(session: Session, incident: Incident) -> _Names:
    """One record: `Session.get` answers from the identity map, so writes that snapshot an
    incident before and after a change cost no extra queries for names already loaded."""

    got: dict[tuple[type[Any], int], Any] = {}  # one Session.get per row (assignee: twice)

    def name(model: type[Any], key: int | None, attr: str = "name") -> dict[int | None, str]:
        if key is None:
            return {}
        if (model, key) not in got:
            got[model, key] = session.get(model, key)
        row = got[model, key]
        return {key: getattr(row, attr)} if row is not None else {}

    return _Names(
        users=name(User, incident.assignee_id, "username")
        | name(User, incident.opened_by_id, "username"),
        user_display=name(User, incident.assignee_id, "display_name"),
        groups=name(Group, incident.group_id),
        services=name(Service, incident.service_id),
        cis=name(ConfigItem, incident.ci_id),
        incidents=name(Incident, incident.parent_id, "number"),
        changes=name(Change, incident.caused_by_change_id, "number"),
        problems=name(Problem, incident.problem_id, "number"),
    )


def incident_records(session: Session, incidents: Sequence[Incident]) -> list[IncidentRecord]:
    names = _names(session, incidents)
    return [_to_record(i, names) for i in incidents]


def incident_record(session: Session, incident: Incident) -> IncidentRecord:
    return incident_records(session, [incident])[0]


def _to_record(incident: Incident, names: _Names) -> IncidentRecord:
    return IncidentRecord(
        number=incident.number,
        title=incident.title,
        description=incident.description,
        caller=incident.caller,
        service=names.services.get(incident.service_id),
        ci=names.cis.get(incident.ci_id),
        category=incident.category,
        impact=incident.impact,
        urgency=incident.urgency,
        priority=incident.priority,
        state=incident.state,
        hold_reason=incident.hold_reason,
        assignee=names.users.get(incident.assignee_id),
        assignee_name=names.user_display.get(incident.assignee_id),
        group=names.groups.get(incident.group_id),
        major=incident.major,
        parent=names.incidents.get(incident.parent_id),
        opened_by=names.users.get(incident.opened_by_id),
        opened_at=incident.opened_at,
        updated_at=incident.updated_at,
        responded_at=incident.responded_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        resolution_code=incident.resolution_code,
        resolution_notes=incident.resolution_notes,
        caused_by=names.changes.get(incident.caused_by_change_id),
        problem=names.problems.get(incident.problem_id),
        version=incident.version,
    )


def journal_records(session: Session, incident: Incident) -> list[JournalRecord]:
    assert incident.id is not None
    return journal_of(session, RecordType.INCIDENT, incident.id)


def audit_records(session: Session, incident: Incident) -> list[AuditRecord]:
    assert incident.id is not None
    return audit_of(session, RecordType.INCIDENT, incident.id)
