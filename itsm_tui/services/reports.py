"""SLA reports: how the desk did against its targets over a period, and what is at risk now.

`sla_report` covers the incidents OPENED in [start, end) (optionally one service and/or one
priority) and, per policy and overall, for the response and resolution clocks separately:

- count: live clocks (cancelled clocks, e.g. left behind by a priority change, never count);
- met / breached / in progress: the clock's stage at `now` (`domain.sla.stage`), so a running
  clock past its due time counts as breached even before the evaluator recorded it; a clock
  stopped late is breached, stopped in time is met; running or paused and not yet due is in
  progress;
- compliance percent: met / (met + breached) * 100, None while no clock has finished;
- time to respond (MTTA, response clocks) and to resolve (MTTR, resolution clocks) over the
  clocks that stopped: mean and 90th percentile (nearest rank), in business seconds (elapsed
  on the policy's calendar minus the time paused: exactly what counted against the target)
  and wall seconds (stopped_at - started_at).

`at_risk` lists the running clocks (not paused, stopped or cancelled) that have used at least
75% of their target, breached ones included, soonest due first. It is a picture of now: it
honours the service and priority filters but not the period, so an old incident still open
and overdue is not hidden by the default 30-day window.

The renderers turn a report into aligned plain text, CSV (raw seconds, for spreadsheets) or
Markdown; JSON is `report.model_dump(mode="json")`. User text (titles, policy and service
names) goes through `display.printable`, and in Markdown `\\` and `|` are escaped too, so a
title can neither drive the terminal nor break the table.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from itsm_tui.display import printable
from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.enums import Priority
from itsm_tui.domain.sla import ClockState, SlaKind, SlaStage, elapsed_seconds, percent_used, stage
from itsm_tui.services.directory import service_by_name
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.records import Record
from itsm_tui.services.sla_summary import clock_state
from itsm_tui.services.slas import calendar_of
from itsm_tui.services.validation import Input, Name, in_utc_range
from itsm_tui.store.models import BusinessCalendarRow, Incident, SlaClockRow, SlaPolicyRow

DEFAULT_PERIOD = timedelta(days=30)
AT_RISK_PERCENT = 75
PERCENTILE = 90
OVERALL = "overall"
KINDS = (SlaKind.RESPONSE, SlaKind.RESOLUTION)

# ---------------------------------------------------------------------------- input


def _as_utc(value: datetime | None) -> datetime | None:
    """A bare date or date-time (as typed on the command line) is read as UTC."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return in_utc_range(value).astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_as_utc)]


class SlaReportQuery(Input):
    """What to report on. Without `end` the period ends now; without `start` it begins 30
    days before its end. Times without a zone are UTC."""

    start: Instant | None = None
    end: Instant | None = None
    service: Name | None = None
    priority: Priority | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("the period's start must be before its end")
        return self

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        """[start, end) with the defaults filled in for `now`."""
        end = self.end or now
        if self.start is None and end - datetime.min.replace(tzinfo=UTC) < DEFAULT_PERIOD:
            raise ValidationFailed(f"the period's end ({end.isoformat()}) is out of range")
        start = self.start or end - DEFAULT_PERIOD
        if start >= end:
            raise ValidationFailed(
                f"the period's start ({start.isoformat()}) must be before its end "
                f"({end.isoformat()})"
            )
        return start, end


# ---------------------------------------------------------------------------- records


class SlaKindFigures(Record):
    """One kind of clock (response or resolution) over a set of incidents. The four
    `*_seconds` figures are the time to respond (response) or to resolve (resolution), over
    the `timed` clocks that stopped."""

    kind: str
    count: int = 0
    met: int = 0
    breached: int = 0
    in_progress: int = 0
    compliance_percent: float | None = None
    timed: int = 0
    mean_business_seconds: float | None = None
    p90_business_seconds: int | None = None
    mean_wall_seconds: float | None = None
    p90_wall_seconds: int | None = None


