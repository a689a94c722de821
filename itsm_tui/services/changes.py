"""Change use cases: request a change, move it through its lifecycle, vote on it, schedule it
around conflicts. Each public function is one transaction.

The rules are the domain's (`change_workflow`, `change_risk`, `change_approvals`,
`conflicts`); this module loads what they need, applies them, writes, audits and publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
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
    check_not_an_approver,
    outcome,
)
from itsm_tui.domain.change_edits import (
    MATERIAL_FIELDS,
    REFERENCE_FIELDS,
    WINDOW_FIELDS,
    EditEffect,
    material,
    material_edit_effect,
    standard_plan_edits,
)
from itsm_tui.domain.change_risk import RiskAnswers, effective_risk
from itsm_tui.domain.change_workflow import (
    ChangeFacts,
    check_change_transition,
    check_schedule,
)
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
from itsm_tui.domain.permissions import ChangeScope, may_shape_standard_change, may_work_change
from itsm_tui.domain.workflow import TransitionRefused
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import (
    assignee_by_username,
    ci_by_name,
    group_by_name,
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
from itsm_tui.services.freeze_windows import conflict_windows
from itsm_tui.services.history import journal, publish, record_write
from itsm_tui.services.numbers import next_number
from itsm_tui.services.records import JournalRecord
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import AwareDateTime, Input, LongText, Name, Title, validate
from itsm_tui.store.models import (
    Change,
    ChangeApproval,
    ChangeConfigItem,
    ConfigItem,
    Group,
    Incident,
    Service,
    User,
)

CHANGE_PREFIX = "CHG"
NONE = "none"  # --assignee none / --group none / --service none: clear the reference
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
    freeze_justification: LongText = ""  # emergency changes only: why a freeze cannot stop it


class ChangeUpdate(Input):
    """Edits to a change; None leaves a field as it is. `assignee`/`group` "none" clears them.

    Changing what was approved (`change_edits.MATERIAL_FIELDS`) restarts the votes in
    authorize and sends a scheduled change back to authorize, since the approvers agreed to
    something else; a scheduled standard change may only move its window, which checks the
    conflicts again (an override needs a change manager and a `reason`).
    """

    title: Title | None = None
    change_type: ChangeType | None = None
    description: LongText | None = None
    justification: LongText | None = None
    service: Name | None = None
    cis: tuple[Name, ...] | None = None
    impact: Impact | None = None
    outage_expected: bool | None = None
    tested: bool | None = None
    backout_possible: bool | None = None
    risk_override: ChangeRisk | None = None
    risk_override_reason: LongText | None = None
    recompute_risk: bool = False  # drop an override and take the questionnaire's answer
    planned_start: AwareDateTime | None = None
    planned_end: AwareDateTime | None = None
    implementation_plan: LongText | None = None
    backout_plan: LongText | None = None
    test_plan: LongText | None = None
    assignee: Name | None = None
    group: Name | None = None
    outcome: ChangeOutcome | None = None
    review_notes: LongText | None = None
    freeze_justification: LongText | None = None
    conflict_override: bool = False
    reason: LongText = ""


class ChangeMove(Input):
    """What a state change may carry; the guards say which fields each target needs."""

    state: ChangeState
    outcome: ChangeOutcome | None = None
    review_notes: LongText | None = None
    reason: LongText = ""
    window_override: bool = False
    conflict_override: bool = False  # schedule over conflicts (change managers, with reason)
    approvers: tuple[Name, ...] = ()  # CAB members to ask, entering authorize
    # Book (or move) the window in the same step, e.g. `itsm change schedule --start --end`.
    planned_start: AwareDateTime | None = None
    planned_end: AwareDateTime | None = None


@dataclass(frozen=True)
class ApprovalRecord:
    approver: str
    role: str
    decision: str
    comment: str | None
    decided_at: datetime | None


@dataclass(frozen=True)
class CausedIncident:
    """An incident that blames this change, as the post-implementation review lists it."""

    number: str
    title: str
    priority: int
    state: str
    opened_at: datetime


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
    description: str = ""
    justification: str = ""
    implementation_plan: str = ""
    backout_plan: str = ""
    test_plan: str = ""
    review_notes: str | None = None
    risk_override_reason: str | None = None
    outage_expected: bool = False
    tested: bool = True
    backout_possible: bool = True
    freeze_justification: str | None = None
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    caused_incidents: list[CausedIncident] = field(default_factory=list)


# ---------------------------------------------------------------------------- reads


def get_change(session: Session, number: str) -> ChangeRecord:
    return _record(session, _load(session, number))


def list_changes(
    session: Session,
    *,
    states: tuple[ChangeState, ...] = (),
    window: conflicts.Window | None = None,
    service: str | None = None,
    group: str | None = None,
    assignee: str | None = None,
) -> list[ChangeRecord]:
    """Changes by planned start; with `window`, those whose planned window overlaps it;
    `service`, `group` and `assignee` narrow by name (an unknown name is refused)."""
    statement = select(Change)
    if service:
        statement = statement.where(Change.service_id == service_by_name(session, service).id)
    if group:
        statement = statement.where(Change.group_id == group_by_name(session, group).id)
    if assignee:
        user = user_by_username(session, assignee, what="assignee")
        statement = statement.where(Change.assignee_id == user.id)
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
    """Request a change, in state new. Only change managers and admins file a standard one
    (`permissions.may_shape_standard_change`): it would be scheduled with no CAB vote."""
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        if Role(actor.role) is Role.VIEWER:
            raise PermissionDenied("viewers have read-only access")
        if data.change_type is ChangeType.STANDARD:
            _require_may_shape_standard(actor, "file a standard change")
        service = service_by_name(session, data.service) if data.service else None
        cis = [ci_by_name(session, name) for name in dict.fromkeys(data.cis)]
        if service is None and cis:
            service = session.get(Service, cis[0].service_id)
        group = group_by_name(session, data.group) if data.group else None
        assignee = assignee_by_username(session, data.assignee) if data.assignee else None
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
        _check_freeze_justification(data.change_type, data.freeze_justification)
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
            freeze_justification=data.freeze_justification or None,
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

    Only its requester, assignee, assignment group and change managers may move it. Entering
    authorize asks for the approvals its type and risk need; scheduling checks the conflicts,
    which only a change manager may override, with a reason that is journaled. Whoever
    approved the change may not start or complete its implementation. A window booked in the
    same step must not move one the approvers already agreed to: that is an edit, which sends
    the change back for approval (`update_change`).
    """
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        if Role(actor.role) is Role.VIEWER:
            raise PermissionDenied("viewers have read-only access")
        change = _load(session, number, for_update=True)
        _require_may_work(session, actor, change, "move")
        if expect_version is not None and change.version != expect_version:
            _raise_stale(change)
        before = _record(session, change)
        kind = ChangeType(change.change_type)
        current, target = ChangeState(change.state), move.state
        if target is ChangeState.IMPLEMENT or (
            target is ChangeState.REVIEW and current is ChangeState.IMPLEMENT
        ):
            verb = "implement" if target is ChangeState.IMPLEMENT else "complete"
            _refuse_approver(before, actor.username, verb)
        if move.planned_start is not None or move.planned_end is not None:
            change.planned_start = move.planned_start or change.planned_start
            change.planned_end = move.planned_end or change.planned_end
            _check_window(change.planned_start, change.planned_end)
            moved = {n for n in WINDOW_FIELDS if getattr(before, n) != getattr(change, n)}
            _refuse_rebooking_on_approval(session, change, kind, current, moved)
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


