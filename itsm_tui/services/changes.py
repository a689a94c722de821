"""Change use cases: request a change, move it through its lifecycle, vote on it, schedule it
around conflicts. Each public function is one transaction.

The rules are the domain's (`change_workflow`, `change_risk`, `change_approvals`,
`conflicts`); this module loads what they need, applies them, writes, audits and publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain import conflicts
from itsm_tui.domain.change_approvals import (
    ApprovalRefused,
    CabPolicy,
    Vote,
    approval_rule,
    check_may_vote,
    outcome,
)
from itsm_tui.domain.change_risk import RiskAnswers, effective_risk
from itsm_tui.domain.change_workflow import ChangeFacts, check_change_transition
from itsm_tui.domain.enums import (
    ApprovalDecision,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
    Criticality,
    Impact,
    JournalKind,
    RecordType,
    Role,
)
from itsm_tui.domain.workflow import TransitionRefused
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import (
    ci_by_name,
    group_by_name,
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
from itsm_tui.services.freeze_windows import conflict_windows
from itsm_tui.services.history import journal, record_write
from itsm_tui.services.numbers import next_number
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import AwareDateTime, Input, LongText, Name, Title, validate
from itsm_tui.store.models import (
    Change,
    ChangeApproval,
    ChangeConfigItem,
    ConfigItem,
    Group,
    Service,
    User,
)

CHANGE_PREFIX = "CHG"
DEFAULT_CAB_POLICY = CabPolicy()


class ChangeCreate(Input):
    title: Title
    change_type: ChangeType = ChangeType.NORMAL
    description: LongText = ""
    justification: LongText = ""
    service: Name | None = None
    cis: tuple[Name, ...] = ()
    impact: Impact = Impact.LOW
    outage_expected: bool = False
    tested: bool = True
    backout_possible: bool = True
    risk_override: ChangeRisk | None = None
    risk_override_reason: LongText = ""
    planned_start: AwareDateTime | None = None
    planned_end: AwareDateTime | None = None
    implementation_plan: LongText = ""
    backout_plan: LongText = ""
    test_plan: LongText = ""
    assignee: Name | None = None
    group: Name | None = None


class ChangeMove(Input):
    """What a state change may carry; the guards say which fields each target needs."""

    state: ChangeState
    outcome: ChangeOutcome | None = None
    review_notes: LongText | None = None
    reason: LongText = ""
    window_override: bool = False
    conflict_override: bool = False  # schedule over conflicts (change managers, with reason)
    approvers: tuple[Name, ...] = ()  # CAB members to ask, entering authorize


@dataclass(frozen=True)
class ApprovalRecord:
    approver: str
    role: str
    decision: str
    comment: str | None
    decided_at: datetime | None


@dataclass(frozen=True)
class ChangeRecord:
    number: str
    title: str
    change_type: str
    state: str
    risk: str
    impact: int
    service: str | None
    cis: list[str]
    planned_start: datetime | None
    planned_end: datetime | None
    assignee: str | None
    group: str | None
    requested_by: str | None
    outcome: str | None
    version: int
    approvals: list[ApprovalRecord] = field(default_factory=list)


# ---------------------------------------------------------------------------- reads


def get_change(session: Session, number: str) -> ChangeRecord:
    return _record(session, _load(session, number))


def list_changes(
    session: Session,
    *,
    states: tuple[ChangeState, ...] = (),
    window: conflicts.Window | None = None,
) -> list[ChangeRecord]:
    """Changes by planned start; with `window`, those whose planned window overlaps it."""
    statement = select(Change)
    if states:
        statement = statement.where(col(Change.state).in_([s.value for s in states]))
    if window is not None:
        statement = statement.where(
            col(Change.planned_start) < window.end, col(Change.planned_end) > window.start
        )
    rows = session.exec(statement.order_by(col(Change.planned_start), col(Change.id))).all()
    return [_record(session, row) for row in rows]


def change_conflicts(session: Session, number: str) -> list[conflicts.Conflict]:
    """What stands in the way of this change's planned window now."""
    return _conflicts(session, _load(session, number))


