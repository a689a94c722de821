"""SLA clocks kept in step with incidents.

Every incident write calls `sync_clocks` inside its own transaction. The clocks are rebuilt by
replaying the incident's audit history (`domain.sla_replay`), so the live clocks and the
`sla verify` replay are the same computation; a priority or service change that selects
another policy cancels the old clocks (kept for history) and starts new ones from the original
start, keeping the business time already spent paused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.calendar import BusinessCalendar, CalendarError, Holidays, WorkInterval
from itsm_tui.domain.enums import HoldReason, IncidentState, RecordType
from itsm_tui.domain.sla import (
    ClockState,
    SlaKind,
    SlaStage,
    crossed_thresholds,
    due_at,
    next_threshold,
    percent_used,
    stage,
)
from itsm_tui.domain.sla_policy import (
    CALENDAR_24X7,
    CALENDAR_OFFICE,
    DEFAULT_POLICIES,
    EscalationAction,
    PauseRule,
    SlaPolicySpec,
    match_policy,
)
from itsm_tui.domain.sla_replay import IncidentSnapshot, replay_clock
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.records import SlaClockRecord
from itsm_tui.services.sla_summary import clock_state, store_summary, summarise
from itsm_tui.services.tx import transaction
from itsm_tui.store.models import (
    AuditEntry,
    BusinessCalendarRow,
    Incident,
    Service,
    SlaClockRow,
    SlaPolicyRow,
)

OFFICE_START, OFFICE_END = time(8), time(17)


# ---------------------------------------------------------------------------- defaults


def ensure_defaults(session: Session, clock: Clock, zone: str = "UTC") -> bool:
    """Seed the shipped calendars and policies into a desk that has none; True if seeded.

    Office hours are Monday to Friday 08:00-17:00 in `zone` (the admin's), with no public
    holidays until an admin sets a country.
    """
    if session.exec(select(func.count()).select_from(SlaPolicyRow)).one():
        return False
    now = clock.now()
    with transaction(session):
        if session.exec(select(func.count()).select_from(SlaPolicyRow)).one():
            return False  # another client seeded meanwhile
        calendars = {
            CALENDAR_24X7: BusinessCalendarRow(
                name=CALENDAR_24X7, zone="UTC", always_on=True, created_at=now
            ),
            CALENDAR_OFFICE: BusinessCalendarRow(
                name=CALENDAR_OFFICE,
                zone=zone,
                intervals=[[d, f"{OFFICE_START:%H:%M}", f"{OFFICE_END:%H:%M}"] for d in range(5)],
                created_at=now,
            ),
        }
        for name, row in calendars.items():
            existing = session.exec(
                select(BusinessCalendarRow).where(BusinessCalendarRow.name == name)
            ).first()
            if existing is None:
                calendar_of(row)  # validates the zone before anything is stored
                session.add(row)
            else:
                calendars[name] = existing
        session.flush()
        for spec in DEFAULT_POLICIES:
            session.add(policy_row(spec, calendars[spec.calendar], now))
    return True


def policy_row(spec: SlaPolicySpec, calendar: BusinessCalendarRow, now: datetime) -> SlaPolicyRow:
    assert calendar.id is not None
    return SlaPolicyRow(
        name=spec.name,
        priority=spec.priority,
        calendar_id=calendar.id,
        response_seconds=spec.response_seconds,
        resolution_seconds=spec.resolution_seconds,
        pause_rules=[
            {
                "state": rule.state.value,
                "hold_reasons": None
                if rule.hold_reasons is None
                else sorted(r.value for r in rule.hold_reasons),
            }
            for rule in spec.pause_rules
        ],
        warnings=list(spec.warnings),
        actions={str(p): [a.value for a in acts] for p, acts in spec.actions.items()},
        created_at=now,
    )


# ---------------------------------------------------------------------------- rows -> rules


def calendar_of(row: BusinessCalendarRow) -> BusinessCalendar:
    return _calendar(
        row.zone,
        row.always_on,
        tuple(tuple(i) for i in row.intervals),
        row.holiday_country,
        row.holiday_subdivision,
        tuple(row.extra_dates),
    )


@lru_cache(maxsize=64)
def _calendar(
    zone: str,
    always_on: bool,
    intervals: tuple[tuple[Any, ...], ...],
    country: str | None,
    subdivision: str | None,
    extra_dates: tuple[str, ...],
) -> BusinessCalendar:
    """Built once per distinct definition: validation (zones, holiday countries) is not free
    and every incident write needs the calendar."""
    return BusinessCalendar(
        zone=zone,
        always_on=always_on,
        intervals=tuple(
            WorkInterval(int(d), time.fromisoformat(s), time.fromisoformat(e))
            for d, s, e in intervals
        ),
        holidays=Holidays(
            country=country,
            subdivision=subdivision,
            extra_dates=frozenset(date.fromisoformat(d) for d in extra_dates),
        ),
    )


def policy_spec(row: SlaPolicyRow, calendar_name: str, service: str | None) -> SlaPolicySpec:
    return SlaPolicySpec(
        name=row.name,
        priority=row.priority,
        response_seconds=row.response_seconds,
        resolution_seconds=row.resolution_seconds,
        calendar=calendar_name,
        service=service,
        pause_rules=tuple(
            PauseRule(
                IncidentState(r["state"]),
                None
                if r.get("hold_reasons") is None
                else frozenset(HoldReason(h) for h in r["hold_reasons"]),
            )
            for r in row.pause_rules
        ),
        warnings=tuple(row.warnings),
        actions={
            int(p): tuple(EscalationAction(a) for a in acts) for p, acts in row.actions.items()
        },
    )


# ---------------------------------------------------------------------------- history


# Built once: these run on every incident write, and building a statement (its joins and
# comparisons) cost about as much CPU as executing it. The values go in as parameters.
_HISTORY = (
    select(col(AuditEntry.field), col(AuditEntry.new_value), col(AuditEntry.at))
    .where(
        AuditEntry.record_type == RecordType.INCIDENT.value,
        AuditEntry.record_id == bindparam("incident_id"),
        col(AuditEntry.field).in_(("state", "hold_reason", "responded_at")),
    )
    .order_by(col(AuditEntry.id))
)
_CLOCKS = (
    select(SlaClockRow)
    .where(SlaClockRow.incident_id == bindparam("incident_id"))
    .order_by(col(SlaClockRow.id))  # if duplicates ever exist, the newest wins
    .execution_options(populate_existing=True)  # thresholds the evaluator fired since
)
_POLICIES = (
    select(SlaPolicyRow, BusinessCalendarRow, Service.name)
    .join(BusinessCalendarRow, col(BusinessCalendarRow.id) == col(SlaPolicyRow.calendar_id))
    .join(Service, col(Service.id) == col(SlaPolicyRow.service_id), isouter=True)
    .where(SlaPolicyRow.priority == bindparam("priority"), col(SlaPolicyRow.active).is_(True))
)


def history_of(session: Session, incident: Incident) -> list[IncidentSnapshot]:
    """The incident's state over time, from its audit trail (state, hold reason, response)."""
    # Plain columns, not AuditEntry objects: cheaper, and all the replay needs.
    entries = session.exec(_HISTORY, params={"incident_id": incident.id}).all()
    return snapshots_from_audit(entries)


def snapshots_from_audit(
    entries: Iterable[tuple[str, str | None, datetime]],
) -> list[IncidentSnapshot]:
    """An incident's state over time from its audit entries (field, new value, at), oldest
    first: used by `history_of` and by `sla verify` over rows it fetched in bulk."""
    snapshots: list[IncidentSnapshot] = []
    state, hold_reason, responded = IncidentState.NEW, None, False
    for field, new_value, at in entries:
        if field == "state" and new_value:
            state = IncidentState(new_value)
        elif field == "hold_reason":
            hold_reason = HoldReason(new_value) if new_value else None
        elif field == "responded_at":
            responded = new_value is not None
        snapshot = IncidentSnapshot(at, state, hold_reason, responded)
        if snapshots and snapshots[-1].at == at:
            snapshots[-1] = snapshot  # one write, several fields: keep its final state
        else:
            snapshots.append(snapshot)
    return snapshots


# ---------------------------------------------------------------------------- sync


def sync_clocks(session: Session, incident: Incident, now: datetime) -> list[SlaClockRow]:
    """Bring the incident's clocks in line with its history; call inside the write's
    transaction, after its audit rows are added. Returns the live (non-cancelled) clocks."""
    assert incident.id is not None
    # Every clock the incident ever had, in one read: the live ones are synced, the
    # cancelled ones are history that new clocks inherit fired thresholds from.
    clocks = session.exec(_CLOCKS, params={"incident_id": incident.id}).all()
    live = [clock for clock in clocks if clock.stage != SlaStage.CANCELLED.value]
    match = _matching_policy(session, incident)
    if match is None or any(clock.policy_id != match[0].id for clock in live):
        for clock in live:  # another policy applies now: keep the old clocks as history
            clock.stage, clock.next_check_at, clock.next_threshold = (
                SlaStage.CANCELLED.value,
                None,
                None,
            )
            clock.stopped_at = clock.stopped_at or now  # what it used stays on record
            session.add(clock)
        live = []
    if match is None:
        store_summary(session, incident.id, summarise([], None, now))
        return []
    row, spec, calendar = match
    try:
        return _sync_live(session, incident, row, spec, calendar, clocks, live, now)
    except CalendarError as error:
        # Saving refuses such a policy or calendar (`sla_policy.check_reachable`); one saved
        # before that check, or pushed past the horizon by years of pause, is refused here in
        # milliseconds instead of searching to the year 9999.
        raise ValidationFailed(
            f"{incident.number}: SLA policy '{spec.name}' on calendar '{spec.calendar}': "
            f"{error}; an admin must give the calendar more working time or the policy "
            "shorter targets"
        ) from None


def _sync_live(
    session: Session,
    incident: Incident,
    row: SlaPolicyRow,
    spec: SlaPolicySpec,
    calendar: BusinessCalendar,
    clocks: Sequence[SlaClockRow],
    live: list[SlaClockRow],
    now: datetime,
) -> list[SlaClockRow]:
    assert incident.id is not None
    by_kind = {clock.kind: clock for clock in live}
    history = history_of(session, incident)
    result = []
    for kind, target in (
        (SlaKind.RESPONSE, spec.response_seconds),
        (SlaKind.RESOLUTION, spec.resolution_seconds),
    ):
        clock_row = by_kind.get(kind.value) or SlaClockRow(
            incident_id=incident.id,
            policy_id=row.id,
            kind=kind.value,
            target_seconds=target,
            started_at=incident.opened_at,
            due_at=incident.opened_at,
            stage=SlaStage.IN_PROGRESS.value,
            fired=_fired_before(clocks, row.id, kind),
            created_at=now,
        )
        state = replay_clock(
            calendar, kind, target, clock_row.started_at, history, spec.pause_rules
        )
        _store(clock_row, state, calendar, spec, now)
        session.add(clock_row)
        result.append(clock_row)
    session.flush()
    store_summary(session, incident.id, summarise(result, calendar, now))
    return result


def _store(
    row: SlaClockRow,
    state: ClockState,
    calendar: BusinessCalendar,
    spec: SlaPolicySpec,
    now: datetime,
) -> None:
    row.target_seconds = state.target_seconds
    row.paused_seconds = state.paused_seconds
    row.paused_since = state.paused_since
    row.stopped_at = state.stopped_at
    row.due_at = due_at(calendar, state)
    row.stage = stage(calendar, state, now).value
    overdue = crossed_thresholds(calendar, state, set(row.fired), now, spec.warnings)
    if overdue:
        # Crossed before this event (say, resolved late with no evaluator pass in between):
        # due for the evaluator now, so the breach is still recorded once.
        row.next_threshold, row.next_check_at = overdue[0], now
        return
    upcoming = next_threshold(calendar, state, set(row.fired), spec.warnings)
    row.next_threshold, row.next_check_at = upcoming if upcoming else (None, None)


def _fired_before(clocks: Sequence[SlaClockRow], policy_id: int | None, kind: SlaKind) -> list[int]:
    """Thresholds already fired by an earlier clock of the same policy and kind (a priority
    changed and changed back): they must not fire a second time. `clocks`: all of the
    incident's, oldest first; the newest match decides."""
    for clock in reversed(clocks):
        if clock.policy_id == policy_id and clock.kind == kind.value:
            return list(clock.fired or [])
    return []


def _matching_policy(
    session: Session, incident: Incident
) -> tuple[SlaPolicyRow, SlaPolicySpec, BusinessCalendar] | None:
    rows = session.exec(_POLICIES, params={"priority": incident.priority}).all()
    service = session.get(Service, incident.service_id) if incident.service_id else None
    candidates = {
        row.name: (row, policy_spec(row, calendar.name, service_name), calendar)
        for row, calendar, service_name in rows
    }
    chosen = match_policy(
        [spec for _, spec, _ in candidates.values()],
        incident.priority,
        service.name if service else None,
    )
    if chosen is None:
        return None
    row, spec, calendar = candidates[chosen.name]
    return row, spec, calendar_of(calendar)


# ---------------------------------------------------------------------------- reads


def clock_records(session: Session, incident: Incident, now: datetime) -> list[SlaClockRecord]:
    rows = session.exec(
        select(SlaClockRow, SlaPolicyRow, BusinessCalendarRow)
        .join(SlaPolicyRow, col(SlaPolicyRow.id) == col(SlaClockRow.policy_id))
        .join(BusinessCalendarRow, col(BusinessCalendarRow.id) == col(SlaPolicyRow.calendar_id))
        .where(SlaClockRow.incident_id == incident.id)
        .order_by(col(SlaClockRow.id))
    ).all()
    records = []
    for clock, policy, calendar_row in rows:
        state = clock_state(clock)
        calendar = calendar_of(calendar_row)
        records.append(
            SlaClockRecord(
                kind=clock.kind,
                policy=policy.name,
                stage=stage(calendar, state, now).value,
                due_at=clock.due_at,
                percent_used=round(percent_used(calendar, state, now), 1),
                paused=clock.paused_since is not None,
                target_seconds=clock.target_seconds,
            )
        )
    return records


def resync_open_incidents(session: Session, now: datetime, *, priority: int | None = None) -> int:
    """Re-run `sync_clocks` for every incident not yet closed or cancelled (optionally of one
    priority), inside the caller's transaction: after a policy is added or changed, an SLA
    added later is replayed from each record's history. Returns how many were synced."""
    statement = select(Incident).where(
        col(Incident.state).not_in((IncidentState.CLOSED.value, IncidentState.CANCELLED.value))
    )
    if priority is not None:
        statement = statement.where(Incident.priority == priority)
    incidents = session.exec(statement.order_by(col(Incident.id))).all()
    for incident in incidents:
        sync_clocks(session, incident, now)
    return len(incidents)