EDITABLE_IN: dict[ChangeState, frozenset[str] | None] = {
    # None: every field. Later states narrow to what can still honestly change.
    ChangeState.NEW: None,
    ChangeState.ASSESS: None,
    ChangeState.AUTHORIZE: None,
    ChangeState.SCHEDULED: None,
    # In flight: what was approved (window, plans) is fixed (`change_edits`), so the form
    # locks it too; deviations go in work notes.
    ChangeState.IMPLEMENT: frozenset(
        {"description", "assignee", "group", "outcome", "review_notes"}
    ),
    ChangeState.REVIEW: frozenset({"description", "outcome", "review_notes"}),
    ChangeState.CLOSED: frozenset(),
    ChangeState.CANCELLED: frozenset(),
}
RISK_INPUTS = frozenset({"cis", "service", "outage_expected", "tested", "backout_possible"})


def update_change(
    session: Session,
    actor: User,
    clock: Clock,
    number: str,
    data: ChangeUpdate,
    *,
    expect_version: int | None = None,
    policy: CabPolicy = DEFAULT_CAB_POLICY,
) -> ChangeRecord:
    """Edit a change in one transaction, refusing stale writes (`expect_version`).

    Only its requester, assignee, assignment group and change managers may (`may_work_change`).
    Risk follows the questionnaire unless overridden with a reason. What a material edit does
    to the approval is `change_edits`' rule: in authorize the votes restart; a scheduled
    (approved) change goes back to authorize with its votes cleared, in this same transaction
    (state, votes, journal, audit and feed event together); a scheduled standard change may
    only move its window, which is checked for conflicts again; from implement on it is
    refused. Nobody who approved the change may be made its assignee. The change type only
    changes while the change is new. Only change managers and admins make a change standard
    or change a standard change's plan (`change_edits.standard_plan_edits`).
    """
    given = {
        name
        for name in data.model_fields_set
        if getattr(data, name) is not None
        and name not in {"conflict_override", "reason", "recompute_risk"}
    }
    if not given and not data.recompute_risk:
        raise ValidationFailed(f"nothing to change on {number}; give at least one field")
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        if Role(actor.role) is Role.VIEWER:
            raise PermissionDenied("viewers have read-only access")
        change = _load(session, number, for_update=True)
        _require_may_work(session, actor, change, "edit")
        if expect_version is not None and change.version != expect_version:
            _raise_stale(change)
        state = ChangeState(change.state)
        kind = ChangeType(change.change_type)
        allowed = EDITABLE_IN[state]
        if allowed is not None:  # in flight or ended: say why what was approved is fixed
            try:
                material_edit_effect(kind, state, given)
            except TransitionRefused as refused_edit:
                raise InvalidTransition(f"{change.number}: {refused_edit}") from None
        if allowed is not None and (refused := sorted(given - allowed)):
            if not allowed:
                raise InvalidTransition(
                    f"{change.number} is {state.value}; it can no longer change"
                )
            raise InvalidTransition(
                f"{change.number} is {state.value}; only {', '.join(sorted(allowed))} can "
                f"change now, not {', '.join(refused)}"
            )
        if "change_type" in given and state is not ChangeState.NEW:
            raise InvalidTransition(
                f"{change.number} is {state.value}; the change type is fixed once it leaves new"
            )
        before = _record(session, change)
        # No flush until the edit is decided: one UPDATE, so the version goes up by one.
        with session.no_autoflush:
            _apply_update(session, change, data, given)
            if (given & RISK_INPUTS or data.recompute_risk or "risk_override" in given) and (
                allowed is None
            ):
                _rerate(session, change, data)
            _check_window(change.planned_start, change.planned_end)
            _check_freeze_justification(ChangeType(change.change_type), change.freeze_justification)
            changed = _changed_fields(session, before, change, data)
            if "assignee" in changed and (assignee := _username(session, change.assignee_id)):
                _refuse_approver(before, assignee, "take")
            try:
                effect = material_edit_effect(kind, state, changed)
            except TransitionRefused as refused:
                raise InvalidTransition(f"{change.number}: {refused}") from None
            _refuse_standard_plan(actor, change, kind, changed)
            if effect is EditEffect.SEND_BACK:
                change.state = ChangeState.AUTHORIZE.value
            change.updated_at = now
            session.add(change)
        session.flush()
        if effect is EditEffect.NONE and state is ChangeState.SCHEDULED and changed & BOOKING:
            facts = _facts(session, change, ChangeMove(state=ChangeState.SCHEDULED), policy)
            try:
                check_schedule(facts, now)
            except TransitionRefused as refused:
                raise InvalidTransition(f"{change.number}: {refused}") from None
            move = ChangeMove(
                state=state, conflict_override=data.conflict_override, reason=data.reason
            )
            _check_conflicts(session, change, actor, move, now)
        if effect is EditEffect.RESTART_VOTES and _has_votes(session, change):
            _reset_votes(session, change)
            _journal(session, change, actor, now, "Plan changed in authorize: approvals restarted")
        if effect is EditEffect.SEND_BACK:
            _reset_votes(session, change)
            _journal(
                session,
                change,
                actor,
                now,
                f"Approved plan changed ({', '.join(sorted(material(changed)))}): sent back "
                "to authorize, approvals cleared",
            )
        if data.reason.strip():
            _journal(session, change, actor, now, data.reason)
        after = _record(session, change)
        action = "transition" if after.state != before.state else "update"
        _audit(session, change, actor, now, action, _snapshot_changes(before, after))
    return after


