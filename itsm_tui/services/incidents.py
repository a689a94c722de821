"""Incident use cases: log, update, assign, move through the workflow, note and escalate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import (
    HoldReason,
    IncidentState,
    JournalKind,
    RecordType,
    ResolutionCode,
    Role,
)
from itsm_tui.domain.permissions import IncidentAction
from itsm_tui.domain.priority import priority_for
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import group_by_name, user_by_username
from itsm_tui.services.errors import InvalidTransition, ValidationFailed
from itsm_tui.services.history import journal, record_write
from itsm_tui.services.incident_changes import (
    apply_changes,
    changes_of,
    check_assignee_fits,
    check_ci_belongs,
    check_version,
    load_incident,
    record_id,
    require,
    resolve_references,
    scope_of,
)
from itsm_tui.services.incident_inputs import (
    MYSELF,
    UNASSIGNED,
    EscalationInput,
    IncidentChanges,
    IncidentCreate,
    IncidentQuery,
    NoteInput,
)
from itsm_tui.services.incident_views import (
    audit_records,
    audited_fields,
    incident_record,
    incident_records,
    journal_records,
)
from itsm_tui.services.notifications import notify_mentions
from itsm_tui.services.numbers import next_number
from itsm_tui.services.records import (
    IncidentDetail,
    IncidentRecord,
    JournalRecord,
)
from itsm_tui.services.slas import clock_records, sync_clocks
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import validate
from itsm_tui.store.models import (
    Group,
    Incident,
    Service,
    User,
)

INCIDENT_PREFIX = "INC"

# ---------------------------------------------------------------------------- reads


def get_incident(session: Session, number: str) -> IncidentRecord:
    return incident_record(session, load_incident(session, number))


def incident_detail(session: Session, number: str, now: datetime | None = None) -> IncidentDetail:
    """Everything about one incident; with `now`, its SLA clocks as they stand at that time."""
    incident = load_incident(session, number)
    return IncidentDetail(
        incident=incident_record(session, incident),
        journal=journal_records(session, incident),
        audit=audit_records(session, incident),
        sla=clock_records(session, incident, now) if now is not None else [],
    )


def list_incidents(session: Session, actor: User, query: IncidentQuery) -> list[IncidentRecord]:
    statement = select(Incident)
    if query.states:
        statement = statement.where(col(Incident.state).in_([s.value for s in query.states]))
    if query.priorities:
        statement = statement.where(col(Incident.priority).in_([int(p) for p in query.priorities]))
    if query.group:
        statement = statement.where(Incident.group_id == group_by_name(session, query.group).id)
    if query.assignee == UNASSIGNED:
        statement = statement.where(col(Incident.assignee_id).is_(None))
    elif query.assignee == MYSELF:
        statement = statement.where(Incident.assignee_id == actor.id)
    elif query.assignee:
        statement = statement.where(
            Incident.assignee_id == user_by_username(session, query.assignee).id
        )
    if query.search:
        pattern = f"%{escape_like(query.search.lower())}%"
        statement = statement.where(
            or_(
                func.lower(col(Incident.number)).like(pattern, escape="\\"),
                func.lower(col(Incident.title)).like(pattern, escape="\\"),
                func.lower(col(Incident.description)).like(pattern, escape="\\"),
            )
        )
    statement = statement.order_by(col(Incident.opened_at).desc(), col(Incident.id).desc())
    incidents = session.exec(statement.limit(query.limit)).all()
    return incident_records(session, incidents)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------- writes


def create_incident(
    session: Session, actor: User, clock: Clock, data: IncidentCreate
) -> IncidentRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require(actor, IncidentAction.CREATE, None, "log incidents")
        refs = resolve_references(
            session,
            actor,
            service=data.service,
            ci=data.ci,
            group=data.group,
            assignee=data.assignee,
        )
        service, ci = refs.service, refs.ci
        if ci is not None and service is None:
            service = session.get(Service, ci.service_id)
        check_ci_belongs(ci, service)
        group, assignee = refs.group, refs.assignee
        check_assignee_fits(session, assignee, group)
        incident = Incident(
            number=next_number(session, INCIDENT_PREFIX),
            title=data.title,
            description=data.description,
            caller=data.caller,
            service_id=service.id if service else None,
            ci_id=ci.id if ci else None,
            category=data.category,
            impact=int(data.impact),
            urgency=int(data.urgency),
            priority=int(priority_for(data.impact, data.urgency)),
            state=IncidentState.NEW.value,
            assignee_id=assignee.id if assignee else None,
            group_id=group.id if group else None,
            major=False,
            opened_by_id=actor.id,
            opened_at=now,
            updated_at=now,
        )
        session.add(incident)
        session.flush()
        assert incident.id is not None
        record_write(
            session,
            record_type=RecordType.INCIDENT,
            record_id=incident.id,
            number=incident.number,
            action="create",
            actor=actor,
            at=now,
            changes={
                name: (None, value) for name, value in audited_fields(session, incident).items()
            },
        )
        sync_clocks(session, incident, now)
    return incident_record(session, incident)


def update_incident(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    changes: IncidentChanges,
    *,
    expect_version: int | None = None,
    action: str = "update",
) -> IncidentRecord:
    """Apply any mix of field, assignment, state and major-flag changes atomically."""
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        incident = load_incident(session, number, for_update=True)
        apply_changes(session, actor, incident, changes, now, action, expect_version=expect_version)
    return incident_record(session, incident)


def assign(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    *,
    assignee: str | None = None,
    group: str | None = None,
    expect_version: int | None = None,
) -> IncidentRecord:
    """Assign to a user and/or group; `assignee="none"` unassigns."""
    if assignee is None and group is None:
        raise ValidationFailed("give an assignee, a group, or both")
    changes = changes_of(assignee=assignee, group=group)
    return update_incident(
        session, actor, clock, number, changes, expect_version=expect_version, action="assign"
    )


def assign_to_me(
    session: Session, actor: User, clock: Clock, number: str, *, expect_version: int | None = None
) -> IncidentRecord:
    return assign(
        session, actor, clock, number, assignee=actor.username, expect_version=expect_version
    )


def transition(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    state: IncidentState | str,
    *,
    hold_reason: HoldReason | str | None = None,
    resolution_code: ResolutionCode | str | None = None,
    resolution_notes: str | None = None,
    reason: str | None = None,
    expect_version: int | None = None,
) -> IncidentRecord:
    changes = changes_of(
        state=state,
        hold_reason=hold_reason,
        resolution_code=resolution_code,
        resolution_notes=resolution_notes,
        reason=reason,
    )
    return update_incident(
        session, actor, clock, number, changes, expect_version=expect_version, action="transition"
    )


def reopen(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    *,
    reason: str,
    expect_version: int | None = None,
) -> IncidentRecord:
    changes = changes_of(state=IncidentState.IN_PROGRESS, reason=reason)
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        incident = load_incident(session, number, for_update=True)
        scope = scope_of(session, actor, incident)
        require(actor, IncidentAction.TRANSITION, scope, "reopen")
        check_version(incident, expect_version)
        if incident.state != IncidentState.RESOLVED.value:
            raise InvalidTransition(
                f"only resolved incidents can be reopened; {incident.number} is {incident.state}"
            )
        apply_changes(session, actor, incident, changes, now, "reopen")
    return incident_record(session, incident)


def set_major(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    major: bool,
    *,
    reason: str | None = None,
    expect_version: int | None = None,
) -> IncidentRecord:
    changes = changes_of(major=major, reason=reason)
    return update_incident(
        session, actor, clock, number, changes, expect_version=expect_version, action="major"
    )


def add_note(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    text: str,
    *,
    comment: bool = False,
) -> JournalRecord:
    """A work note (internal) or, with `comment=True`, a comment the caller sees."""
    data = validate(NoteInput, text=text, comment=comment)
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        incident = load_incident(session, number, for_update=True)
        require(actor, IncidentAction.NOTE, scope_of(session, actor, incident), "add notes")
        if not IncidentState(incident.state).is_open and incident.state != "resolved":
            raise ValidationFailed(
                f"{incident.number} is {incident.state}; closed records take no more notes"
            )
        kind = JournalKind.COMMENT if data.comment else JournalKind.WORK_NOTE
        entry = journal(
            session,
            record_type=RecordType.INCIDENT,
            record_id=record_id(incident),
            author=actor,
            kind=kind,
            body=data.text,
            at=now,
        )
        notify_mentions(session, actor, incident, data.text, now)
        audit_changes: dict[str, tuple[object, object]] = {}
        if data.comment and incident.responded_at is None and actor.role != Role.VIEWER:
            # A first customer-visible reply from the desk counts as the response.
            audit_changes["responded_at"] = (None, now)
            incident.responded_at = now
            incident.updated_at = now
            session.add(incident)
        # Otherwise the incident row is left alone: a note is not an edit, and bumping the
        # version would make a colleague's concurrent reassignment fail as a conflict.
        record_write(
            session,
            record_type=RecordType.INCIDENT,
            record_id=record_id(incident),
            number=incident.number,
            action="comment" if data.comment else "work_note",
            actor=actor,
            at=now,
            changes=audit_changes,
        )
        if audit_changes:  # the first customer comment is the response
            sync_clocks(session, incident, now)
    return JournalRecord(
        kind=entry.kind, author=actor.username, body=entry.body, created_at=entry.created_at
    )


def escalate(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    *,
    reason: str,
    to_group: str | None = None,
    expect_version: int | None = None,
) -> IncidentRecord:
    """Functional escalation: hand the incident to another group, with the reason journaled.

    Without `to_group` it goes to the current group's escalation group. The assignee is
    cleared so the receiving group triages it.
    """
    data = validate(EscalationInput, reason=reason, to_group=to_group)
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        incident = load_incident(session, number, for_update=True)
        require(actor, IncidentAction.ESCALATE, scope_of(session, actor, incident), "escalate")
        check_version(incident, expect_version)
        if not IncidentState(incident.state).is_open:
            raise InvalidTransition(
                f"{incident.number} is {incident.state}; only open incidents escalate"
            )
        current = session.get(Group, incident.group_id) if incident.group_id else None
        if data.to_group:
            target = group_by_name(session, data.to_group)
        elif current is not None and current.escalation_group_id is not None:
            target = session.get(Group, current.escalation_group_id)
            assert target is not None
        else:
            where = f"group '{current.name}' has" if current else "the incident has no group and"
            raise ValidationFailed(f"{where} no escalation group; name one with --to-group GROUP")
        if current is not None and target.id == current.id:
            raise ValidationFailed(f"{incident.number} is already with {target.name}")
        changes = changes_of(group=target.name, assignee=UNASSIGNED)
        apply_changes(session, actor, incident, changes, now, "escalate", scope_checked=True)
        journal(
            session,
            record_type=RecordType.INCIDENT,
            record_id=record_id(incident),
            author=actor,
            kind=JournalKind.SYSTEM,
            body=(
                f"Escalated from {current.name if current else '(no group)'} to {target.name}: "
                f"{data.reason}"
            ),
            at=now,
        )
    return incident_record(session, incident)
