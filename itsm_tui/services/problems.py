"""Problem use cases: record a problem, work it through root cause to a fix, link the incidents
it explains, and resolve them with it. Each public function is one transaction, except the
bulk resolution of linked incidents, which (like every bulk action) is one per incident.

The rules are the domain's (`problem_workflow`, `priority`); this module loads what they
need, applies them, writes, audits and publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import (
    ChangeOutcome,
    ChangeState,
    Impact,
    IncidentState,
    JournalKind,
    ProblemState,
    RecordType,
    ResolutionCode,
    Role,
    Urgency,
)
from itsm_tui.domain.priority import priority_for
from itsm_tui.domain.problem_workflow import (
    FixChange,
    ProblemFacts,
    check_problem_transition,
    fix_succeeded,
    is_known_error,
)
from itsm_tui.domain.workflow import TransitionRefused
from itsm_tui.services import bulk
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.changes import ChangeCreate, ChangeRecord, create_change
from itsm_tui.services.directory import (
    assignee_by_username,
    ci_by_name,
    group_by_name,
    service_by_name,
)
from itsm_tui.services.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from itsm_tui.services.history import audit_of, journal, journal_of, record_write
from itsm_tui.services.numbers import next_number
from itsm_tui.services.records import AuditRecord, JournalRecord
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import Input, LongText, Name, Title, validate
from itsm_tui.store.models import (
    Change,
    ConfigItem,
    Group,
    Incident,
    Problem,
    ProblemConfigItem,
    Service,
    User,
)

PROBLEM_PREFIX = "PRB"
NONE = "none"  # --assignee none / --fix-change none: clear the reference
OPEN_INCIDENT_STATES = (
    IncidentState.NEW.value,
    IncidentState.IN_PROGRESS.value,
    IncidentState.ON_HOLD.value,
)


class ProblemCreate(Input):
    title: Title
    description: LongText = ""
    service: Name | None = None
    cis: tuple[Name, ...] = ()
    impact: Impact = Impact.LOW
    urgency: Urgency = Urgency.LOW
    assignee: Name | None = None
    group: Name | None = None
    root_cause: LongText = ""
    workaround: LongText = ""
    incidents: tuple[Name, ...] = ()  # linked in the same transaction


class ProblemUpdate(Input):
    """Edits; None leaves a field as it is. `assignee`/`group`/`service`/`fix_change` "none"
    clears them."""

    title: Title | None = None
    description: LongText | None = None
    service: Name | None = None
    cis: tuple[Name, ...] | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None
    assignee: Name | None = None
    group: Name | None = None
    root_cause: LongText | None = None
    workaround: LongText | None = None
    fix_change: Name | None = None
    resolution_notes: LongText | None = None


class ProblemMove(Input):
    """A state change, with what its guard may need written in the same transaction: the
    root cause (for fix_in_progress) and the fix change (for resolved; "none" clears)."""

    state: ProblemState
    reason: LongText = ""  # stepping back, cancelling, or resolving without a good fix change
    resolution_notes: LongText | None = None
    root_cause: LongText | None = None
    fix_change: Name | None = None


@dataclass(frozen=True)
class LinkedIncident:
    number: str
    title: str
    priority: int
    state: str
    opened_at: datetime
    resolved_at: datetime | None
    sla_breached: bool


@dataclass(frozen=True)
class ProblemRecord:
    number: str
    title: str
    description: str
    state: str
    impact: int
    urgency: int
    priority: int
    service: str | None
    cis: list[str]
    assignee: str | None
    group: str | None
    root_cause: str
    workaround: str
    known_error: bool
    fix_change: str | None
    fix_change_state: str | None
    fix_change_outcome: str | None
    resolution_notes: str | None
    resolution_reason: str | None
    opened_by: str | None
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    version: int
    incidents: list[LinkedIncident] = field(default_factory=list)

    @property
    def incident_count(self) -> int:
        return len(self.incidents)

    @property
    def open_incident_count(self) -> int:
        return sum(1 for i in self.incidents if i.state in OPEN_INCIDENT_STATES)

    @property
    def breached_incident_count(self) -> int:
        """The SLA impact: how many of its incidents breached a target."""
        return sum(1 for i in self.incidents if i.sla_breached)


@dataclass(frozen=True)
class ProblemHistory:
    journal: list[JournalRecord]
    audit: list[AuditRecord]


# ---------------------------------------------------------------------------- reads


def get_problem(session: Session, number: str) -> ProblemRecord:
    return _record(session, _load(session, number))


def list_problems(
    session: Session,
    *,
    states: tuple[ProblemState, ...] = (),
    service: str | None = None,
    known_error: bool | None = None,
    text: str | None = None,
) -> list[ProblemRecord]:
    """Problems by priority then age; `text` matches number, title, description, root cause
    and workaround (case-insensitive)."""
    statement = select(Problem)
    if states:
        statement = statement.where(col(Problem.state).in_([s.value for s in states]))
    if service:
        statement = statement.where(Problem.service_id == service_by_name(session, service).id)
    if known_error is not None:
        statement = statement.where(Problem.known_error == known_error)
    if text and text.strip():
        pattern = f"%{text.strip().lower()}%"
        statement = statement.where(
            or_(
                *(
                    func.lower(column).like(pattern)
                    for column in (
                        col(Problem.number),
                        col(Problem.title),
                        col(Problem.description),
                        col(Problem.root_cause),
                        col(Problem.workaround),
                    )
                )
            )
        )
    rows = session.exec(
        statement.order_by(col(Problem.priority), col(Problem.opened_at), col(Problem.id))
    ).all()
    return [_record(session, row) for row in rows]


def problem_history(session: Session, number: str) -> ProblemHistory:
    """Journal (oldest first) and audit rows (in write order) of problem `number`."""
    problem_id = _id(_load(session, number))
    return ProblemHistory(
        journal=journal_of(session, RecordType.PROBLEM, problem_id),
        audit=audit_of(session, RecordType.PROBLEM, problem_id),
    )


# ---------------------------------------------------------------------------- writes


def create_problem(
    session: Session, actor: User, clock: Clock, data: ProblemCreate
) -> ProblemRecord:
    now = clock.now()
    with transaction(session):
        actor = _writer(session, actor)
        service = service_by_name(session, data.service) if data.service else None
        cis = [ci_by_name(session, name) for name in dict.fromkeys(data.cis)]
        if service is None and cis:
            service = session.get(Service, cis[0].service_id)
        problem = Problem(
            number=next_number(session, PROBLEM_PREFIX),
            title=data.title,
            description=data.description,
            state=ProblemState.NEW.value,
            impact=int(data.impact),
            urgency=int(data.urgency),
            priority=int(priority_for(int(data.impact), int(data.urgency))),
            service_id=service.id if service else None,
            assignee_id=_user_id(session, data.assignee),
            group_id=group_by_name(session, data.group).id if data.group else None,
            root_cause=data.root_cause,
            workaround=data.workaround,
            known_error=is_known_error(data.root_cause, data.workaround),
            opened_by_id=actor.id,
            opened_at=now,
            updated_at=now,
        )
        session.add(problem)
        session.flush()
        assert problem.id is not None
        for ci in cis:
            session.add(ProblemConfigItem(problem_id=problem.id, ci_id=ci.id))
        session.flush()
        record = _record(session, problem)
        _audit(session, problem, actor, now, "create", _diff({}, record))
        if data.incidents:
            _link(session, actor, problem, data.incidents, now, apply_workaround=True)
            record = _record(session, problem)
    return record


def update_problem(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    data: ProblemUpdate,
    *,
    expect_version: int | None = None,
) -> ProblemRecord:
    """Edit a problem, refusing stale writes; it becomes a known error (or stops being one)
    as its root cause and workaround are written or cleared."""
    given = {name for name in data.model_fields_set if getattr(data, name) is not None}
    if not given:
        raise ValidationFailed(f"nothing to change on {number}; give at least one field")
    now = clock.now()
    with transaction(session):
        actor = _writer(session, actor)
        problem = _load(session, number, for_update=True)
        _check_version(problem, expect_version)
        if ProblemState(problem.state) in (ProblemState.CLOSED, ProblemState.CANCELLED):
            raise InvalidTransition(f"{problem.number} is {problem.state}; it can no longer change")
        before = _record(session, problem)
        with session.no_autoflush:
            _apply(session, problem, data, given)
        problem.known_error = is_known_error(problem.root_cause, problem.workaround)
        problem.updated_at = now
        session.add(problem)
        session.flush()
        after = _record(session, problem)
        changes = _diff(before, after)
        if not changes:
            raise ValidationFailed(f"nothing to change on {problem.number}; it is already so")
        _audit(session, problem, actor, now, "update", changes)
    return after


def move_problem(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    move: ProblemMove,
    *,
    expect_version: int | None = None,
) -> ProblemRecord:
    """Move a problem to `move.state` if the lifecycle and its guards allow it."""
    now = clock.now()
    with transaction(session):
        actor = _writer(session, actor)
        problem = _load(session, number, for_update=True)
        _check_version(problem, expect_version)
        before = _record(session, problem)
        current, target = ProblemState(problem.state), move.state
        if move.root_cause is not None:
            problem.root_cause = move.root_cause
        if move.fix_change is not None:
            problem.fix_change_id = _change_id(session, move.fix_change)
        problem.known_error = is_known_error(problem.root_cause, problem.workaround)
        notes = (
            move.resolution_notes
            if move.resolution_notes is not None
            else problem.resolution_notes or ""
        )
        facts = ProblemFacts(
            root_cause=problem.root_cause,
            fix_change=_fix(session, problem),
            reason=move.reason,
            resolution_notes=notes,
        )
        try:
            check_problem_transition(current, target, facts)
        except TransitionRefused as refused:
            raise InvalidTransition(f"{problem.number}: {refused}") from None
        problem.state = target.value
        if move.resolution_notes is not None:
            problem.resolution_notes = move.resolution_notes
        if target is ProblemState.RESOLVED:
            problem.resolved_at = now
            fixed = fix_succeeded(facts.fix_change)
            problem.resolution_reason = None if fixed else move.reason.strip() or None
        elif target is ProblemState.CLOSED or target is ProblemState.CANCELLED:
            problem.closed_at = now
        elif current is ProblemState.RESOLVED:
            problem.resolved_at, problem.resolution_reason = None, None  # reopened
        problem.updated_at = now
        session.add(problem)
        session.flush()
        if move.reason.strip():
            _journal(
                session, problem, actor, now, f"{current.value} -> {target.value}: {move.reason}"
            )
        after = _record(session, problem)
        _audit(session, problem, actor, now, "transition", _diff(before, after))
    return after


def link_incidents(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    incident_numbers: Sequence[str],
    *,
    apply_workaround: bool = True,
) -> ProblemRecord:
    """Link incidents to the problem in one transaction (moving any from another problem).
    A known error's workaround lands on each newly linked open incident as a work note."""
    if not incident_numbers:
        raise ValidationFailed("give at least one incident to link")
    now = clock.now()
    with transaction(session):
        actor = _writer(session, actor)
        problem = _load(session, number, for_update=True)
        if ProblemState(problem.state) in (ProblemState.CLOSED, ProblemState.CANCELLED):
            raise InvalidTransition(f"{problem.number} is {problem.state}; link to an open one")
        _link(session, actor, problem, incident_numbers, now, apply_workaround=apply_workaround)
        record = _record(session, problem)
    return record