# ---------------------------------------------------------------------------- writes


def create_change(session: Session, actor: User, clock: Clock, data: ChangeCreate) -> ChangeRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        if Role(actor.role) is Role.VIEWER:
            raise PermissionDenied("viewers have read-only access")
        service = service_by_name(session, data.service) if data.service else None
        cis = [ci_by_name(session, name) for name in dict.fromkeys(data.cis)]
        if service is None and cis:
            service = session.get(Service, cis[0].service_id)
        group = group_by_name(session, data.group) if data.group else None
        assignee = (
            user_by_username(session, data.assignee, what="assignee") if data.assignee else None
        )
        answers = RiskAnswers(
            ci_criticality=_criticality(session, cis, service),
            outage_expected=data.outage_expected,
            tested=data.tested,
            backout_possible=data.backout_possible,
        )
        try:
            risk = effective_risk(answers, data.risk_override, data.risk_override_reason)
        except TransitionRefused as refused:
            raise ValidationFailed(str(refused)) from None
        _check_window(data.planned_start, data.planned_end)
        change = Change(
            number=next_number(session, CHANGE_PREFIX),
            title=data.title,
            description=data.description,
            justification=data.justification,
            change_type=data.change_type.value,
            state=ChangeState.NEW.value,
            impact=int(data.impact),
            risk=risk.value,
            risk_override_reason=data.risk_override_reason or None,
            outage_expected=data.outage_expected,
            tested=data.tested,
            backout_possible=data.backout_possible,
            service_id=service.id if service else None,
            planned_start=data.planned_start,
            planned_end=data.planned_end,
            implementation_plan=data.implementation_plan,
            backout_plan=data.backout_plan,
            test_plan=data.test_plan,
            requested_by_id=actor.id,
            assignee_id=assignee.id if assignee else None,
            group_id=group.id if group else None,
            opened_at=now,
            updated_at=now,
        )
        session.add(change)
        session.flush()
        assert change.id is not None
        for ci in cis:
            session.add(ChangeConfigItem(change_id=change.id, ci_id=ci.id))
        record = _record(session, change)
        _audit(session, change, actor, now, "create", _snapshot_changes({}, record))
    return record


def move_change(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    move: ChangeMove,
    *,
    expect_version: int | None = None,
    policy: CabPolicy = DEFAULT_CAB_POLICY,
) -> ChangeRecord:
    """Move a change to `move.state` if its type's lifecycle and guards allow it now.

    Entering authorize asks for the approvals its type and risk need; scheduling checks the
    conflicts, which only a change manager may override, with a reason that is journaled.
    """
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        if Role(actor.role) is Role.VIEWER:
            raise PermissionDenied("viewers have read-only access")
        change = _load(session, number, for_update=True)
        if expect_version is not None and change.version != expect_version:
            _raise_stale(change)
        before = _record(session, change)
        kind = ChangeType(change.change_type)
        current, target = ChangeState(change.state), move.state
        facts = _facts(session, change, move, policy)
        try:
            check_change_transition(kind, current, target, facts, now)
        except TransitionRefused as refused:
            raise InvalidTransition(f"{change.number}: {refused}") from None
        if target is ChangeState.SCHEDULED:
            _check_conflicts(session, change, actor, move, now)
        if target is ChangeState.AUTHORIZE:
            _request_approvals(session, change, actor, move.approvers, now)
        if target is ChangeState.NEW and current is ChangeState.AUTHORIZE:
            _clear_votes(session, change)
        change.state = target.value
        if move.outcome is not None:
            change.outcome = move.outcome.value
        if move.review_notes is not None:
            change.review_notes = move.review_notes
        if target is ChangeState.CLOSED or target is ChangeState.CANCELLED:
            change.closed_at = now
        change.updated_at = now
        session.add(change)
        session.flush()
        if move.reason.strip():
            _journal(
                session, change, actor, now, f"{current.value} -> {target.value}: {move.reason}"
            )
        after = _record(session, change)
        _audit(session, change, actor, now, "transition", _snapshot_changes(before, after))
    return after


