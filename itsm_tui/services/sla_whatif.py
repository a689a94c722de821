"""SLA what-if: what a policy's compliance would have been with another target.

Service level management adjusts targets from evidence, so before an admin changes a policy
they can see the effect on recorded history. Nothing is replayed from the audit: a clock's
business time elapsed (`domain.sla.elapsed_seconds`: business seconds from its start to its
stop, pause or `now`, less the business time it spent paused) does not depend on its target,
so only the comparison with the target changes.

The definition, clock by clock, matches `services.reports.sla_report` exactly:

- the clocks: the policy's live (not cancelled) clocks of the incidents OPENED in the
  period [start, end) (default: the 30 days up to `now`, as the report), on the policy's
  current calendar;
- current: each clock's stage at `now` with the target stored on the clock (what the report
  says today, so a closed incident keeps the target it was measured against);
- proposed: the same with every clock's target set to the proposed one (the policy's current
  target for a kind not being changed), i.e. what the report would say had the policy always
  had that target: breached when elapsed >= target, met when stopped before it, else in
  progress;
- compliance percent: met / (met + breached) * 100 rounded to 0.1, None with none finished.

Applying the proposal is `sla_admin.update_policy`; it re-targets the clocks of incidents not
yet closed or cancelled (closed ones keep what they had), so the report after an update equals
the "proposed" figures once closed incidents' clocks are re-synced too (`slas.sync_clocks`):
that is how the tests check the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import model_validator
from sqlmodel import Session, col, select

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.sla import ClockState, SlaKind, SlaStage, stage
from itsm_tui.services.errors import NotFound
from itsm_tui.services.records import Record
from itsm_tui.services.reports import KINDS, Instant, SlaReportQuery
from itsm_tui.services.sla_admin import PolicyChanges, Target
from itsm_tui.services.sla_summary import clock_state
from itsm_tui.services.slas import calendar_of
from itsm_tui.services.validation import Input, Name
from itsm_tui.store.models import BusinessCalendarRow, Incident, SlaClockRow, SlaPolicyRow


class WhatIfQuery(Input):
    """A policy, a proposed response and/or resolution target (business seconds) and the
    period of history to test it on (as `SlaReportQuery`: default the 30 days up to now)."""

    policy: Name
    response_seconds: Target | None = None
    resolution_seconds: Target | None = None
    start: Instant | None = None
    end: Instant | None = None

    @model_validator(mode="after")
    def _something_proposed(self) -> WhatIfQuery:
        if self.response_seconds is None and self.resolution_seconds is None:
            raise ValueError("propose a response target, a resolution target or both")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("the period's start must be before its end")
        return self

    def changes(self) -> PolicyChanges:
        """The policy update that applies this proposal."""
        return PolicyChanges(
            response_seconds=self.response_seconds, resolution_seconds=self.resolution_seconds
        )


class Compliance(Record):
    count: int = 0
    met: int = 0
    breached: int = 0
    in_progress: int = 0
    compliance_percent: float | None = None


class KindWhatIf(Record):
    """One kind of clock: the policy's target now and the proposed one, and the figures."""

    kind: str
    target_seconds: int
    proposed_seconds: int
    current: Compliance
    proposed: Compliance

    @property
    def changed(self) -> bool:
        return self.target_seconds != self.proposed_seconds


class SlaWhatIf(Record):
    policy: str
    priority: int
    generated_at: datetime
    start: datetime
    end: datetime
    response: KindWhatIf
    resolution: KindWhatIf

    def kinds(self) -> tuple[KindWhatIf, KindWhatIf]:
        return self.response, self.resolution


@dataclass
class _Count:
    count: int = 0
    met: int = 0
    breached: int = 0
    in_progress: int = 0

    def add(self, reached: SlaStage) -> None:
        self.count += 1
        if reached is SlaStage.BREACHED:
            self.breached += 1
        elif reached is SlaStage.ACHIEVED:
            self.met += 1
        else:
            self.in_progress += 1

    def figures(self) -> Compliance:
        finished = self.met + self.breached
        return Compliance(
            count=self.count,
            met=self.met,
            breached=self.breached,
            in_progress=self.in_progress,
            compliance_percent=round(100 * self.met / finished, 1) if finished else None,
        )


def sla_whatif(session: Session, now: datetime, query: WhatIfQuery) -> SlaWhatIf:
    """Current and proposed compliance of the query's policy over its period. Reads only."""
    start, end = SlaReportQuery(start=query.start, end=query.end).period(now)
    policy = session.exec(select(SlaPolicyRow).where(SlaPolicyRow.name == query.policy)).first()
    if policy is None or policy.id is None:
        raise NotFound(f"no SLA policy '{query.policy}'; list policies with: itsm sla policy list")
    calendar_row = session.get(BusinessCalendarRow, policy.calendar_id)
    assert calendar_row is not None
    calendar = calendar_of(calendar_row)
    targets = {
        SlaKind.RESPONSE.value: (policy.response_seconds, query.response_seconds),
        SlaKind.RESOLUTION.value: (policy.resolution_seconds, query.resolution_seconds),
    }
    proposed_target = {kind: given or now_ for kind, (now_, given) in targets.items()}
    rows = session.exec(
        select(SlaClockRow)
        .join(Incident, col(Incident.id) == col(SlaClockRow.incident_id))
        .where(
            SlaClockRow.policy_id == policy.id,
            col(SlaClockRow.stage) != SlaStage.CANCELLED.value,
            col(Incident.opened_at) >= start,
            col(Incident.opened_at) < end,
        )
        .order_by(col(SlaClockRow.id))
    ).all()
    current = {kind.value: _Count() for kind in KINDS}
    proposed = {kind.value: _Count() for kind in KINDS}
    for row in rows:
        if row.kind not in current:
            continue  # a kind the report does not know either
        state = clock_state(row)
        current[row.kind].add(stage(calendar, state, now))
        proposed[row.kind].add(_stage_with(calendar, state, proposed_target[row.kind], now))

    def kind_line(kind: SlaKind) -> KindWhatIf:
        return KindWhatIf(
            kind=kind.value,
            target_seconds=targets[kind.value][0],
            proposed_seconds=proposed_target[kind.value],
            current=current[kind.value].figures(),
            proposed=proposed[kind.value].figures(),
        )

    return SlaWhatIf(
        policy=policy.name,
        priority=policy.priority,
        generated_at=now,
        start=start,
        end=end,
        response=kind_line(SlaKind.RESPONSE),
        resolution=kind_line(SlaKind.RESOLUTION),
    )


def _stage_with(
    calendar: BusinessCalendar, state: ClockState, target: int, now: datetime
) -> SlaStage:
    return stage(calendar, replace(state, target_seconds=target), now)