def unlink_incidents(
    session: Session, actor: User, clock: Clock, number: str, incident_numbers: Sequence[str]
) -> ProblemRecord:
    if not incident_numbers:
        raise ValidationFailed("give at least one incident to unlink")
    now = clock.now()
    with transaction(session):
        actor = _writer(session, actor)
        problem = _load(session, number, for_update=True)
        for incident in _incidents(session, incident_numbers):
            if incident.problem_id != problem.id:
                raise ValidationFailed(f"{incident.number} is not linked to {problem.number}")
            _set_problem(session, actor, incident, None, problem.number, now)
        record = _record(session, problem)
    return record


def resolve_linked_incidents(
    session: Session, actor: User, clock: Clock, number: str
) -> bulk.BulkResult:
    """Resolve every open incident linked to a resolved (or closed) problem, with the
    problem's resolution as their notes. One transaction per incident, as bulk actions are:
    one incident someone else holds does not stop the rest, and the result says which."""
    with transaction(session):
        _writer(session, actor)  # a viewer is refused outright, not once per incident
    problem = get_problem(session, number)
    if problem.state not in (ProblemState.RESOLVED.value, ProblemState.CLOSED.value):
        raise InvalidTransition(
            f"{problem.number} is {problem.state}; resolve the problem before its incidents"
        )
    open_numbers = [i.number for i in problem.incidents if i.state in OPEN_INCIDENT_STATES]
    if not open_numbers:
        raise ValidationFailed(f"{problem.number} has no open incidents to resolve")
    code = (
        ResolutionCode.SOLVED_PERMANENTLY
        if problem.resolution_reason is None
        else ResolutionCode.SOLVED_WORKAROUND
    )
    notes = f"Resolved with {problem.number}: {problem.resolution_notes or problem.title}"
    action = bulk.BulkState(
        state=IncidentState.RESOLVED.value, resolution_code=code.value, resolution_notes=notes
    )
    return bulk.apply(session, actor, clock, open_numbers, action)