def vote(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    decision: ApprovalDecision,
    *,
    comment: str = "",
    policy: CabPolicy = DEFAULT_CAB_POLICY,
) -> ChangeRecord:
    """Approve or reject a change in authorize. A rejection sends it back to new with the
    comment as the reason; the last approval the rule needs schedules it, conflicts allowing."""
    if decision is ApprovalDecision.PENDING:
        raise ValidationFailed("a vote approves or rejects")
    comment = validate(_Comment, text=comment).text
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        change = _load(session, number, for_update=True)
        if change.state != ChangeState.AUTHORIZE.value:
            raise InvalidTransition(
                f"{change.number} is {change.state}; votes are taken in authorize"
            )
        requested_by = _username(session, change.requested_by_id)
        assignee = _username(session, change.assignee_id)
        try:
            check_may_vote(
                actor.username, Role(actor.role), requested_by=requested_by, assignee=assignee
            )
        except ApprovalRefused as refused:
            raise PermissionDenied(str(refused)) from None
        if decision is ApprovalDecision.REJECTED and not comment.strip():
            raise ValidationFailed("a rejection needs a comment saying why")
        row = session.exec(
            select(ChangeApproval).where(
                ChangeApproval.change_id == change.id, ChangeApproval.approver_id == actor.id
            )
        ).first()
        if row is None:
            if Role(actor.role) is not Role.CHANGE_MANAGER:
                raise PermissionDenied(f"{actor.username} was not asked to approve {change.number}")
            row = ChangeApproval(change_id=change.id, approver_id=actor.id, requested_at=now)
        row.decision, row.comment, row.decided_at = decision.value, comment or None, now
        session.add(row)
        session.flush()
        _journal(session, change, actor, now, f"{decision.value}: {comment}".rstrip(": "))
        before = _record(session, change)
        state = _approval_state(session, change, policy)
        if state is ApprovalDecision.REJECTED:
            change.state = ChangeState.NEW.value
            _clear_votes(session, change)
        elif state is ApprovalDecision.APPROVED and not _conflicts(session, change):
            facts = _facts(session, change, ChangeMove(state=ChangeState.SCHEDULED), policy)
            try:
                kind = ChangeType(change.change_type)
                check_change_transition(
                    kind, ChangeState.AUTHORIZE, ChangeState.SCHEDULED, facts, now
                )
                change.state = ChangeState.SCHEDULED.value
            except TransitionRefused:
                pass  # approved, but its window needs fixing before it can be scheduled
        change.updated_at = now
        session.add(change)
        session.flush()
        after = _record(session, change)
        _audit(session, change, actor, now, "vote", _snapshot_changes(before, after))
    return after


class _Comment(Input):
    text: LongText = ""


# ---------------------------------------------------------------------------- helpers


def _raise_stale(change: Change) -> None:
    raise Conflict(
        f"{change.number} was changed by someone else (now version {change.version}); reload"
    )


def _load(session: Session, number: str, *, for_update: bool = False) -> Change:
    statement = select(Change).where(Change.number == number.strip().upper())
    if for_update and session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    change = session.exec(statement).first()
    if change is None:
        raise NotFound(f"no change {number}")
    return change


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if (start is None) != (end is None):
        raise ValidationFailed("give both the planned start and end, or neither")
    if start is not None and end is not None and not start < end:
        raise ValidationFailed("the planned start must be before the planned end")


def _criticality(session: Session, cis: list[ConfigItem], service: Service | None) -> Criticality:
    """The most critical thing the change touches: each CI's own, else its service's."""
    levels = [Criticality.LOW]
    for ci in cis:
        own = ci.criticality or _service_criticality(session, ci.service_id)
        levels.append(_as_criticality(own))
    if service is not None:
        levels.append(_as_criticality(service.criticality))
    order = list(Criticality)
    return max(levels, key=order.index)


def _service_criticality(session: Session, service_id: int) -> str:
    service = session.get(Service, service_id)
    return service.criticality if service else Criticality.LOW.value


