"""Incident use cases: log, update, assign, move through the workflow, note and escalate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import (
    HoldReason,
    Impact,
    IncidentState,
    JournalKind,
    Priority,
    RecordType,
    ResolutionCode,
    Role,
    Urgency,
)
from itsm_tui.domain.permissions import IncidentAction, IncidentScope, may_act_on_incident
from itsm_tui.domain.priority import priority_for
from itsm_tui.domain.workflow import (
    TransitionRefused,
    TransitionRequest,
    check_incident_transition,
    is_reopen,
)
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import (
    ci_by_name,
    group_by_name,
    group_ids_of,
    is_member,
    service_by_name,
    user_by_username,
)
from itsm_tui.services.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from itsm_tui.services.history import journal, record_write
from itsm_tui.services.numbers import next_number
from itsm_tui.services.records import (
    AuditRecord,
    IncidentDetail,
    IncidentRecord,
    JournalRecord,
)
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import (
    Input,
    LongText,
    Name,
    RequiredLongText,
    ShortText,
    Title,
    validate,
)
from itsm_tui.store.models import (
    AuditEntry,
    ConfigItem,
    Group,
    Incident,
    JournalEntry,
    Service,
    User,
)

INCIDENT_PREFIX = "INC"
UNASSIGNED = "none"
MYSELF = "me"
MAX_LIST_LIMIT = 1000

Category = Annotated[ShortText, Field(max_length=60)]


class IncidentCreate(Input):
    title: Title
    impact: Impact
    urgency: Urgency
    description: LongText = ""
    caller: ShortText | None = None
    service: Name | None = None
    ci: Name | None = None
    category: Category | None = None
    group: Name | None = None
    assignee: Name | None = None


class IncidentChanges(Input):
    """Everything `update` may change in one go; None means leave as is.

    `assignee="none"` clears the assignee. `reason` is journaled and is required for a reopen.
    """

    title: Title | None = None
    description: LongText | None = None
    caller: ShortText | None = None
    service: Name | None = None
    ci: Name | None = None
    category: Category | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None
    state: IncidentState | None = None
    hold_reason: HoldReason | None = None
    resolution_code: ResolutionCode | None = None
    resolution_notes: LongText | None = None
    assignee: Name | None = None
    group: Name | None = None
    major: bool | None = None
    reason: LongText | None = None


class NoteInput(Input):
    text: RequiredLongText
    comment: bool = False


class EscalationInput(Input):
    reason: RequiredLongText
    to_group: Name | None = None


class IncidentQuery(Input):
    states: tuple[IncidentState, ...] = ()
    priorities: tuple[Priority, ...] = ()
    group: Name | None = None
    assignee: Name | None = None  # a username, "me" or "none"
    search: ShortText | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT)] = 50


# ---------------------------------------------------------------------------- reads


def get_incident(session: Session, number: str) -> IncidentRecord:
    return incident_record(session, _load(session, number))


def incident_detail(session: Session, number: str) -> IncidentDetail:
    incident = _load(session, number)
    return IncidentDetail(
        incident=incident_record(session, incident),
        journal=journal_records(session, incident),
        audit=audit_records(session, incident),
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
        pattern = f"%{_escape_like(query.search.lower())}%"
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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------- writes


def create_incident(
    session: Session, actor: User, clock: Clock, data: IncidentCreate
) -> IncidentRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        _require(actor, IncidentAction.CREATE, None, "log incidents")
        refs = _resolve_references(
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
        _check_ci_belongs(ci, service)
        group, assignee = refs.group, refs.assignee
        _check_assignee_fits(session, assignee, group)
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
            changes={field: (None, value) for field, value in _snapshot(session, incident).items()},
        )
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
        incident = _load(session, number, for_update=True)
        _apply_changes(
            session, actor, incident, changes, now, action, expect_version=expect_version
        )
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
    changes = _changes(assignee=assignee, group=group)
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
    changes = _changes(
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
    changes = _changes(state=IncidentState.IN_PROGRESS, reason=reason)
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        incident = _load(session, number, for_update=True)
        scope = _scope(session, actor, incident)
        _require(actor, IncidentAction.TRANSITION, scope, "reopen")
        _check_version(incident, expect_version)
        if incident.state != IncidentState.RESOLVED.value:
            raise InvalidTransition(
                f"only resolved incidents can be reopened; {incident.number} is {incident.state}"
            )
        _apply_changes(session, actor, incident, changes, now, "reopen")
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
    changes = _changes(major=major, reason=reason)
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
        incident = _load(session, number, for_update=True)
        _require(actor, IncidentAction.NOTE, _scope(session, actor, incident), "add notes")
        if not IncidentState(incident.state).is_open and incident.state != "resolved":
            raise ValidationFailed(
                f"{incident.number} is {incident.state}; closed records take no more notes"
            )
        kind = JournalKind.COMMENT if data.comment else JournalKind.WORK_NOTE
        entry = journal(
            session,
            record_type=RecordType.INCIDENT,
            record_id=_id(incident),
            author=actor,
            kind=kind,
            body=data.text,
            at=now,
        )
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
            record_id=_id(incident),
            number=incident.number,
            action="comment" if data.comment else "work_note",
            actor=actor,
            at=now,
            changes=audit_changes,
        )
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
        incident = _load(session, number, for_update=True)
        _require(actor, IncidentAction.ESCALATE, _scope(session, actor, incident), "escalate")
        _check_version(incident, expect_version)
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
        changes = _changes(group=target.name, assignee=UNASSIGNED)
        _apply_changes(session, actor, incident, changes, now, "escalate", scope_checked=True)
        journal(
            session,
            record_type=RecordType.INCIDENT,
            record_id=_id(incident),
            author=actor,
            kind=JournalKind.SYSTEM,
            body=(
                f"Escalated from {current.name if current else '(no group)'} to {target.name}: "
                f"{data.reason}"
            ),
            at=now,
        )
    return incident_record(session, incident)


# ---------------------------------------------------------------------------- the core


@dataclass
class _References:
    service: Service | None = None
    ci: ConfigItem | None = None
    group: Group | None = None
    assignee: User | None = None


def _resolve_references(
    session: Session,
    actor: User,
    *,
    service: str | None = None,
    ci: str | None = None,
    group: str | None = None,
    assignee: str | None = None,
) -> _References:
    refs = _References()
    if service:
        refs.service = service_by_name(session, service)
    if ci:
        refs.ci = ci_by_name(session, ci)
    if group:
        refs.group = group_by_name(session, group)
    if assignee and assignee != UNASSIGNED:
        if assignee == MYSELF:
            assignee = actor.username
        refs.assignee = user_by_username(session, assignee, what="assignee")
        if not refs.assignee.active or refs.assignee.role == Role.VIEWER.value:
            raise ValidationFailed(f"'{assignee}' cannot take incidents (inactive or viewer role)")
    return refs


def _check_ci_belongs(ci: ConfigItem | None, service: Service | None) -> None:
    if ci is not None and service is not None and ci.service_id != service.id:
        raise ValidationFailed(f"CI '{ci.name}' does not belong to service '{service.name}'")


def _check_assignee_fits(session: Session, assignee: User | None, group: Group | None) -> None:
    if assignee is None or group is None:
        return
    assert assignee.id is not None and group.id is not None
    if not is_member(session, assignee.id, group.id):
        raise ValidationFailed(
            f"'{assignee.username}' is not a member of group '{group.name}'; pick a member "
            "or change the group too"
        )


def _apply_changes(
    session: Session,
    actor: User,
    incident: Incident,
    changes: IncidentChanges,
    now: datetime,
    action: str,
    *,
    scope_checked: bool = False,
    expect_version: int | None = None,
) -> None:
    """Validate `changes` against permissions and the workflow, then write them, one audit row
    per changed field and one feed event. Raises before writing anything on refusal."""
    # One UPDATE per write: lookups below must not flush half-applied changes (each flush
    # would bump the version).
    with session.no_autoflush:
        before = _snapshot(session, incident)
        scope = _scope(session, actor, incident)
        state = IncidentState(incident.state)
        target_state = changes.state
        if (
            target_state is not None
            and target_state == state
            and state is not IncidentState.ON_HOLD
        ):
            target_state = None  # setting the current state again is a no-op, not an error

        field_changes = any(
            getattr(changes, name) is not None
            for name in (
                "title",
                "description",
                "caller",
                "service",
                "ci",
                "category",
                "impact",
                "urgency",
            )
        )
        assignment = changes.assignee is not None or changes.group is not None
        # Correcting the hold reason or resolution without a state change edits the record too.
        detail_changes = target_state is None and any(
            getattr(changes, name) is not None
            for name in ("hold_reason", "resolution_code", "resolution_notes")
        )
        if not scope_checked:
            if field_changes or detail_changes:
                _require(actor, IncidentAction.UPDATE, scope, "update")
            if assignment:
                _require(actor, IncidentAction.ASSIGN, scope, "assign")
            if target_state is not None:
                _require(actor, IncidentAction.TRANSITION, scope, "change the state of")
            if changes.major is not None and changes.major != incident.major:
                _require(actor, IncidentAction.DECLARE_MAJOR, scope, "change the major flag of")
        # Permission first: a caller who may not act learns that, not that they were late.
        _check_version(incident, expect_version)

        if not state.is_open and target_state is None:
            if state is IncidentState.RESOLVED and not (field_changes or assignment):
                pass  # resolution details may still be corrected
            else:
                raise InvalidTransition(
                    f"{incident.number} is {state.value}; "
                    + (
                        "reopen it first (--state in_progress --reason TEXT)"
                        if state is IncidentState.RESOLVED
                        else "it can no longer change"
                    )
                )

        refs = _resolve_references(
            session,
            actor,
            service=changes.service,
            ci=changes.ci,
            group=changes.group,
            assignee=changes.assignee,
        )

        # Fields
        for name in ("title", "description", "caller", "category"):
            value = getattr(changes, name)
            if value is not None:
                setattr(incident, name, value or None if name in ("caller", "category") else value)
        if changes.impact is not None:
            incident.impact = int(changes.impact)
        if changes.urgency is not None:
            incident.urgency = int(changes.urgency)
        incident.priority = int(priority_for(incident.impact, incident.urgency))
        if refs.service is not None:
            incident.service_id = refs.service.id
            if incident.ci_id is not None and refs.ci is None:
                current_ci = session.get(ConfigItem, incident.ci_id)
                if current_ci is not None and current_ci.service_id != refs.service.id:
                    incident.ci_id = None  # the old CI belongs to another service
        if refs.ci is not None:
            incident.ci_id = refs.ci.id
            if refs.service is None:
                incident.service_id = refs.ci.service_id
        _check_ci_belongs(
            refs.ci, session.get(Service, incident.service_id) if incident.service_id else None
        )

        # Assignment
        if refs.group is not None:
            incident.group_id = refs.group.id
            if (
                changes.assignee is None
                and incident.assignee_id is not None
                and not is_member(session, incident.assignee_id, _id(refs.group))
            ):
                incident.assignee_id = None  # the old assignee is not in the new group
        if changes.assignee == UNASSIGNED:
            incident.assignee_id = None
        elif refs.assignee is not None:
            group = session.get(Group, incident.group_id) if incident.group_id else None
            _check_assignee_fits(session, refs.assignee, group)
            incident.assignee_id = refs.assignee.id

        # Major flag
        if changes.major is not None:
            incident.major = changes.major

        # State
        if (
            target_state is not None
            or changes.hold_reason
            or changes.resolution_code
            or (changes.resolution_notes is not None)
        ):
            _apply_state(session, actor, incident, state, target_state, changes, now)

        if (
            incident.responded_at is None
            and incident.assignee_id is not None
            and (incident.state == IncidentState.IN_PROGRESS.value)
        ):
            incident.responded_at = now

        after = _snapshot(session, incident)
        diff = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
        if not diff:
            if not changes.model_dump(exclude_none=True, exclude={"reason"}):
                raise ValidationFailed(
                    f"nothing to change on {incident.number}; give at least one field"
                )
            return  # already as asked: idempotent for scripts, and nothing is written
        incident.updated_at = now
        session.add(incident)
    session.flush()  # the version check happens here: a stale row raises Conflict
    record_write(
        session,
        record_type=RecordType.INCIDENT,
        record_id=_id(incident),
        number=incident.number,
        action=action,
        actor=actor,
        at=now,
        changes=diff,
    )
    if changes.reason and action != "escalate":
        journal(
            session,
            record_type=RecordType.INCIDENT,
            record_id=_id(incident),
            author=actor,
            kind=JournalKind.SYSTEM,
            body=f"{_describe(diff)}: {changes.reason}",
            at=now,
        )


def _apply_state(
    session: Session,
    actor: User,
    incident: Incident,
    state: IncidentState,
    target: IncidentState | None,
    changes: IncidentChanges,
    now: datetime,
) -> None:
    if target is None:
        # Editing details that belong to the current state only.
        if changes.hold_reason is not None:
            if state is not IncidentState.ON_HOLD:
                raise ValidationFailed("a hold reason only applies with --state on_hold")
            incident.hold_reason = changes.hold_reason.value
        if changes.resolution_code is not None or changes.resolution_notes is not None:
            if state is not IncidentState.RESOLVED:
                raise ValidationFailed("resolution code and notes only apply with --state resolved")
            if changes.resolution_code is not None:
                incident.resolution_code = changes.resolution_code.value
            if changes.resolution_notes is not None:
                if not changes.resolution_notes.strip():
                    raise ValidationFailed("resolution notes may not be empty")
                incident.resolution_notes = changes.resolution_notes
        return
    if (
        changes.resolution_code is not None or changes.resolution_notes is not None
    ) and target is not IncidentState.RESOLVED:
        raise ValidationFailed("resolution code and notes only apply with --state resolved")
    if target is IncidentState.ON_HOLD and state is IncidentState.ON_HOLD:
        if changes.hold_reason is None:
            raise InvalidTransition(f"{incident.number} is already on_hold")
        incident.hold_reason = changes.hold_reason.value
        return
    request = TransitionRequest(
        hold_reason=changes.hold_reason,
        resolution_code=changes.resolution_code,
        resolution_notes=changes.resolution_notes,
    )
    try:
        check_incident_transition(state, target, request)
    except TransitionRefused as refused:
        raise InvalidTransition(f"{incident.number}: {refused}") from None
    if is_reopen(state, target) and not (changes.reason or "").strip():
        raise InvalidTransition(f"reopening {incident.number} needs a reason (--reason TEXT)")
    if changes.hold_reason is not None and target is not IncidentState.ON_HOLD:
        raise ValidationFailed("a hold reason only applies with --state on_hold")

    incident.state = target.value
    incident.hold_reason = changes.hold_reason.value if target is IncidentState.ON_HOLD else None
    if target is IncidentState.RESOLVED:
        assert changes.resolution_code is not None
        incident.resolution_code = changes.resolution_code.value
        incident.resolution_notes = changes.resolution_notes
        incident.resolved_at = now
    elif target is IncidentState.CLOSED:
        incident.closed_at = now
    elif is_reopen(state, target):
        incident.resolution_code = None
        incident.resolution_notes = None
        incident.resolved_at = None


def _describe(diff: dict[str, tuple[object, object]]) -> str:
    if "state" in diff:
        old, new = diff["state"]
        return f"State {old} -> {new}"
    return "Changed " + ", ".join(sorted(diff))


# ---------------------------------------------------------------------------- helpers


def _changes(**values: object) -> IncidentChanges:
    return validate(IncidentChanges, **{k: v for k, v in values.items() if v is not None})


def _id(record: Incident | Group) -> int:
    assert record.id is not None
    return record.id


def _load(session: Session, number: str, *, for_update: bool = False) -> Incident:
    """The incident as it is now.

    populate_existing: a copy this session still holds from earlier may be stale; every use
    case must see (and version-check against) the current row. `for_update` locks the row on
    PostgreSQL for the rest of the write, so checks made on it (state, scope) still hold when
    the write lands and concurrent writers queue instead of failing as conflicts; SQLite
    already serialises writers at BEGIN IMMEDIATE and ignores it.
    """
    number = number.strip().upper()
    statement = (
        select(Incident).where(Incident.number == number).execution_options(populate_existing=True)
    )
    if for_update:
        statement = statement.with_for_update()
    incident = session.exec(statement).first()
    if incident is None:
        raise NotFound(f"no incident {number}; list incidents with: itsm incident list")
    return incident


def _check_version(incident: Incident, expected: int | None) -> None:
    if expected is not None and incident.version != expected:
        raise Conflict(
            f"{incident.number} is at version {incident.version}, not {expected}: someone "
            "changed it since you read it; reload (itsm incident show) and try again"
        )


def _scope(session: Session, actor: User, incident: Incident) -> IncidentScope:
    groups = group_ids_of(session, actor.id) if actor.id is not None else set()
    return IncidentScope(
        in_actor_groups=incident.group_id in groups,
        assigned_to_actor=incident.assignee_id == actor.id,
        unassigned_group=incident.group_id is None,
    )


def _require(actor: User, action: IncidentAction, scope: IncidentScope | None, verb: str) -> None:
    role = Role(actor.role)
    if not may_act_on_incident(role, action, scope):
        where = " incidents" if verb.endswith(" of") else ""
        if role is Role.VIEWER:
            detail = "viewers have read-only access"
        elif action is IncidentAction.DECLARE_MAJOR:
            detail = "only supervisors and admins can"
        else:
            where = " incidents outside their groups"
            detail = "agents work incidents of their own groups, assigned to them, or unassigned"
        raise PermissionDenied(f"'{actor.username}' ({role.value}) may not {verb}{where}: {detail}")


def _snapshot(session: Session, incident: Incident) -> dict[str, object]:
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
    }


@dataclass
class _Names:
    users: dict[int | None, str]
    user_display: dict[int | None, str]
    groups: dict[int | None, str]
    services: dict[int | None, str]
    cis: dict[int | None, str]
    incidents: dict[int | None, str]


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
    )


def _names_of_one(session: Session, incident: Incident) -> _Names:
    """One record: `Session.get` answers from the identity map, so writes that snapshot an
    incident before and after a change cost no extra queries for names already loaded."""

    def name(model: type[Any], key: int | None, attr: str = "name") -> dict[int | None, str]:
        row = session.get(model, key) if key is not None else None
        return {key: getattr(row, attr)} if row is not None else {}

    return _Names(
        users=name(User, incident.assignee_id, "username")
        | name(User, incident.opened_by_id, "username"),
        user_display=name(User, incident.assignee_id, "display_name"),
        groups=name(Group, incident.group_id),
        services=name(Service, incident.service_id),
        cis=name(ConfigItem, incident.ci_id),
        incidents=name(Incident, incident.parent_id, "number"),
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
        version=incident.version,
    )


def journal_records(session: Session, incident: Incident) -> list[JournalRecord]:
    rows = session.exec(
        select(JournalEntry, User.username)
        .join(User, col(User.id) == col(JournalEntry.author_id), isouter=True)
        .where(
            JournalEntry.record_type == RecordType.INCIDENT.value,
            JournalEntry.record_id == incident.id,
        )
        .order_by(col(JournalEntry.created_at), col(JournalEntry.id))
    ).all()
    return [
        JournalRecord(kind=e.kind, author=name, body=e.body, created_at=e.created_at)
        for e, name in rows
    ]


def audit_records(session: Session, incident: Incident) -> list[AuditRecord]:
    rows = session.exec(
        select(AuditEntry, User.username)
        .join(User, col(User.id) == col(AuditEntry.actor_id), isouter=True)
        .where(
            AuditEntry.record_type == RecordType.INCIDENT.value,
            AuditEntry.record_id == incident.id,
        )
        .order_by(col(AuditEntry.id))
    ).all()
    return [
        AuditRecord(
            field=a.field, old_value=a.old_value, new_value=a.new_value, actor=name, at=a.at
        )
        for a, name in rows
    ]