def change_from_problem(
    session: Session, actor: User, clock: Clock, number: str, **overrides: Any
) -> ChangeRecord:
    """A normal change pre-filled from the problem (title, description with the root cause,
    service, CIs, group, assignee), set as its fix change. Two steps, each atomic: the change
    is requested, then linked; a failed link leaves a plain change request, never a half row."""
    problem = get_problem(session, number)
    if ProblemState(problem.state) in (ProblemState.CLOSED, ProblemState.CANCELLED):
        raise InvalidTransition(f"{problem.number} is {problem.state}; it needs no fix now")
    values: dict[str, Any] = {
        "title": f"Fix {problem.number}: {problem.title}"[:200],
        "description": f"Permanent fix for {problem.number}.\n\nRoot cause:\n"
        f"{problem.root_cause or '(not yet known)'}",
        "justification": f"{problem.incident_count} incident(s) linked to {problem.number}",
        "service": problem.service,
        "cis": tuple(problem.cis),
        "group": problem.group,
        "assignee": problem.assignee,
    }
    data = validate(ChangeCreate, **{k: v for k, v in (values | overrides).items() if v})
    change = create_change(session, actor, clock, data)
    update_problem(session, actor, clock, number, ProblemUpdate(fix_change=change.number))
    return change


# ---------------------------------------------------------------------------- helpers