def _as_criticality(value: str) -> Criticality:
    try:
        return Criticality(value)
    except ValueError:
        return Criticality.MEDIUM


def _facts(session: Session, change: Change, move: ChangeMove, policy: CabPolicy) -> ChangeFacts:
    return ChangeFacts(
        implementation_plan=change.implementation_plan,
        backout_plan=change.backout_plan,
        test_plan=change.test_plan,
        planned_start=change.planned_start,
        planned_end=change.planned_end,
        outcome=move.outcome or (ChangeOutcome(change.outcome) if change.outcome else None),
        review_notes=move.review_notes
        if move.review_notes is not None
        else change.review_notes or "",
        approved=_approval_state(session, change, policy) is ApprovalDecision.APPROVED,
        reason=move.reason,
        window_override=move.window_override,
    )


def _votes(session: Session, change: Change) -> list[Vote]:
    rows = session.exec(
        select(ChangeApproval, User)
        .join(User, col(User.id) == col(ChangeApproval.approver_id))
        .where(ChangeApproval.change_id == change.id)
        .order_by(col(ChangeApproval.decided_at), col(ChangeApproval.id))
    ).all()
    return [
        Vote(user.username, Role(user.role), ApprovalDecision(row.decision)) for row, user in rows
    ]


def _approval_state(session: Session, change: Change, policy: CabPolicy) -> ApprovalDecision:
    rule = approval_rule(ChangeType(change.change_type), ChangeRisk(change.risk), policy)
    return outcome(rule, _votes(session, change))


def _request_approvals(
    session: Session, change: Change, actor: User, names: tuple[str, ...], now: datetime
) -> None:
    """Ask the named CAB members (change managers vote without being asked)."""
    requested_by = _username(session, change.requested_by_id)
    assignee = _username(session, change.assignee_id)
    for name in dict.fromkeys(names):
        user = user_by_username(session, name, what="approver")
        try:
            check_may_vote(
                user.username, Role(user.role), requested_by=requested_by, assignee=assignee
            )
        except ApprovalRefused as refused:
            raise ValidationFailed(f"{user.username} cannot approve: {refused}") from None
        session.add(ChangeApproval(change_id=change.id, approver_id=user.id, requested_at=now))


def _clear_votes(session: Session, change: Change) -> None:
    """A change sent back starts its approvals afresh next time."""
    for row in session.exec(select(ChangeApproval).where(ChangeApproval.change_id == change.id)):
        session.delete(row)


def _conflicts(session: Session, change: Change) -> list[conflicts.Conflict]:
    if change.planned_start is None or change.planned_end is None:
        return []
    window = conflicts.Window(change.planned_start, change.planned_end)
    mine = _planned(session, change, change.state)
    booked = session.exec(
        select(Change).where(
            col(Change.state).in_(sorted(conflicts.BOOKED_STATES)),
            col(Change.planned_start) < window.end,
            col(Change.planned_end) > window.start,
            col(Change.id) != change.id,
        )
    ).all()
    others = [_planned(session, other, other.state) for other in booked]
    cis = session.exec(
        select(ConfigItem)
        .join(ChangeConfigItem, col(ChangeConfigItem.ci_id) == col(ConfigItem.id))
        .where(ChangeConfigItem.change_id == change.id)
    ).all()
    maintenance = {
        ci.name: [
            conflicts.MaintenanceWindow(ci.name, int(day), _time(start), _time(end), zone)
            for day, start, end, zone in (ci.maintenance or [])
        ]
        for ci in cis
        if ci.maintenance
    }
    return conflicts.find_conflicts(mine, others, conflict_windows(session, window), maintenance)


def _check_conflicts(
    session: Session, change: Change, actor: User, move: ChangeMove, now: datetime
) -> None:
    found = _conflicts(session, change)
    if not conflicts.blocking(found):
        return
    listed = "; ".join(c.detail for c in found)
    if not move.conflict_override:
        raise InvalidTransition(
            f"{change.number} clashes: {listed}. A change manager can schedule over it with "
            "--override and a reason"
        )
    if Role(actor.role) not in (Role.CHANGE_MANAGER, Role.ADMIN):
        raise PermissionDenied("only change managers schedule over conflicts")
    if not move.reason.strip():
        raise ValidationFailed("scheduling over conflicts needs a reason")
    _journal(session, change, actor, now, f"Scheduled over conflicts ({listed}): {move.reason}")


