"""The SLA dashboard's figures: compliance per priority and per service over a period, the
trend against the period before, the clocks as they stand now and the incidents at risk.

How a clock counts (the same stage rules and tally as `services.reports`, whose `Tally`
does the counting here too):

- only live clocks: cancelled ones (left behind by a priority change) never count;
- a clock belongs to the period in which its outcome was DECIDED: a met clock when it
  stopped in time (`stopped_at`), a breached one at the instant it ran out of target
  (`domain.sla.due_at`, whether it was stopped later or still runs), so a breach shows on the
  day it happened, not when the incident was finally resolved; clocks still running within
  target are not decided and count only in the "now" figures;
- compliance is met / (met + breached) * 100, rounded to 0.1, None when nothing was decided.

`sla_report` differs on purpose in one respect: it takes the incidents OPENED in a period and
reports their clocks as they stand now (a backlog view), while the dashboard asks "how did we
do this week". Both classify a clock with `domain.sla.stage`, so a clock is met or breached
alike in both.

Periods are whole local days in the desk's zone (`ITSMApp.timezone`): today, the last 7 or
30 days (today included) and the calendar quarter. The trend compares with the period of the
same kind just before (yesterday, the 7 or 30 days before, the previous quarter).

There is no compliance target in the SLA policies (they hold response and resolution times),
so the target is a desk-wide figure, `DEFAULT_TARGET_PERCENT` unless the caller passes one.

The "now" counts split the open clocks (not stopped, not cancelled) four ways: breached (past
target, running or paused), paused, at warning (running, at least `AT_RISK_PERCENT` of the
target used, as in the at-risk list) and in progress (the rest). The at-risk list is
`services.reports`' own: running clocks at 75% or more, soonest due first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pydantic import Field
from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.sla import ClockState, SlaKind, SlaStage, due_at, percent_used, stage
from itsm_tui.services.change_calendar import zone_of
from itsm_tui.services.records import Record
from itsm_tui.services.reports import (
    AT_RISK_PERCENT,
    KINDS,
    AtRiskClock,
    Tally,
    at_risk_clocks,
    load_policies,
)
from itsm_tui.services.sla_summary import clock_state
from itsm_tui.store.models import Incident, Service, SlaClockRow

DEFAULT_TARGET_PERCENT = 95.0
NO_SERVICE = "(no service)"
AT_RISK_LIMIT = 100  # a wall of overdue clocks is read from the top; the rest is in reports


class Period(StrEnum):
    TODAY = "today"
    WEEK = "7d"
    MONTH = "30d"
    QUARTER = "quarter"

    @property
    def label(self) -> str:
        return _LABELS[self]

    def following(self) -> Period:
        """The next period in the cycle the dashboard's `p` key walks."""
        order = list(Period)
        return order[(order.index(self) + 1) % len(order)]


_LABELS = {
    Period.TODAY: "Today",
    Period.WEEK: "7 days",
    Period.MONTH: "30 days",
    Period.QUARTER: "Quarter",
}
_DAYS = {Period.TODAY: 1, Period.WEEK: 7, Period.MONTH: 30}


class Trend(StrEnum):
    UP = "up"
    DOWN = "down"
    SAME = "same"
    UNKNOWN = "unknown"  # one of the two periods decided no clock

    @property
    def arrow(self) -> str:
        return _ARROWS[self]


_ARROWS = {Trend.UP: "▲", Trend.DOWN: "▼", Trend.SAME: "=", Trend.UNKNOWN: "·"}


# ---------------------------------------------------------------------------- records


class Compliance(Record):
    """One kind of clock in one group: this period against the target and the last one."""

    kind: str
    met: int = 0
    breached: int = 0
    percent: float | None = None
    previous_percent: float | None = None
    target_percent: float = DEFAULT_TARGET_PERCENT
    trend: Trend = Trend.UNKNOWN

    @property
    def decided(self) -> int:
        return self.met + self.breached


class ComplianceLine(Record):
    """A priority (`P1`), a service, or "overall", for response and resolution."""

    label: str
    response: Compliance
    resolution: Compliance

    def kinds(self) -> tuple[Compliance, Compliance]:
        return self.response, self.resolution


class DayCompliance(Record):
    """Both kinds together, for the day's bar of the sparkline."""

    day: date
    met: int = 0
    breached: int = 0
    percent: float | None = None


class ClockCounts(Record):
    in_progress: int = 0
    warning: int = 0
    breached: int = 0
    paused: int = 0


class SlaDashboard(Record):
    generated_at: datetime
    period: Period
    zone: str
    start: datetime
    end: datetime
    previous_start: datetime
    target_percent: float
    overall: ComplianceLine
    priorities: list[ComplianceLine] = Field(default_factory=list)
    services: list[ComplianceLine] = Field(default_factory=list)
    now: ClockCounts = Field(default_factory=ClockCounts)
    at_risk: list[AtRiskClock] = Field(default_factory=list)
    daily: list[DayCompliance] = Field(default_factory=list)


# ---------------------------------------------------------------------------- periods