def _writer(session: Session, actor: User) -> User:
    actor = reload_actor(session, actor)
    if Role(actor.role) is Role.VIEWER:
        raise PermissionDenied("viewers have read-only access")
    return actor


def _load(session: Session, number: str, *, for_update: bool = False) -> Problem:
    statement = select(Problem).where(Problem.number == number.strip().upper())
    if for_update and session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    problem = session.exec(statement).first()
    if problem is None:
        raise NotFound(f"no problem {number}")
    return problem


def _check_version(problem: Problem, expected: int | None) -> None:
    if expected is not None and problem.version != expected:
        raise Conflict(
            f"{problem.number} was changed by someone else (now version {problem.version}); reload"
        )


def _user_id(session: Session, name: str | None) -> int | None:
    if not name or name.strip().lower() == NONE:
        return None
    return assignee_by_username(session, name).id


def _apply(session: Session, problem: Problem, data: ProblemUpdate, given: set[str]) -> None:
    for name in ("title", "description", "root_cause", "workaround", "resolution_notes"):
        if name in given:
            setattr(problem, name, getattr(data, name))
    if "impact" in given:
        problem.impact = int(data.impact)  # type: ignore[arg-type]
    if "urgency" in given:
        problem.urgency = int(data.urgency)  # type: ignore[arg-type]
    problem.priority = int(priority_for(problem.impact, problem.urgency))
    if "assignee" in given:
        problem.assignee_id = _user_id(session, data.assignee)
    if "group" in given:
        group = data.group or NONE
        problem.group_id = None if group.lower() == NONE else group_by_name(session, group).id
    if "service" in given:
        service = data.service or NONE
        problem.service_id = (
            None if service.lower() == NONE else service_by_name(session, service).id
        )
    if "fix_change" in given:
        problem.fix_change_id = _change_id(session, data.fix_change or NONE)
    if "cis" in given:
        assert problem.id is not None and data.cis is not None
        cis = [ci_by_name(session, name) for name in dict.fromkeys(data.cis)]
        for row in session.exec(
            select(ProblemConfigItem).where(ProblemConfigItem.problem_id == problem.id)
        ).all():
            session.delete(row)
        for ci in cis:
            session.add(ProblemConfigItem(problem_id=problem.id, ci_id=ci.id))
        if problem.service_id is None and cis:
            problem.service_id = cis[0].service_id