def _planned(session: Session, change: Change, state: str) -> conflicts.PlannedChange:
    assert change.planned_start is not None and change.planned_end is not None
    ci_names = session.exec(
        select(ConfigItem.name)
        .join(ChangeConfigItem, col(ChangeConfigItem.ci_id) == col(ConfigItem.id))
        .where(ChangeConfigItem.change_id == change.id)
    ).all()
    service = session.get(Service, change.service_id) if change.service_id else None
    return conflicts.PlannedChange(
        number=change.number,
        window=conflicts.Window(change.planned_start, change.planned_end),
        state=state,
        service=service.name if service else None,
        cis=frozenset(ci_names),
        assignee=_username(session, change.assignee_id),
    )


def _time(text: str) -> time:
    return time.fromisoformat(text)


def _username(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.username if user else None


def _record(session: Session, change: Change) -> ChangeRecord:
    cis = session.exec(
        select(ConfigItem.name)
        .join(ChangeConfigItem, col(ChangeConfigItem.ci_id) == col(ConfigItem.id))
        .where(ChangeConfigItem.change_id == change.id)
        .order_by(col(ConfigItem.name))
    ).all()
    service = session.get(Service, change.service_id) if change.service_id else None
    group = session.get(Group, change.group_id) if change.group_id else None
    approvals = [
        ApprovalRecord(user.username, user.role, row.decision, row.comment, row.decided_at)
        for row, user in session.exec(
            select(ChangeApproval, User)
            .join(User, col(User.id) == col(ChangeApproval.approver_id))
            .where(ChangeApproval.change_id == change.id)
            .order_by(col(ChangeApproval.id))
        ).all()
    ]
    return ChangeRecord(
        number=change.number,
        title=change.title,
        change_type=change.change_type,
        state=change.state,
        risk=change.risk,
        impact=change.impact,
        service=service.name if service else None,
        cis=list(cis),
        planned_start=change.planned_start,
        planned_end=change.planned_end,
        assignee=_username(session, change.assignee_id),
        group=group.name if group else None,
        requested_by=_username(session, change.requested_by_id),
        outcome=change.outcome,
        version=change.version,
        approvals=approvals,
    )


AUDITED = (
    "title",
    "change_type",
    "state",
    "risk",
    "impact",
    "service",
    "cis",
    "planned_start",
    "planned_end",
    "assignee",
    "group",
    "outcome",
)


def _snapshot_changes(
    before: ChangeRecord | dict[str, Any], after: ChangeRecord
) -> dict[str, tuple[object, object]]:
    old = {} if isinstance(before, dict) else {name: getattr(before, name) for name in AUDITED}
    new = {name: getattr(after, name) for name in AUDITED}
    return {
        name: (old.get(name), _audit_value(value))
        for name, value in new.items()
        if _audit_value(old.get(name)) != _audit_value(value)
    }


def _audit_value(value: object) -> object:
    if isinstance(value, list):
        return ", ".join(value) or None
    return value


def _audit(
    session: Session,
    change: Change,
    actor: User,
    now: datetime,
    action: str,
    changes: dict[str, tuple[object, object]],
) -> None:
    assert change.id is not None
    record_write(
        session,
        record_type=RecordType.CHANGE,
        record_id=change.id,
        number=change.number,
        action=action,
        actor=actor,
        at=now,
        changes={name: (_audit_value(old), new) for name, (old, new) in changes.items()},
    )


def _journal(session: Session, change: Change, actor: User, now: datetime, body: str) -> None:
    assert change.id is not None
    journal(
        session,
        record_type=RecordType.CHANGE,
        record_id=change.id,
        author=actor,
        kind=JournalKind.SYSTEM,
        body=body,
        at=now,
    )