# What a scheduled change's booking is checked against conflicts for when it moves.
BOOKING = frozenset({"planned_start", "planned_end", "cis", "service"})


def _refuse_rebooking_on_approval(
    session: Session, change: Change, kind: ChangeType, current: ChangeState, moved: set[str]
) -> None:
    """A move may book a window (`change schedule --start --end`) but not re-book one that
    approvals were given for: scheduling in the same step would run it on the old approval.
    Nor may it re-book a scheduled change's window: only an edit checks the new one."""
    try:
        effect = material_edit_effect(kind, current, moved)
    except TransitionRefused as refused:
        raise InvalidTransition(f"{change.number}: {refused}") from None
    if effect is EditEffect.SEND_BACK or (
        effect is EditEffect.RESTART_VOTES and _has_votes(session, change)
    ):
        raise InvalidTransition(
            f"{change.number}: the approvers agreed to its booked window; move the window as an "
            "edit (`itsm change update --start --end`), which asks them again, then schedule"
        )
    if moved and current is ChangeState.SCHEDULED:
        # A scheduled standard change may move its window, but only as an edit, which checks
        # the new one (future start, conflicts, freezes); implementing it in the same step
        # would book a window nothing checked, e.g. inside a freeze.
        raise InvalidTransition(
            f"{change.number} is scheduled: move its window as an edit (`itsm change update "
            "--start --end`), which checks it for conflicts, then move the change"
        )