def _change_id(session: Session, number: str) -> int | None:
    if number.strip().lower() == NONE:
        return None
    wanted = number.strip().upper()
    change_id = session.exec(select(Change.id).where(Change.number == wanted)).first()
    if change_id is None:
        raise ValidationFailed(f"no change {number} to link as the fix")
    return change_id


def _fix(session: Session, problem: Problem) -> FixChange | None:
    change = session.get(Change, problem.fix_change_id) if problem.fix_change_id else None
    if change is None:
        return None
    outcome = ChangeOutcome(change.outcome) if change.outcome else None
    return FixChange(change.number, ChangeState(change.state), outcome)


def _incidents(session: Session, numbers: Sequence[str]) -> list[Incident]:
    wanted = list(dict.fromkeys(n.strip().upper() for n in numbers))
    rows = {
        i.number: i
        for i in session.exec(select(Incident).where(col(Incident.number).in_(wanted))).all()
    }
    missing = [n for n in wanted if n not in rows]
    if missing:
        raise NotFound(f"no incident {', '.join(missing)}")
    return [rows[n] for n in wanted]


def _link(
    session: Session,
    actor: User,
    problem: Problem,
    numbers: Sequence[str],
    now: datetime,
    *,
    apply_workaround: bool,
) -> None:
    for incident in _incidents(session, numbers):
        if incident.problem_id == problem.id:
            continue
        _set_problem(session, actor, incident, problem, None, now)
        if (
            apply_workaround
            and problem.known_error
            and incident.state in OPEN_INCIDENT_STATES
            and problem.workaround.strip()
        ):
            journal(
                session,
                record_type=RecordType.INCIDENT,
                record_id=_id(incident),
                author=actor,
                kind=JournalKind.WORK_NOTE,
                body=f"Known error {problem.number} workaround: {problem.workaround}",
                at=now,
            )


def _set_problem(
    session: Session,
    actor: User,
    incident: Incident,
    problem: Problem | None,
    old_number: str | None,
    now: datetime,
) -> None:
    """Point an incident at a problem (or none). The incident's version is not bumped: a link
    is not an edit, and a colleague's concurrent reassignment must not fail as stale."""
    previous = old_number
    if previous is None and incident.problem_id is not None:
        old = session.get(Problem, incident.problem_id)
        previous = old.number if old else None
    new_id = problem.id if problem is not None else None
    session.execute(
        Incident.__table__.update()  # type: ignore[attr-defined]
        .where(Incident.__table__.c.id == incident.id)  # type: ignore[attr-defined]
        .values(problem_id=new_id)
    )
    session.expire(incident, ["problem_id"])
    new_number = problem.number if problem is not None else None
    record_write(
        session,
        record_type=RecordType.INCIDENT,
        record_id=_id(incident),
        number=incident.number,
        action="link_problem" if problem is not None else "unlink_problem",
        actor=actor,
        at=now,
        changes={"problem": (previous, new_number)},
    )