def period_bounds(period: Period, now: datetime, zone: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC: local midnights in `zone`, the end being the midnight after today
    (or the quarter's end), so the period includes the rest of today."""
    tz = zone_of(zone)
    today = now.astimezone(tz).date()
    if period is Period.QUARTER:
        first = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
        last = _quarter_after(first)
    else:
        first = today - timedelta(days=_DAYS[period] - 1)
        last = today + timedelta(days=1)
    return _midnight(first, zone), _midnight(last, zone)


def previous_start(period: Period, start: datetime, zone: str) -> datetime:
    """Where the period of the same kind just before `start` begins (it ends at `start`)."""
    first = start.astimezone(zone_of(zone)).date()
    if period is Period.QUARTER:
        month = first.month - 3
        earlier = first.replace(year=first.year - 1, month=month + 12) if month < 1 else None
        return _midnight(earlier or first.replace(month=month), zone)
    return _midnight(first - timedelta(days=_DAYS[period]), zone)


def _quarter_after(first: date) -> date:
    month = first.month + 3
    if month > 12:
        return first.replace(year=first.year + 1, month=month - 12)
    return first.replace(month=month)


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone_of(zone)).astimezone(UTC)


# ---------------------------------------------------------------------------- figures


def decided_at(calendar: BusinessCalendar, state: ClockState, now: datetime) -> datetime | None:
    """When a clock's outcome was settled, as of `now`: the breach instant for a breached
    clock, the stop for a met one, None while still open within target (or cancelled)."""
    reached = stage(calendar, state, now)
    if reached is SlaStage.BREACHED:
        return due_at(calendar, state)
    if reached is SlaStage.ACHIEVED:
        return state.stopped_at
    return None


class _Group:
    """A group's tallies for this period and the previous one, per kind."""

    def __init__(self) -> None:
        self.current = {kind.value: Tally() for kind in KINDS}
        self.previous = {kind.value: Tally() for kind in KINDS}

    def line(self, label: str, target: float) -> ComplianceLine:
        return ComplianceLine(
            label=label,
            response=self._compliance(SlaKind.RESPONSE, target),
            resolution=self._compliance(SlaKind.RESOLUTION, target),
        )

    def _compliance(self, kind: SlaKind, target: float) -> Compliance:
        now = self.current[kind.value].figures(kind)
        before = self.previous[kind.value].figures(kind).compliance_percent
        return Compliance(
            kind=kind.value,
            met=now.met,
            breached=now.breached,
            percent=now.compliance_percent,
            previous_percent=before,
            target_percent=target,
            trend=trend(now.compliance_percent, before),
        )


def trend(current: float | None, previous: float | None) -> Trend:
    if current is None or previous is None:
        return Trend.UNKNOWN
    if current > previous:
        return Trend.UP
    return Trend.DOWN if current < previous else Trend.SAME


def _percent(met: int, breached: int) -> float | None:
    decided = met + breached
    return round(100 * met / decided, 1) if decided else None


def sla_dashboard(
    session: Session,
    now: datetime,
    period: Period,
    zone: str = "UTC",
    target_percent: float = DEFAULT_TARGET_PERCENT,
) -> SlaDashboard:
    """Everything the dashboard shows, read in one transaction (one snapshot on PostgreSQL
    when the session has none open yet). Reads only."""
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    start, end = period_bounds(period, now, zone)
    before = previous_start(period, start, zone)
    policies = load_policies(session)
    services = {s.id: s.name for s in session.exec(select(Service)).all()}
    live: ColumnElement[bool] = col(SlaClockRow.stage) != SlaStage.CANCELLED.value
    rows = session.exec(
        select(SlaClockRow, Incident.service_id)
        .join(Incident, col(Incident.id) == col(SlaClockRow.incident_id))
        .where(
            live,
            col(SlaClockRow.started_at) < end,
            or_(col(SlaClockRow.stopped_at).is_(None), col(SlaClockRow.stopped_at) >= before),
        )
        .order_by(col(SlaClockRow.id))
    ).all()

    tz = zone_of(zone)
    overall, by_priority, by_service = _Group(), defaultdict(_Group), defaultdict(_Group)
    days: dict[date, list[int]] = {}
    counts = defaultdict(int)
    for row, service_id in rows:
        if row.kind not in overall.current:
            continue  # a kind this dashboard does not know
        policy, calendar = policies[row.policy_id]
        state = clock_state(row)
        if state.stopped_at is None and state.started_at <= now:
            counts[_now_bucket(calendar, state, now)] += 1
        decided = decided_at(calendar, state, now)
        if decided is None or not before <= decided < end:
            continue
        which = "current" if decided >= start else "previous"
        service = services.get(service_id, NO_SERVICE) if service_id else NO_SERVICE
        for group in (overall, by_priority[policy.priority], by_service[service]):
            getattr(group, which)[row.kind].add(calendar, state, now)
        if which == "current":
            tally = days.setdefault(decided.astimezone(tz).date(), [0, 0])
            tally[0 if stage(calendar, state, now) is SlaStage.ACHIEVED else 1] += 1

    last_day = min(end - timedelta(seconds=1), now).astimezone(tz).date()
    first_day = start.astimezone(tz).date()
    daily = [
        DayCompliance(day=d, met=m, breached=b, percent=_percent(m, b))
        for d in (first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1))
        for m, b in [days.get(d, [0, 0])]
    ]
    return SlaDashboard(
        generated_at=now,
        period=period,
        zone=zone,
        start=start,
        end=end,
        previous_start=before,
        target_percent=target_percent,
        overall=overall.line("overall", target_percent),
        priorities=[by_priority[p].line(f"P{p}", target_percent) for p in sorted(by_priority)],
        services=[by_service[s].line(s, target_percent) for s in sorted(by_service)],
        now=ClockCounts(**counts),
        at_risk=at_risk_clocks(session, now, policies, [live])[:AT_RISK_LIMIT],
        daily=daily,
    )


def _now_bucket(calendar: BusinessCalendar, state: ClockState, now: datetime) -> str:
    reached = stage(calendar, state, now)
    if reached is SlaStage.BREACHED:
        return "breached"
    if reached is SlaStage.PAUSED:
        return "paused"
    return "warning" if percent_used(calendar, state, now) >= AT_RISK_PERCENT else "in_progress"