class SlaPolicyFigures(Record):
    """A policy's figures; the overall line has `policy` "overall" and no priority."""

    policy: str
    priority: int | None
    response: SlaKindFigures
    resolution: SlaKindFigures

    def kinds(self) -> tuple[SlaKindFigures, SlaKindFigures]:
        return self.response, self.resolution


class AtRiskClock(Record):
    number: str
    title: str
    priority: int
    kind: str
    policy: str
    stage: str
    due_at: datetime
    percent_used: float


class SlaReport(Record):
    generated_at: datetime
    start: datetime
    end: datetime
    service: str | None
    priority: int | None
    policies: list[SlaPolicyFigures] = Field(default_factory=list)
    overall: SlaPolicyFigures
    at_risk: list[AtRiskClock] = Field(default_factory=list)


# ---------------------------------------------------------------------------- the report


@dataclass
class Tally:
    """Figures being gathered for one kind of clock."""

    count: int = 0
    met: int = 0
    breached: int = 0
    in_progress: int = 0
    business: list[int] = field(default_factory=list)
    wall: list[int] = field(default_factory=list)

    def add(self, calendar: BusinessCalendar, state: ClockState, now: datetime) -> None:
        self.count += 1
        reached = stage(calendar, state, now)
        if reached is SlaStage.BREACHED:
            self.breached += 1
        elif reached is SlaStage.ACHIEVED:
            self.met += 1
        else:
            self.in_progress += 1
        if state.stopped_at is not None:
            self.business.append(elapsed_seconds(calendar, state, now))
            self.wall.append(_whole_seconds(state.stopped_at - state.started_at))

    def figures(self, kind: SlaKind) -> SlaKindFigures:
        finished = self.met + self.breached
        return SlaKindFigures(
            kind=kind.value,
            count=self.count,
            met=self.met,
            breached=self.breached,
            in_progress=self.in_progress,
            compliance_percent=round(100 * self.met / finished, 1) if finished else None,
            timed=len(self.business),
            mean_business_seconds=_mean(self.business),
            p90_business_seconds=nearest_rank(self.business, PERCENTILE),
            mean_wall_seconds=_mean(self.wall),
            p90_wall_seconds=nearest_rank(self.wall, PERCENTILE),
        )