def _id(row: Incident | Problem) -> int:
    assert row.id is not None
    return row.id


def _username(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.username if user else None


def _record(session: Session, problem: Problem) -> ProblemRecord:
    cis = session.exec(
        select(ConfigItem.name)
        .join(ProblemConfigItem, col(ProblemConfigItem.ci_id) == col(ConfigItem.id))
        .where(ProblemConfigItem.problem_id == problem.id)
        .order_by(col(ConfigItem.name))
    ).all()
    service = session.get(Service, problem.service_id) if problem.service_id else None
    group = session.get(Group, problem.group_id) if problem.group_id else None
    fix = session.get(Change, problem.fix_change_id) if problem.fix_change_id else None
    incidents = session.exec(
        select(Incident)
        .where(Incident.problem_id == problem.id)
        .order_by(col(Incident.opened_at), col(Incident.id))
    ).all()
    return ProblemRecord(
        number=problem.number,
        title=problem.title,
        description=problem.description,
        state=problem.state,
        impact=problem.impact,
        urgency=problem.urgency,
        priority=problem.priority,
        service=service.name if service else None,
        cis=list(cis),
        assignee=_username(session, problem.assignee_id),
        group=group.name if group else None,
        root_cause=problem.root_cause,
        workaround=problem.workaround,
        known_error=problem.known_error,
        fix_change=fix.number if fix else None,
        fix_change_state=fix.state if fix else None,
        fix_change_outcome=fix.outcome if fix else None,
        resolution_notes=problem.resolution_notes,
        resolution_reason=problem.resolution_reason,
        opened_by=_username(session, problem.opened_by_id),
        opened_at=problem.opened_at,
        updated_at=problem.updated_at,
        resolved_at=problem.resolved_at,
        closed_at=problem.closed_at,
        version=problem.version,
        incidents=[
            LinkedIncident(
                i.number, i.title, i.priority, i.state, i.opened_at, i.resolved_at, i.sla_breached
            )
            for i in incidents
        ],
    )


AUDITED = (
    "title",
    "description",
    "state",
    "impact",
    "urgency",
    "priority",
    "service",
    "cis",
    "assignee",
    "group",
    "root_cause",
    "workaround",
    "known_error",
    "fix_change",
    "resolution_notes",
    "resolution_reason",
)


def _value(value: object) -> object:
    if isinstance(value, list):
        return ", ".join(value) or None
    return value if value != "" else None


def _diff(
    before: ProblemRecord | dict[str, Any], after: ProblemRecord
) -> dict[str, tuple[object, object]]:
    old = {} if isinstance(before, dict) else {n: _value(getattr(before, n)) for n in AUDITED}
    new = {name: _value(getattr(after, name)) for name in AUDITED}
    return {name: (old.get(name), value) for name, value in new.items() if old.get(name) != value}


def _audit(
    session: Session,
    problem: Problem,
    actor: User,
    now: datetime,
    action: str,
    changes: dict[str, tuple[object, object]],
) -> None:
    record_write(
        session,
        record_type=RecordType.PROBLEM,
        record_id=_id(problem),
        number=problem.number,
        action=action,
        actor=actor,
        at=now,
        changes=changes,
    )


def _journal(session: Session, problem: Problem, actor: User, now: datetime, body: str) -> None:
    journal(
        session,
        record_type=RecordType.PROBLEM,
        record_id=_id(problem),
        author=actor,
        kind=JournalKind.SYSTEM,
        body=body,
        at=now,
    )
