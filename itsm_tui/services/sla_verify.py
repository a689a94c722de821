"""`itsm sla verify`: every stored SLA clock checked against its replay from the audit trail.

For each open incident the clocks are recomputed the way `slas.sync_clocks` computes them:
the policy that matches the incident now (`match_policy` over the active policies), each kind
replayed from the incident's opening over its audit history (`replay_clock`), the due time,
stage and next threshold derived as `slas._store` derives them. Any stored clock that differs,
any clock the replay calls for that is not stored, and any live clock that should not exist is
reported. Nothing is written.

Closed and cancelled incidents are judged against the policy their clocks were made under: an
admin's policy or calendar edit re-syncs only open incidents (`slas.resync_open_incidents`), so
an ended incident keeps the clocks of the policy as it stood then. For each kind its kept clock
(the newest live one, else the newest cancelled one: cancelled with the incident, or frozen
when its policy stopped covering the incident while it was open) is replayed with that clock's
own policy row (pause rules, calendar, warnings) and its stored target; which policy matches
now, and whether it would call for a clock at all, is not asked. A calendar or pause-rule edit
made after such an incident ended is not accounted for (the row holds only the current
definition), and shows as drift.

The work is batched: policies, calendars and services are read once, then incidents go by in
chunks with one audit query and one clock query per chunk, so a desk of thousands of incidents
is verified in a handful of queries. On PostgreSQL the whole check reads one snapshot
(REPEATABLE READ) when the session is not already inside a transaction, so concurrent writes
cannot show up as half-applied mismatches; SQLite's read transaction is a snapshot already.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import computed_field
from sqlalchemy import select
from sqlmodel import Session, col

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.enums import IncidentState, RecordType
from itsm_tui.domain.sla import (
    ClockState,
    SlaKind,
    SlaStage,
    crossed_thresholds,
    due_at,
    next_threshold,
    stage,
)
from itsm_tui.domain.sla_policy import SlaPolicySpec, match_policy
from itsm_tui.domain.sla_replay import IncidentSnapshot, replay_clock
from itsm_tui.services.errors import NotFound
from itsm_tui.services.records import Record
from itsm_tui.services.slas import calendar_of, policy_spec, snapshots_from_audit
from itsm_tui.store.models import (
    AuditEntry,
    BusinessCalendarRow,
    Incident,
    Service,
    SlaClockRow,
    SlaPolicyRow,
)

CHUNK = 500  # incidents per audit/clock query: well inside every engine's parameter limit
KINDS = (SlaKind.RESPONSE, SlaKind.RESOLUTION)
HISTORY_FIELDS = ("state", "hold_reason", "responded_at")  # what slas.history_of reads
CLOCK = "clock"  # the `field` of a missing or unexpected clock
ENDED = frozenset({IncidentState.CLOSED.value, IncidentState.CANCELLED.value})

Value = int | datetime | str | None


class Problem(StrEnum):
    DIFFERS = "differs"  # a stored field is not what the replay says
    MISSING = "missing"  # the replay calls for a clock that is not stored
    UNEXPECTED = "unexpected"  # a live clock no policy (or a duplicate of its kind) accounts for


class ClockMismatch(Record):
    """One disagreement between a stored clock and its replay.

    `field` is the `sla_clocks` column (`policy_id`, `target_seconds`, `started_at`,
    `paused_seconds`, `paused_since`, `stopped_at`, `due_at`, `stage`, `next_threshold`,
    `next_check_at`), or `clock` for a missing or unexpected clock, whose stored / expected
    value is then the policy id (None on the side where there is no clock). `policy` names
    the policy that should apply (None when none matches; for a closed or cancelled incident,
    the policy of its kept clock); `clock_id` is the stored row.
    """

    number: str
    kind: str
    field: str
    stored: Value
    expected: Value
    problem: Problem = Problem.DIFFERS
    clock_id: int | None = None
    policy: str | None = None

    def describe(self) -> str:
        if self.problem is Problem.MISSING:
            return f"{self.number} {self.kind}: no live clock, expected one ({self.policy})"
        if self.problem is Problem.UNEXPECTED:
            why = f"expected only one for {self.policy}" if self.policy else "no policy matches"
            return f"{self.number} {self.kind}: unexpected live clock #{self.clock_id} ({why})"
        return (
            f"{self.number} {self.kind}: {self.field} is {_text(self.stored)}, "
            f"replay says {_text(self.expected)}"
        )


class VerifyReport(Record):
    checked_at: datetime
    number: str | None = None  # the one incident checked, when asked for one
    incidents_checked: int
    clocks_checked: int  # stored clocks compared or flagged (superseded history is not)
    mismatches: list[ClockMismatch]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.mismatches

    @computed_field  # type: ignore[prop-decorator]
    @property
    def incidents_with_mismatches(self) -> int:
        return len({m.number for m in self.mismatches})


def _text(value: Value) -> str:
    if value is None:
        return "none"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------- entry point


def verify_clocks(session: Session, now: datetime, number: str | None = None) -> VerifyReport:
    """Replay every incident's clocks (or just `number`'s) and compare with the stored rows.

    Read-only. Raises NotFound for an unknown number. Reads go through the session's
    current transaction if it has one (its snapshot, on SQLite or REPEATABLE READ), so call it
    on a fresh session or after a commit to see other connections' latest writes.
    """
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        # One snapshot for every query below: a write landing between the audit read and the
        # clock read of the same incident would otherwise look like a mismatch.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    with session.no_autoflush:  # pending edits of the caller are never written from here
        policies = _Policies.load(session)
        incidents = _incidents(session, number)
        mismatches: list[ClockMismatch] = []
        clocks_checked = 0
        for chunk in _chunks(incidents, CHUNK):
            histories = _histories(session, [i.id for i in chunk])
            clocks = _clocks(session, [i.id for i in chunk])
            for incident in chunk:
                checked, found = _verify_incident(
                    incident,
                    histories.get(incident.id, []),
                    clocks.get(incident.id, []),
                    policies,
                    now,
                )
                clocks_checked += checked
                mismatches.extend(found)
    return VerifyReport(
        checked_at=now,
        number=incidents[0].number if number is not None else None,
        incidents_checked=len(incidents),
        clocks_checked=clocks_checked,
        mismatches=mismatches,
    )


# ---------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class _Incident:
    id: int
    number: str
    priority: int
    service: str | None
    opened_at: datetime
    state: str


@dataclass(frozen=True)
class _StoredClock:
    id: int
    kind: str
    policy_id: int
    target_seconds: int
    started_at: datetime
    paused_seconds: int
    paused_since: datetime | None
    stopped_at: datetime | None
    due_at: datetime
    stage: str
    fired: list[int]
    next_threshold: int | None
    next_check_at: datetime | None


@dataclass(frozen=True)
class _Policy:
    id: int
    name: str
    spec: SlaPolicySpec
    calendar: BusinessCalendar


@dataclass
class _Policies:
    """The active policies by priority, ready for matching, and every policy (active or not)
    by id, for the clocks of ended incidents."""

    by_priority: dict[int, list[_Policy]]
    by_id: dict[int, _Policy]

    @classmethod
    def load(cls, session: Session) -> _Policies:
        # Plain column reads turned into transient rows: the session's own copies (and any
        # edit the caller has pending on them) are left exactly as they are.
        calendars = {
            row.id: BusinessCalendarRow(**row._mapping)
            for row in session.execute(select(BusinessCalendarRow.__table__)).all()
        }
        services = dict(session.execute(select(col(Service.id), col(Service.name))).all())
        by_priority: dict[int, list[_Policy]] = defaultdict(list)
        by_id: dict[int, _Policy] = {}
        for found in session.execute(
            select(SlaPolicyRow.__table__).order_by(SlaPolicyRow.__table__.c.id)
        ).all():
            row = SlaPolicyRow(**found._mapping)
            assert row.id is not None
            calendar = calendars[row.calendar_id]
            policy = _Policy(
                id=row.id,
                name=row.name,
                spec=policy_spec(row, calendar.name, services.get(row.service_id)),
                calendar=calendar_of(calendar),
            )
            by_id[row.id] = policy
            if row.active:
                by_priority[row.priority].append(policy)
        return cls(by_priority=dict(by_priority), by_id=by_id)

    def matching(self, incident: _Incident) -> _Policy | None:
        """The policy sync_clocks would attach (`slas._matching_policy`)."""
        candidates = {p.name: p for p in self.by_priority.get(incident.priority, [])}
        chosen = match_policy(
            [p.spec for p in candidates.values()], incident.priority, incident.service
        )
        return None if chosen is None else candidates[chosen.name]


def _incidents(session: Session, number: str | None) -> list[_Incident]:
    statement = (
        select(
            col(Incident.id),
            col(Incident.number),
            col(Incident.priority),
            col(Service.name),
            col(Incident.opened_at),
            col(Incident.state),
        )
        .join(Service, col(Service.id) == col(Incident.service_id), isouter=True)
        .order_by(col(Incident.id))
    )
    if number is not None:
        wanted = number.strip().upper()
        statement = statement.where(col(Incident.number) == wanted)
    incidents = [_Incident(*row) for row in session.execute(statement).all()]
    if number is not None and not incidents:
        raise NotFound(f"no incident {wanted}; list incidents with: itsm incident list")
    return incidents


def _histories(session: Session, ids: Sequence[int]) -> dict[int, list[IncidentSnapshot]]:
    rows = session.execute(
        select(
            col(AuditEntry.record_id),
            col(AuditEntry.field),
            col(AuditEntry.new_value),
            col(AuditEntry.at),
        )
        .where(
            col(AuditEntry.record_type) == RecordType.INCIDENT.value,
            col(AuditEntry.record_id).in_(ids),
            col(AuditEntry.field).in_(HISTORY_FIELDS),
        )
        .order_by(col(AuditEntry.record_id), col(AuditEntry.id))
    ).all()
    entries: dict[int, list[tuple[str, str | None, datetime]]] = defaultdict(list)
    for record_id, field, new_value, at in rows:
        entries[record_id].append((field, new_value, at))
    return {record_id: snapshots_from_audit(found) for record_id, found in entries.items()}


def _clocks(session: Session, ids: Sequence[int]) -> dict[int, list[_StoredClock]]:
    """Every clock of these incidents, oldest first, as plain values (never the session's
    cached rows, which may predate a change made behind its back)."""
    columns: list[Any] = [
        SlaClockRow.incident_id,
        SlaClockRow.id,
        SlaClockRow.kind,
        SlaClockRow.policy_id,
        SlaClockRow.target_seconds,
        SlaClockRow.started_at,
        SlaClockRow.paused_seconds,
        SlaClockRow.paused_since,
        SlaClockRow.stopped_at,
        SlaClockRow.due_at,
        SlaClockRow.stage,
        SlaClockRow.fired,
        SlaClockRow.next_threshold,
        SlaClockRow.next_check_at,
    ]
    rows = session.execute(
        select(*columns)
        .where(col(SlaClockRow.incident_id).in_(ids))
        .order_by(col(SlaClockRow.incident_id), col(SlaClockRow.id))
    ).all()
    clocks: dict[int, list[_StoredClock]] = defaultdict(list)
    for incident_id, *values in rows:
        clocks[incident_id].append(_StoredClock(*values))
    return clocks


def _chunks(items: Sequence[_Incident], size: int) -> Iterator[Sequence[_Incident]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------- comparison


def _verify_incident(
    incident: _Incident,
    history: list[IncidentSnapshot],
    clocks: list[_StoredClock],
    policies: _Policies,
    now: datetime,
) -> tuple[int, list[ClockMismatch]]:
    """(stored clocks looked at, mismatches) for one incident."""
    if incident.state in ENDED:
        return _verify_ended(incident, history, clocks, policies, now)
    live = [c for c in clocks if c.stage != SlaStage.CANCELLED.value]
    policy = policies.matching(incident)
    found: list[ClockMismatch] = []
    checked = 0

    def unexpected(clock: _StoredClock) -> ClockMismatch:
        return ClockMismatch(
            number=incident.number,
            kind=clock.kind,
            field=CLOCK,
            stored=clock.policy_id,
            expected=None,
            problem=Problem.UNEXPECTED,
            clock_id=clock.id,
            policy=policy.name if policy else None,
        )

    if policy is None:  # sync_clocks cancels every live clock when no policy matches
        return len(live), [unexpected(c) for c in live]

    for kind, target in (
        (SlaKind.RESPONSE, policy.spec.response_seconds),
        (SlaKind.RESOLUTION, policy.spec.resolution_seconds),
    ):
        expected = replay_clock(
            policy.calendar, kind, target, incident.opened_at, history, policy.spec.pause_rules
        )
        of_kind = [c for c in live if c.kind == kind.value]
        stored: _StoredClock | None = None
        if of_kind:
            # sync_clocks keys live clocks by kind, so the newest one is the one it keeps.
            *duplicates, stored = of_kind
            found.extend(unexpected(c) for c in duplicates)
            checked += len(duplicates)
        elif expected.cancelled:
            # Cancelled with the incident: no longer live, but still the current clock unless
            # a newer clock of this kind (another policy's) has come since.
            newest = [c for c in clocks if c.kind == kind.value][-1:]
            if newest and newest[0].policy_id == policy.id:
                stored = newest[0]
        if stored is None:
            found.append(
                ClockMismatch(
                    number=incident.number,
                    kind=kind.value,
                    field=CLOCK,
                    stored=None,
                    expected=policy.id,
                    problem=Problem.MISSING,
                    policy=policy.name,
                )
            )
            continue
        checked += 1
        found.extend(_compare(incident, stored, expected, policy, now))

    odd = [c for c in live if c.kind not in {k.value for k in KINDS}]
    found.extend(unexpected(c) for c in odd)
    return checked + len(odd), found


def _verify_ended(
    incident: _Incident,
    history: list[IncidentSnapshot],
    clocks: list[_StoredClock],
    policies: _Policies,
    now: datetime,
) -> tuple[int, list[ClockMismatch]]:
    """A closed or cancelled incident: each kind's kept clock replayed under its own policy
    and its stored target, whatever matches now (policy edits leave ended incidents alone)."""
    live = [c for c in clocks if c.stage != SlaStage.CANCELLED.value]
    found: list[ClockMismatch] = []
    checked = 0

    def unexpected(clock: _StoredClock, policy: str | None) -> ClockMismatch:
        return ClockMismatch(
            number=incident.number,
            kind=clock.kind,
            field=CLOCK,
            stored=clock.policy_id,
            expected=None,
            problem=Problem.UNEXPECTED,
            clock_id=clock.id,
            policy=policy,
        )

    def name_of(policy_id: int) -> str | None:
        policy = policies.by_id.get(policy_id)
        return policy.name if policy else None

    for kind in KINDS:
        of_kind = [c for c in live if c.kind == kind.value]
        if of_kind:
            *duplicates, stored = of_kind  # sync_clocks keeps the newest live one
            found.extend(unexpected(c, name_of(stored.policy_id)) for c in duplicates)
            checked += len(duplicates)
        else:
            newest = [c for c in clocks if c.kind == kind.value][-1:]
            if not newest:
                continue  # none is asked of it: its policy may have come after it ended
            stored = newest[0]
        policy = policies.by_id.get(stored.policy_id)
        if policy is None or stored.target_seconds <= 0:
            # Nothing sync_clocks could have written: no replay to compare the rest with.
            checked += 1
            found.append(_unreplayable(incident, kind, stored, policy))
            continue
        checked += 1
        expected = _replay_ended(incident, kind, stored, policy, history)
        found.extend(_compare(incident, stored, expected, policy, now))

    odd = [c for c in live if c.kind not in {k.value for k in KINDS}]
    found.extend(unexpected(c, name_of(c.policy_id)) for c in odd)
    return checked + len(odd), found


def _replay_ended(
    incident: _Incident,
    kind: SlaKind,
    stored: _StoredClock,
    policy: _Policy,
    history: list[IncidentSnapshot],
) -> ClockState:
    """What an ended incident's kept clock should hold, under its own policy and target.

    A live clock is the full replay. A cancelled one was cancelled either with the incident
    (the replay cancels it at that instant) or earlier by sync_clocks, when its policy stopped
    matching while the incident was open and no other took over: frozen as it stood, stopped
    at that instant and nothing else touched. Either way it is the replay of the history up to
    its stored stop, ended there; which of the two happened is not recorded, so a stop moved
    earlier by hand is told apart only when the pauses before it disagree.
    """
    cut = stored.stopped_at if stored.stage == SlaStage.CANCELLED.value else None
    if cut is not None:
        history = [s for s in history if s.at <= cut]
    state = replay_clock(
        policy.calendar,
        kind,
        stored.target_seconds,
        incident.opened_at,
        history,
        policy.spec.pause_rules,
    )
    if cut is not None and not state.cancelled:
        state = replace(state, stopped_at=state.stopped_at or cut, cancelled=True)
    return state


def _unreplayable(
    incident: _Incident, kind: SlaKind, stored: _StoredClock, policy: _Policy | None
) -> ClockMismatch:
    """A clock of an ended incident naming no stored policy, or with a non-positive target."""
    if policy is None:
        field, stored_value, expected_value = "policy_id", stored.policy_id, None
    else:
        field, stored_value = "target_seconds", stored.target_seconds
        expected_value = (
            policy.spec.response_seconds
            if kind is SlaKind.RESPONSE
            else policy.spec.resolution_seconds
        )
    return ClockMismatch(
        number=incident.number,
        kind=stored.kind,
        field=field,
        stored=stored_value,
        expected=expected_value,
        clock_id=stored.id,
        policy=policy.name if policy else None,
    )


def _compare(
    incident: _Incident,
    stored: _StoredClock,
    expected: ClockState,
    policy: _Policy,
    now: datetime,
) -> list[ClockMismatch]:
    def differs(field: str, stored_value: Value, expected_value: Value) -> ClockMismatch:
        return ClockMismatch(
            number=incident.number,
            kind=stored.kind,
            field=field,
            stored=stored_value,
            expected=expected_value,
            clock_id=stored.id,
            policy=policy.name,
        )

    if stored.policy_id != policy.id:
        # Another policy's clock: its other fields say nothing useful about this one's.
        return [differs("policy_id", stored.policy_id, policy.id)]
    calendar = policy.calendar
    upcoming = next_threshold(calendar, expected, set(stored.fired), policy.spec.warnings)
    wanted: list[tuple[str, Value, Value]] = [
        ("target_seconds", stored.target_seconds, expected.target_seconds),
        ("started_at", stored.started_at, expected.started_at),
        ("paused_seconds", stored.paused_seconds, expected.paused_seconds),
        ("paused_since", stored.paused_since, expected.paused_since),
        ("stopped_at", stored.stopped_at, expected.stopped_at),
        ("due_at", stored.due_at, due_at(calendar, expected)),
    ]
    found = [differs(field, s, e) for field, s, e in wanted if s != e]
    # Scheduling: the evaluator must look at the clock no later than its next unfired
    # threshold (or at once, for one crossed while nobody evaluated). Earlier is harmless.
    overdue = crossed_thresholds(calendar, expected, set(stored.fired), now, policy.spec.warnings)
    if (overdue or upcoming) and stored.next_check_at is None:
        found.append(differs("next_check_at", None, upcoming[1] if upcoming else now))
    elif upcoming and not overdue and stored.next_check_at and stored.next_check_at > upcoming[1]:
        found.append(differs("next_check_at", stored.next_check_at, upcoming[1]))
    # A stopped, paused or cancelled clock's stage is fixed; a running one may still say
    # in_progress after its breach instant (the evaluator records the breach), never breached
    # before it.
    now_stage = stage(calendar, expected, now)
    allowed = {now_stage.value}
    if expected.running:
        allowed.add(SlaStage.IN_PROGRESS.value)
    if stored.stage not in allowed:
        found.append(differs("stage", stored.stage, now_stage.value))
    return found
