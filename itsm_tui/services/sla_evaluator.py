"""The SLA evaluator's work: fire thresholds that came due, and auto-close old resolutions.

A pass selects clocks whose `next_check_at` has come (an indexed range scan: idle passes cost
one query), and for each one, in the same transaction: journals the stage reached, fires that
threshold's actions, records the threshold in `fired` and moves `next_check_at` on. Because
`fired` and the effects commit together, a threshold fires exactly once whoever runs the pass
(and the lease in `leases.py` keeps to one runner anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.enums import IncidentState, JournalKind, RecordType, Role
from itsm_tui.domain.sla import (
    BREACH_PERCENT,
    SlaStage,
    crossed_thresholds,
    next_threshold,
    threshold_at,
)
from itsm_tui.domain.sla_policy import EscalationAction, SlaPolicySpec
from itsm_tui.services.history import journal, record_write
from itsm_tui.services.sla_summary import clock_state, mark_breached
from itsm_tui.services.slas import calendar_of, policy_spec, sync_clocks
from itsm_tui.services.tx import transaction
from itsm_tui.store.models import (
    BusinessCalendarRow,
    Group,
    GroupMembership,
    Incident,
    Notification,
    SlaClockRow,
    SlaPolicyRow,
    User,
)

DEFAULT_BATCH = 500
DEFAULT_AUTO_CLOSE_DAYS = 7


@dataclass
class PassResult:
    checked: int = 0
    fired: list[tuple[str, str, int]] = field(default_factory=list)  # number, kind, percent
    closed: list[str] = field(default_factory=list)


def evaluate(
    session: Session,
    clock: Clock,
    *,
    batch: int = DEFAULT_BATCH,
    auto_close_days: int = DEFAULT_AUTO_CLOSE_DAYS,
) -> PassResult:
    """One evaluator pass: every due clock (in batches, one transaction each), then
    auto-close."""
    result = PassResult()
    while True:
        done = _evaluate_batch(session, clock.now(), batch, result)
        if done < batch:
            break
    if auto_close_days > 0:
        result.closed = auto_close(session, clock, days=auto_close_days)
    return result


def _evaluate_batch(session: Session, now: datetime, batch: int, result: PassResult) -> int:
    with transaction(session):
        statement = (
            select(SlaClockRow)
            .where(col(SlaClockRow.next_check_at) <= now)
            .order_by(col(SlaClockRow.next_check_at), col(SlaClockRow.id))
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        rows = session.exec(statement).all()
        if not rows:
            return 0
        # Everything a batch needs, in three queries; writes are flushed once at commit.
        incidents = {
            i.id: i
            for i in session.exec(
                select(Incident).where(col(Incident.id).in_({r.incident_id for r in rows}))
            ).all()
        }
        rules = _policies(session, {r.policy_id for r in rows})
        with session.no_autoflush:
            for row in rows:
                policy, spec, calendar = rules[row.policy_id]
                incident = incidents[row.incident_id]
                _evaluate_clock(session, row, incident, policy.name, spec, calendar, now, result)
        result.checked += len(rows)
        return len(rows)


def _policies(
    session: Session, ids: set[int]
) -> dict[int, tuple[SlaPolicyRow, SlaPolicySpec, BusinessCalendar]]:
    rows = session.exec(
        select(SlaPolicyRow, BusinessCalendarRow)
        .join(BusinessCalendarRow, col(BusinessCalendarRow.id) == col(SlaPolicyRow.calendar_id))
        .where(col(SlaPolicyRow.id).in_(ids))
    ).all()
    return {
        policy.id: (policy, policy_spec(policy, calendar.name, None), calendar_of(calendar))
        for policy, calendar in rows
        if policy.id is not None
    }


def _evaluate_clock(
    session: Session,
    row: SlaClockRow,
    incident: Incident,
    policy_name: str,
    spec: SlaPolicySpec,
    calendar: BusinessCalendar,
    now: datetime,
    result: PassResult,
) -> None:
    state = clock_state(row)
    fired = set(row.fired)
    for percent in crossed_thresholds(calendar, state, fired, now, spec.warnings):
        fired.add(percent)
        # Journaled at the second it was crossed; a clock that has since stopped gets the
        # record but no actions (nobody needs paging about a ticket already resolved).
        crossed_at = min(threshold_at(calendar, state, percent), now)
        actions = spec.actions.get(percent, ()) if state.stopped_at is None else ()
        _fire(session, incident, row, policy_name, percent, actions, now, crossed_at)
        result.fired.append((incident.number, row.kind, percent))
    row.fired = sorted(fired)
    if BREACH_PERCENT in fired and row.stage in (SlaStage.IN_PROGRESS.value,):
        row.stage = SlaStage.BREACHED.value
    if BREACH_PERCENT in fired and not incident.sla_breached:
        assert incident.id is not None
        mark_breached(session, incident.id)
    upcoming = next_threshold(calendar, state, fired, spec.warnings)
    row.next_threshold, row.next_check_at = upcoming if upcoming else (None, None)
    session.add(row)


def _fire(
    session: Session,
    incident: Incident,
    row: SlaClockRow,
    policy: str,
    percent: int,
    actions: tuple[EscalationAction, ...],
    now: datetime,
    crossed_at: datetime,
) -> None:
    assert incident.id is not None
    what = "breached" if percent >= BREACH_PERCENT else f"reached {percent}%"
    message = f"SLA {row.kind} {what} ({policy}, due {row.due_at:%Y-%m-%d %H:%M} UTC)"
    journal(
        session,
        record_type=RecordType.INCIDENT,
        record_id=incident.id,
        author=None,
        kind=JournalKind.SYSTEM,
        body=message,
        at=crossed_at,
    )
    kind = "sla_breach" if percent >= BREACH_PERCENT else "sla_warning"
    for user_id in _recipients(session, incident, actions):
        session.add(
            Notification(
                user_id=user_id,
                incident_id=incident.id,
                kind=kind,
                body=f"{incident.number}: {message}",
                created_at=now,
            )
        )
    changes: dict[str, tuple[object, object]] = {}
    if EscalationAction.REASSIGN_TO_ESCALATION_GROUP in actions and incident.group_id:
        group = session.get(Group, incident.group_id)
        target = session.get(Group, group.escalation_group_id) if group else None
        if group is not None and target is not None:
            changes["group"] = (group.name, target.name)
            if incident.assignee_id is not None:
                assignee = session.get(User, incident.assignee_id)
                changes["assignee"] = (assignee.username if assignee else None, None)
            incident.group_id, incident.assignee_id = target.id, None
    if EscalationAction.SET_MAJOR in actions and not incident.major:
        changes["major"] = (False, True)
        incident.major = True
    if changes:
        incident.updated_at = now
        session.add(incident)
    record_write(
        session,
        record_type=RecordType.INCIDENT,
        record_id=incident.id,
        number=incident.number,
        action=kind,
        actor=None,
        at=now,
        changes=changes,
    )


def _recipients(
    session: Session, incident: Incident, actions: tuple[EscalationAction, ...]
) -> list[int]:
    users: set[int] = set()
    if EscalationAction.NOTIFY_ASSIGNEE in actions and incident.assignee_id:
        users.add(incident.assignee_id)
    if incident.group_id and (
        EscalationAction.NOTIFY_GROUP in actions or EscalationAction.NOTIFY_SUPERVISORS in actions
    ):
        members = session.exec(
            select(User.id, User.role)
            .join(GroupMembership, col(GroupMembership.user_id) == col(User.id))
            .where(GroupMembership.group_id == incident.group_id, col(User.active).is_(True))
        ).all()
        for user_id, role in members:
            if EscalationAction.NOTIFY_GROUP in actions or role == Role.SUPERVISOR.value:
                users.add(user_id)
    return sorted(users)


def auto_close(session: Session, clock: Clock, *, days: int) -> list[str]:
    """Close incidents resolved at least `days` ago (never a major incident), journaled."""
    now = clock.now()
    cutoff = now - timedelta(days=days)
    closed: list[str] = []
    with transaction(session):
        incidents = session.exec(
            select(Incident)
            .where(
                Incident.state == IncidentState.RESOLVED.value,
                col(Incident.resolved_at) <= cutoff,
                or_(col(Incident.major).is_(False), col(Incident.major).is_(None)),
            )
            .with_for_update(skip_locked=True)
        ).all()
        for incident in incidents:
            assert incident.id is not None
            incident.state, incident.closed_at, incident.updated_at = (
                IncidentState.CLOSED.value,
                now,
                now,
            )
            session.add(incident)
            record_write(
                session,
                record_type=RecordType.INCIDENT,
                record_id=incident.id,
                number=incident.number,
                action="auto_close",
                actor=None,
                at=now,
                changes={"state": ("resolved", "closed"), "closed_at": (None, now)},
            )
            journal(
                session,
                record_type=RecordType.INCIDENT,
                record_id=incident.id,
                author=None,
                kind=JournalKind.SYSTEM,
                body=f"Closed automatically after {days} days resolved",
                at=now,
            )
            session.flush()
            sync_clocks(session, incident, now)
            closed.append(incident.number)
    return closed