def _changed_fields(
    session: Session, before: ChangeRecord, change: Change, data: ChangeUpdate
) -> set[str]:
    """The fields whose value really changes (a script may resend a value as it is), read
    from the unflushed row so the edit is decided before anything is written."""
    scalars = MATERIAL_FIELDS - REFERENCE_FIELDS
    changed = {name for name in scalars if getattr(before, name) != getattr(change, name)}
    service = session.get(Service, change.service_id) if change.service_id else None
    references = {
        "service": service.name if service else None,
        "group": _group_name(session, change.group_id),
        "assignee": _username(session, change.assignee_id),
    }
    changed |= {name for name, value in references.items() if getattr(before, name) != value}
    if data.cis is not None:
        names = sorted({ci_by_name(session, name).name for name in data.cis})
        if names != sorted(before.cis):
            changed.add("cis")
    return changed


def _group_name(session: Session, group_id: int | None) -> str | None:
    group = session.get(Group, group_id) if group_id is not None else None
    return group.name if group else None


def _refuse_approver(record: ChangeRecord, person: str, doing: str) -> None:
    """Separation of duties: nobody who approved `record` takes it or carries it out."""
    approved = [a.approver for a in record.approvals if a.decision == "approved"]
    try:
        check_not_an_approver(person, approved, doing=doing)
    except ApprovalRefused as refused:
        raise PermissionDenied(f"{record.number}: {refused}") from None