def nearest_rank(values: Sequence[int], percentile: int) -> int | None:
    """The nearest-rank percentile: the smallest value with at least `percentile`% of the
    values at or below it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile * len(ordered) / 100))
    return ordered[rank - 1]


def _mean(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _whole_seconds(delta: timedelta) -> int:
    return delta.days * 86_400 + delta.seconds


def sla_report(session: Session, now: datetime, query: SlaReportQuery) -> SlaReport:
    """SLA figures for the incidents opened in the query's period, and the clocks at risk
    at `now`. Reads only."""
    start, end = query.period(now)
    service = service_by_name(session, query.service) if query.service else None
    policies = load_policies(session)
    conditions: list[ColumnElement[bool]] = [col(SlaClockRow.stage) != SlaStage.CANCELLED.value]
    if service is not None:
        conditions.append(col(Incident.service_id) == service.id)
    if query.priority is not None:
        conditions.append(col(Incident.priority) == int(query.priority))

    rows = session.exec(
        select(SlaClockRow)
        .join(Incident, col(Incident.id) == col(SlaClockRow.incident_id))
        .where(*conditions, col(Incident.opened_at) >= start, col(Incident.opened_at) < end)
        .order_by(col(SlaClockRow.id))
    ).all()
    overall = {kind.value: Tally() for kind in KINDS}
    per_policy: dict[int, dict[str, Tally]] = {}
    for row in rows:
        if row.kind not in overall:
            continue  # a kind this report does not know
        calendar = policies[row.policy_id][1]
        state = clock_state(row)
        tallies = per_policy.setdefault(row.policy_id, {kind.value: Tally() for kind in KINDS})
        tallies[row.kind].add(calendar, state, now)
        overall[row.kind].add(calendar, state, now)

    ordered = sorted(per_policy, key=lambda pid: (policies[pid][0].priority, policies[pid][0].name))
    return SlaReport(
        generated_at=now,
        start=start,
        end=end,
        service=service.name if service else None,
        priority=int(query.priority) if query.priority is not None else None,
        policies=[
            _line(policies[pid][0].name, policies[pid][0].priority, per_policy[pid])
            for pid in ordered
        ],
        overall=_line(OVERALL, None, overall),
        at_risk=at_risk_clocks(session, now, policies, conditions),
    )


Policies = dict[int, tuple[SlaPolicyRow, BusinessCalendar]]


def load_policies(session: Session) -> Policies:
    """Every policy (inactive ones too: their clocks still count) with its calendar."""
    rows = session.exec(
        select(SlaPolicyRow, BusinessCalendarRow).join(
            BusinessCalendarRow, col(BusinessCalendarRow.id) == col(SlaPolicyRow.calendar_id)
        )
    ).all()
    return {policy.id: (policy, calendar_of(calendar)) for policy, calendar in rows if policy.id}


def _line(name: str, priority: int | None, tallies: dict[str, Tally]) -> SlaPolicyFigures:
    return SlaPolicyFigures(
        policy=name,
        priority=priority,
        response=tallies[SlaKind.RESPONSE.value].figures(SlaKind.RESPONSE),
        resolution=tallies[SlaKind.RESOLUTION.value].figures(SlaKind.RESOLUTION),
    )


def at_risk_clocks(
    session: Session,
    now: datetime,
    policies: Policies,
    conditions: Sequence[ColumnElement[bool]],
) -> list[AtRiskClock]:
    rows = session.exec(
        select(SlaClockRow, Incident)
        .join(Incident, col(Incident.id) == col(SlaClockRow.incident_id))
        .where(
            *conditions,
            col(SlaClockRow.stopped_at).is_(None),
            col(SlaClockRow.paused_since).is_(None),
            col(SlaClockRow.started_at) <= now,
        )
    ).all()
    found = []
    for row, incident in rows:
        state = clock_state(row)
        # Business time never outruns wall time: a clock whose wall time since its start,
        # less the business time it spent paused, is under the threshold cannot have reached
        # it. Spares the calendar arithmetic for the bulk of a large desk's clocks.
        wall = _whole_seconds(now - state.started_at) - state.paused_seconds
        if 100 * wall < AT_RISK_PERCENT * state.target_seconds:
            continue
        policy, calendar = policies[row.policy_id]
        used = percent_used(calendar, state, now)
        if used < AT_RISK_PERCENT:
            continue
        found.append(
            AtRiskClock(
                number=incident.number,
                title=incident.title,
                priority=incident.priority,
                kind=row.kind,
                policy=policy.name,
                stage=stage(calendar, state, now).value,
                due_at=row.due_at,
                percent_used=round(used, 1),
            )
        )
    found.sort(key=lambda c: (c.due_at, -c.percent_used, c.number, c.kind))
    return found


# ---------------------------------------------------------------------------- rendering

FIGURE_HEADERS = (
    "POLICY",
    "KIND",
    "COUNT",
    "MET",
    "BREACHED",
    "IN PROGRESS",
    "COMPLIANCE",
    "MEAN (BUSINESS)",
    "P90 (BUSINESS)",
    "MEAN (WALL)",
    "P90 (WALL)",
)
RISK_HEADERS = ("NUMBER", "PRI", "KIND", "POLICY", "STAGE", "DUE", "USED", "TITLE")
CSV_HEADERS = (
    "scope",
    "policy",
    "priority",
    "kind",
    "count",
    "met",
    "breached",
    "in_progress",
    "compliance_percent",
    "timed",
    "mean_business_seconds",
    "p90_business_seconds",
    "mean_wall_seconds",
    "p90_wall_seconds",
)
MISSING = "-"


def duration(seconds: float | None) -> str:
    """Whole seconds as `H:MM:SS`, with days in front when there are any (`2d 03:00:00`)."""
    if seconds is None:
        return MISSING
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _percent(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}%"


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _scope(report: SlaReport) -> str:
    parts = [f"{_when(report.start)} to {_when(report.end)}"]
    if report.service is not None:
        parts.append(f"service {printable(report.service)}")
    if report.priority is not None:
        parts.append(f"priority P{report.priority}")
    return ", ".join(parts)


def _lines(report: SlaReport) -> Iterable[SlaPolicyFigures]:
    yield from report.policies
    yield report.overall


def _figure_rows(report: SlaReport) -> list[list[str]]:
    return [
        [
            printable(line.policy),
            figures.kind,
            str(figures.count),
            str(figures.met),
            str(figures.breached),
            str(figures.in_progress),
            _percent(figures.compliance_percent),
            duration(figures.mean_business_seconds),
            duration(figures.p90_business_seconds),
            duration(figures.mean_wall_seconds),
            duration(figures.p90_wall_seconds),
        ]
        for line in _lines(report)
        for figures in line.kinds()
    ]


def _risk_rows(report: SlaReport) -> list[list[str]]:
    return [
        [
            clock.number,
            f"P{clock.priority}",
            clock.kind,
            printable(clock.policy),
            clock.stage,
            _when(clock.due_at),
            f"{clock.percent_used:.1f}%",
            printable(clock.title),
        ]
        for clock in report.at_risk
    ]


def _aligned(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(headers), *(fmt(row) for row in rows)])


def render_table(report: SlaReport) -> str:
    """Plain text with aligned columns: the figures, then the clocks at risk."""
    parts = [
        f"SLA report: incidents opened {_scope(report)}",
        "",
        _aligned(FIGURE_HEADERS, _figure_rows(report), numeric=set(range(2, 11))),
        "",
        f"At risk at {_when(report.generated_at)} (running, >= {AT_RISK_PERCENT}% used):",
    ]
    if report.at_risk:
        parts.append(_aligned(RISK_HEADERS, _risk_rows(report), numeric={6}))
    else:
        parts.append("none")
    return "\n".join(parts) + "\n"


def render_csv(report: SlaReport) -> str:
    """One row per policy and kind, then the overall rows; durations in raw seconds."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    for line in _lines(report):
        for figures in line.kinds():
            writer.writerow(
                [
                    OVERALL if line is report.overall else "policy",
                    "" if line is report.overall else line.policy,
                    "" if line.priority is None else line.priority,
                    figures.kind,
                    figures.count,
                    figures.met,
                    figures.breached,
                    figures.in_progress,
                    _blank(figures.compliance_percent),
                    figures.timed,
                    _blank(figures.mean_business_seconds),
                    _blank(figures.p90_business_seconds),
                    _blank(figures.mean_wall_seconds),
                    _blank(figures.p90_wall_seconds),
                ]
            )
    return out.getvalue()


def _blank(value: float | None) -> str | float:
    return "" if value is None else value


def markdown_cell(text: str) -> str:
    """A table cell: controls made visible, and `\\` and `|` escaped so the row keeps its
    columns."""
    return printable(text).replace("\\", "\\\\").replace("|", "\\|")


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render_markdown(report: SlaReport) -> str:
    # The rows are already `printable`; escaping the result again only adds the Markdown
    # escapes (printable output has no control characters left to escape).
    figure_rows = [[markdown_cell(c) for c in row] for row in _figure_rows(report)]
    risk_rows = [[markdown_cell(c) for c in row] for row in _risk_rows(report)]
    lines = [
        "# SLA report",
        "",
        f"Incidents opened {markdown_cell(_scope(report))}.",
        "",
        *_markdown_table(FIGURE_HEADERS, figure_rows),
        "",
        f"## At risk at {_when(report.generated_at)}",
        "",
    ]
    if risk_rows:
        lines += _markdown_table(RISK_HEADERS, risk_rows)
    else:
        lines.append(f"No running clock has used {AT_RISK_PERCENT}% of its target.")
    return "\n".join(lines) + "\n"
