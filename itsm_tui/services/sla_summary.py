"""The queue's per-incident SLA summary: what the queue sorts, filters and counts down by.

Kept on the incident row so one indexed scan orders a million incidents by urgency, and the
screen ticks countdowns from stored instants without asking the database again. Written with
a plain UPDATE so a clock moving never bumps the incident's version (that would turn a
colleague's concurrent edit into a false conflict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from itsm_tui.domain.calendar import BusinessCalendar
from itsm_tui.domain.sla import ClockState, SlaStage, due_at, elapsed_seconds, threshold_at
from itsm_tui.store.models import NO_SLA_DUE, Incident, SlaClockRow

AT_RISK_PERCENT = 75  # the share of a target used at which a clock counts as at risk


@dataclass(frozen=True)
class SlaSummary:
    due_at: datetime = NO_SLA_DUE
    risk_at: datetime | None = None
    state: str = "none"  # running | paused | none
    left_seconds: int | None = None  # business seconds left on a paused clock
    breached: bool = False


def clock_state(row: SlaClockRow) -> ClockState:
    return ClockState(
        started_at=row.started_at,
        target_seconds=row.target_seconds,
        paused_seconds=row.paused_seconds,
        paused_since=row.paused_since,
        stopped_at=row.stopped_at,
        cancelled=row.stage == SlaStage.CANCELLED.value,
    )


def summarise(
    clocks: Sequence[SlaClockRow], calendar: BusinessCalendar | None, now: datetime
) -> SlaSummary:
    """The most urgent running clock decides; with none running, a paused one shows paused."""
    live = [c for c in clocks if c.stage != SlaStage.CANCELLED.value]
    breached = any(c.stage == SlaStage.BREACHED.value for c in live)
    if calendar is None or not live:
        return SlaSummary(breached=breached)
    running = [c for c in live if c.stopped_at is None and c.paused_since is None]
    if running:
        urgent = min(running, key=lambda c: c.due_at)
        state = clock_state(urgent)
        return SlaSummary(
            due_at=due_at(calendar, state),
            risk_at=threshold_at(calendar, state, AT_RISK_PERCENT),
            state="running",
            breached=breached,
        )
    paused = [c for c in live if c.stopped_at is None]
    if paused:
        left = min(
            c.target_seconds - elapsed_seconds(calendar, clock_state(c), now) for c in paused
        )
        return SlaSummary(state="paused", left_seconds=left, breached=breached)
    return SlaSummary(breached=breached)


_INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
# Built once, and on the table rather than the mapped class: an ORM-enabled UPDATE set up its
# bulk-update machinery on every write (about a tenth of a demo load). The session's copy of
# the incident is brought in line by hand below, as synchronize_session did.
_STORE_SUMMARY = (
    update(_INCIDENTS)
    .where(_INCIDENTS.c.id == bindparam("incident_id"))
    .values(
        sla_due_at=bindparam("new_due_at"),
        sla_risk_at=bindparam("new_risk_at"),
        sla_state=bindparam("new_state"),
        sla_left_seconds=bindparam("new_left_seconds"),
        sla_breached=bindparam("new_breached"),
    )
)


def store_summary(session: Session, incident_id: int, summary: SlaSummary) -> None:
    session.execute(
        _STORE_SUMMARY,
        {
            "incident_id": incident_id,
            "new_due_at": summary.due_at,
            "new_risk_at": summary.risk_at,
            "new_state": summary.state,
            "new_left_seconds": summary.left_seconds,
            "new_breached": summary.breached,
        },
    )
    held = session.identity_map.get(session.identity_key(Incident, incident_id))
    if held is not None:
        # Committed values, not attribute sets: the incident must not turn dirty, or its next
        # flush would bump the version (a clock moving is not an edit).
        set_committed_value(held, "sla_due_at", summary.due_at)
        set_committed_value(held, "sla_risk_at", summary.risk_at)
        set_committed_value(held, "sla_state", summary.state)
        set_committed_value(held, "sla_left_seconds", summary.left_seconds)
        set_committed_value(held, "sla_breached", summary.breached)


def mark_breached(session: Session, incident_id: int) -> None:
    """The evaluator recorded a breach: the queue's breached filter must find it."""
    session.execute(
        update(Incident)
        .where(col(Incident.id) == incident_id)
        .values(sla_breached=True)
        .execution_options(synchronize_session="fetch")
    )