STANDARD_NEEDS_A_MANAGER = (
    "a standard change is scheduled without CAB approval, so a change manager must raise "
    "standard changes"
)


def _require_may_shape_standard(
    actor: User, doing: str, instead: str = "file it as a normal change for CAB approval"
) -> None:
    """Standard changes skip the CAB; until there are approved templates, a change manager
    decides each one (`permissions.may_shape_standard_change`)."""
    role = Role(actor.role)
    if not may_shape_standard_change(role):
        raise PermissionDenied(
            f"'{actor.username}' ({role.value}) may not {doing}: {STANDARD_NEEDS_A_MANAGER}; "
            f"{instead}"
        )


def _refuse_standard_plan(actor: User, change: Change, kind: ChangeType, changed: set[str]) -> None:
    """An edit that makes `change` standard, or changes what a standard change runs, is a
    change manager's; its window stays open to whoever works the change."""
    shaped = standard_plan_edits(kind, ChangeType(change.change_type), changed)
    if not shaped:
        return
    if kind is not ChangeType.STANDARD:
        _require_may_shape_standard(
            actor, f"make {change.number} standard", "keep it normal for CAB approval"
        )
        return
    role = Role(actor.role)
    if not may_shape_standard_change(role):
        raise PermissionDenied(
            f"'{actor.username}' ({role.value}) may not change {', '.join(sorted(shaped))} of "
            f"{change.number}: a standard change's plan is its change manager's, since it runs "
            "without CAB approval; its window may move, or make it normal for CAB approval"
        )


def _require_may_work(session: Session, actor: User, change: Change, verb: str) -> None:
    """Only the change's requester, assignee, assignment group and change managers edit or
    move it (`permissions.may_work_change`); everyone else is refused before anything."""
    assert actor.id is not None
    scope = ChangeScope(
        requested_by_actor=change.requested_by_id == actor.id,
        assigned_to_actor=change.assignee_id == actor.id,
        in_change_group=change.group_id is not None
        and is_member(session, actor.id, change.group_id),
    )
    role = Role(actor.role)
    if not may_work_change(role, scope):
        raise PermissionDenied(
            f"'{actor.username}' ({role.value}) may not {verb} {change.number}: a change is "
            "worked by its requester, its assignee, its assignment group and change managers"
        )


def _apply_update(session: Session, change: Change, data: ChangeUpdate, given: set[str]) -> None:
    for name in (
        "title",
        "description",
        "justification",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "outage_expected",
        "tested",
        "backout_possible",
        "planned_start",
        "planned_end",
        "review_notes",
    ):
        if name in given:
            setattr(change, name, getattr(data, name))
    if "change_type" in given:
        change.change_type = ChangeType(data.change_type).value
    if "impact" in given:
        change.impact = int(data.impact)  # type: ignore[arg-type]
    if "outcome" in given:
        change.outcome = ChangeOutcome(data.outcome).value
    if "freeze_justification" in given:
        change.freeze_justification = data.freeze_justification or None
    if "service" in given:
        change.service_id = _optional_id(
            data.service, lambda name: service_by_name(session, name).id
        )
    if "group" in given:
        change.group_id = _optional_id(data.group, lambda name: group_by_name(session, name).id)
    if "assignee" in given:
        change.assignee_id = _optional_id(
            data.assignee, lambda name: assignee_by_username(session, name).id
        )
    if "cis" in given:
        assert change.id is not None and data.cis is not None
        cis = [ci_by_name(session, name) for name in dict.fromkeys(data.cis)]
        for row in session.exec(
            select(ChangeConfigItem).where(ChangeConfigItem.change_id == change.id)
        ).all():
            session.delete(row)
        for ci in cis:
            session.add(ChangeConfigItem(change_id=change.id, ci_id=ci.id))
        if change.service_id is None and cis:
            change.service_id = cis[0].service_id


