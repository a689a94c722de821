"""The write engine behind every incident use case: resolve references, check permission,
version and workflow, apply the change, and leave one audit row per changed field, one feed
event and any journal entry, or raise before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, select

from itsm_tui.domain.enums import (
    IncidentState,
    JournalKind,
    RecordType,
    Role,
)
from itsm_tui.domain.permissions import IncidentAction, IncidentScope, may_act_on_incident
from itsm_tui.domain.priority import priority_for
from itsm_tui.domain.workflow import (
    TransitionRefused,
    TransitionRequest,
    check_incident_transition,
    is_reopen,
)
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
from itsm_tui.services.incident_inputs import (
    MYSELF,
    UNASSIGNED,
    IncidentChanges,
)
from itsm_tui.services.incident_views import audited_fields
from itsm_tui.services.slas import sync_clocks
from itsm_tui.services.validation import validate
from itsm_tui.store.models import (
    Change,
    ConfigItem,
    Group,
    Incident,
    Service,
    User,
)

# Fields whose change can move an SLA clock (policy choice, pauses, stops).
SLA_FIELDS = frozenset({"state", "hold_reason", "responded_at", "priority", "service"})


@dataclass
class References:
    service: Service | None = None
    ci: ConfigItem | None = None
    group: Group | None = None
    assignee: User | None = None


def resolve_references(
    session: Session,
    actor: User,
    *,
    service: str | None = None,
    ci: str | None = None,
    group: str | None = None,
    assignee: str | None = None,
) -> References:
    refs = References()
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


def check_ci_belongs(ci: ConfigItem | None, service: Service | None) -> None:
    if ci is not None and service is not None and ci.service_id != service.id:
        raise ValidationFailed(f"CI '{ci.name}' does not belong to service '{service.name}'")


def check_assignee_fits(session: Session, assignee: User | None, group: Group | None) -> None:
    if assignee is None or group is None:
        return
    assert assignee.id is not None and group.id is not None
    if not is_member(session, assignee.id, group.id):
        raise ValidationFailed(
            f"'{assignee.username}' is not a member of group '{group.name}'; pick a member "
            "or change the group too"
        )


def apply_changes(
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
    per changed field and one feed event. Raises before writing anything on refusal.

    `now` never goes back before the incident's last change: a writer that read the clock
    and then waited for the lock behind another (no expect_version) is written just after
    it, so the history, its SLA clocks and their replay keep commit order."""
    now = max(now, incident.updated_at)
    # One UPDATE per write: lookups below must not flush half-applied changes (each flush
    # would bump the version).
    with session.no_autoflush:
        before = audited_fields(session, incident)
        scope = scope_of(session, actor, incident)
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
                "caused_by",
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
                require(actor, IncidentAction.UPDATE, scope, "update")
            if assignment:
                require(actor, IncidentAction.ASSIGN, scope, "assign")
            if target_state is not None:
                require(actor, IncidentAction.TRANSITION, scope, "change the state of")
            if changes.major is not None and changes.major != incident.major:
                require(actor, IncidentAction.DECLARE_MAJOR, scope, "change the major flag of")
        # Permission first: a caller who may not act learns that, not that they were late.
        check_version(incident, expect_version)

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

        refs = resolve_references(
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
        check_ci_belongs(
            refs.ci, session.get(Service, incident.service_id) if incident.service_id else None
        )

        if changes.caused_by is not None:
            incident.caused_by_change_id = _causing_change_id(session, changes.caused_by)

        # Assignment
        if refs.group is not None:
            incident.group_id = refs.group.id
            if (
                changes.assignee is None
                and incident.assignee_id is not None
                and not is_member(session, incident.assignee_id, record_id(refs.group))
            ):
                incident.assignee_id = None  # the old assignee is not in the new group
        if changes.assignee == UNASSIGNED:
            incident.assignee_id = None
        elif refs.assignee is not None:
            group = session.get(Group, incident.group_id) if incident.group_id else None
            check_assignee_fits(session, refs.assignee, group)
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

        after = audited_fields(session, incident)
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
        record_id=record_id(incident),
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
            record_id=record_id(incident),
            author=actor,
            kind=JournalKind.SYSTEM,
            body=f"{_describe(diff)}: {changes.reason}",
            at=now,
        )
    if diff.keys() & SLA_FIELDS:
        sync_clocks(session, incident, now)


def _causing_change_id(session: Session, number: str) -> int | None:
    """The change an incident blames, by number; "none" clears the link."""
    if number.strip().lower() == UNASSIGNED:
        return None
    change_id = session.exec(
        select(Change.id).where(Change.number == number.strip().upper())
    ).first()
    if change_id is None:
        raise ValidationFailed(f"no change {number} to link as the cause")
    return change_id


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


def changes_of(**values: object) -> IncidentChanges:
    return validate(IncidentChanges, **{k: v for k, v in values.items() if v is not None})


def record_id(record: Incident | Group) -> int:
    assert record.id is not None
    return record.id


# Built once (every incident write loads its record): only the number varies.
_INCIDENT = (
    select(Incident)
    .where(Incident.number == bindparam("number"))
    .execution_options(populate_existing=True)
)
_INCIDENT_FOR_UPDATE = _INCIDENT.with_for_update()


def load_incident(session: Session, number: str, *, for_update: bool = False) -> Incident:
    """The incident as it is now.

    populate_existing: a copy this session still holds from earlier may be stale; every use
    case must see (and version-check against) the current row. `for_update` locks the row on
    PostgreSQL for the rest of the write, so checks made on it (state, scope) still hold when
    the write lands and concurrent writers queue instead of failing as conflicts; SQLite
    already serialises writers at BEGIN IMMEDIATE and ignores it.
    """
    number = number.strip().upper()
    statement = _INCIDENT_FOR_UPDATE if for_update else _INCIDENT
    incident = session.exec(statement, params={"number": number}).first()
    if incident is None:
        raise NotFound(f"no incident {number}; list incidents with: itsm incident list")
    return incident


def check_version(incident: Incident, expected: int | None) -> None:
    if expected is not None and incident.version != expected:
        raise Conflict(
            f"{incident.number} is at version {incident.version}, not {expected}: someone "
            "changed it since you read it; reload (itsm incident show) and try again"
        )


def scope_of(session: Session, actor: User, incident: Incident) -> IncidentScope:
    groups = group_ids_of(session, actor.id) if actor.id is not None else set()
    return IncidentScope(
        in_actor_groups=incident.group_id in groups,
        assigned_to_actor=incident.assignee_id == actor.id,
        unassigned_group=incident.group_id is None,
    )


def require(actor: User, action: IncidentAction, scope: IncidentScope | None, verb: str) -> None:
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