def _optional_id(name: str | None, resolve: Callable[[str], int | None]) -> int | None:
    if name is None or name.strip().lower() == NONE:
        return None
    return resolve(name)


def _rerate(session: Session, change: Change, data: ChangeUpdate) -> None:
    """Risk again from the questionnaire, keeping a standing override unless told not to."""
    if data.cis is not None:
        cis = [ci_by_name(session, name) for name in data.cis]
    else:
        cis = list(
            session.exec(
                select(ConfigItem)
                .join(ChangeConfigItem, col(ChangeConfigItem.ci_id) == col(ConfigItem.id))
                .where(ChangeConfigItem.change_id == change.id)
            ).all()
        )
    service = session.get(Service, change.service_id) if change.service_id else None
    answers = RiskAnswers(
        ci_criticality=_criticality(session, cis, service),
        outage_expected=change.outage_expected,
        tested=change.tested,
        backout_possible=change.backout_possible,
    )
    override, reason = data.risk_override, data.risk_override_reason or ""
    if override is None and change.risk_override_reason and not data.recompute_risk:
        override, reason = ChangeRisk(change.risk), change.risk_override_reason
    try:
        change.risk = effective_risk(answers, override, reason).value
    except TransitionRefused as refused:
        raise ValidationFailed(str(refused)) from None
    change.risk_override_reason = reason.strip() or None if override is not None else None


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
        elif state is ApprovalDecision.APPROVED and (
            blockers := _excuse_freezes(session, change, actor, now, _conflicts(session, change))
        ):
            listed = "; ".join(c.detail for c in blockers)
            _journal(session, change, actor, now, f"Approved, but conflicts block it: {listed}")
        elif state is ApprovalDecision.APPROVED:
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


def add_note(session: Session, actor: User, clock: Clock, number: str, text: str) -> JournalRecord:
    """A work note on the change's timeline (CAB remarks, implementation progress). The change
    row is left alone, so a note never makes a colleague's edit fail as stale."""
    body = validate(_Comment, text=text).text
    if not body.strip():
        raise ValidationFailed("a note needs some text")
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        if Role(actor.role) is Role.VIEWER:
            raise PermissionDenied("viewers have read-only access")
        change = _load(session, number)
        if change.state in (ChangeState.CLOSED.value, ChangeState.CANCELLED.value):
            raise ValidationFailed(f"{change.number} is {change.state}; it takes no more notes")
        assert change.id is not None
        entry = journal(
            session,
            record_type=RecordType.CHANGE,
            record_id=change.id,
            author=actor,
            kind=JournalKind.WORK_NOTE,
            body=body,
            at=now,
        )
        publish(
            session,
            record_type=RecordType.CHANGE,
            record_id=change.id,
            action="work_note",
            actor=actor,
            at=now,
            number=change.number,
        )
    return JournalRecord(
        kind=entry.kind, author=actor.username, body=entry.body, created_at=entry.created_at
    )


def vote_refusal(record: ChangeRecord, actor: User) -> str | None:
    """Why `actor` cannot vote on `record` now, or None: the rules `vote` applies, for screens
    that offer approve and reject only to those who may use them."""
    if record.state != ChangeState.AUTHORIZE.value:
        return f"{record.number} is {record.state}; votes are taken in authorize"
    try:
        check_may_vote(
            actor.username,
            Role(actor.role),
            requested_by=record.requested_by,
            assignee=record.assignee,
        )
    except ApprovalRefused as refused:
        return str(refused)
    asked = {approval.approver for approval in record.approvals}
    if Role(actor.role) is not Role.CHANGE_MANAGER and actor.username not in asked:
        return f"{actor.username} was not asked to approve {record.number}"
    return None


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
        if not user.active:
            raise ValidationFailed(f"{user.username} cannot approve: the account is deactivated")
        try:
            check_may_vote(
                user.username, Role(user.role), requested_by=requested_by, assignee=assignee
            )
        except ApprovalRefused as refused:
            raise ValidationFailed(f"{user.username} cannot approve: {refused}") from None
        session.add(ChangeApproval(change_id=change.id, approver_id=user.id, requested_at=now))


def _has_votes(session: Session, change: Change) -> bool:
    return any(
        row.decision != ApprovalDecision.PENDING.value
        for row in session.exec(
            select(ChangeApproval).where(ChangeApproval.change_id == change.id)
        ).all()
    )


def _reset_votes(session: Session, change: Change) -> None:
    """The same approvers are asked again: their earlier votes were on another plan."""
    for row in session.exec(select(ChangeApproval).where(ChangeApproval.change_id == change.id)):
        row.decision, row.comment, row.decided_at = ApprovalDecision.PENDING.value, None, None
        session.add(row)


def _check_freeze_justification(kind: ChangeType, justification: str | None) -> None:
    if (justification or "").strip() and kind is not ChangeType.EMERGENCY:
        raise ValidationFailed(
            "only emergency changes may run through a freeze; drop the freeze justification"
        )


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
        ci.name: [conflicts.MaintenanceWindow.from_row(ci.name, row) for row in ci.maintenance]
        for ci in cis
        if ci.maintenance
    }
    return conflicts.find_conflicts(mine, others, conflict_windows(session, window), maintenance)


def _excuse_freezes(
    session: Session,
    change: Change,
    actor: User,
    now: datetime,
    found: list[conflicts.Conflict],
) -> list[conflicts.Conflict]:
    """Drop the freezes an emergency change is justified to run through, journaling that it
    does; what is left still blocks."""
    exempt = conflicts.freeze_exempt(ChangeType(change.change_type), change.freeze_justification)
    frozen = [c for c in found if c.kind is conflicts.ConflictKind.FREEZE]
    if exempt and frozen:
        names = ", ".join(sorted({c.with_record or "" for c in frozen}))
        _journal(
            session,
            change,
            actor,
            now,
            f"Emergency change runs through freeze {names}: {change.freeze_justification}",
        )
    return conflicts.unexcused(found, freeze_exempt=exempt)


def _blocking(session: Session, change: Change) -> bool:
    exempt = conflicts.freeze_exempt(ChangeType(change.change_type), change.freeze_justification)
    return conflicts.blocking(_conflicts(session, change), freeze_exempt=exempt)


def _check_conflicts(
    session: Session, change: Change, actor: User, move: ChangeMove, now: datetime
) -> None:
    found = _conflicts(session, change)
    found = _excuse_freezes(session, change, actor, now, found)
    if not found:
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
        description=change.description,
        justification=change.justification,
        implementation_plan=change.implementation_plan,
        backout_plan=change.backout_plan,
        test_plan=change.test_plan,
        review_notes=change.review_notes,
        risk_override_reason=change.risk_override_reason,
        outage_expected=change.outage_expected,
        tested=change.tested,
        backout_possible=change.backout_possible,
        freeze_justification=change.freeze_justification,
        opened_at=change.opened_at,
        updated_at=change.updated_at,
        closed_at=change.closed_at,
        caused_incidents=[
            CausedIncident(i.number, i.title, i.priority, i.state, i.opened_at)
            for i in session.exec(
                select(Incident)
                .where(Incident.caused_by_change_id == change.id)
                .order_by(col(Incident.opened_at), col(Incident.id))
            ).all()
        ],
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
    "description",
    "justification",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "review_notes",
    "freeze_justification",
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
