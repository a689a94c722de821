"""What the NOC wall shows, read in one go: open incidents by priority, breached and at-risk
incidents, SLA compliance over the last week, today's changes in progress and open majors.

The wall is read-only and polls this every few seconds, so every part is a bounded read: the
counts use the queue's indexed scan, lists stop at `LIST_LIMIT`, and the compliance figure is
the `sla_report` of the last seven days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from itsm_tui.domain.conflicts import Window
from itsm_tui.domain.enums import ChangeState
from itsm_tui.services import changes, queue
from itsm_tui.services.majors import OpenMajors, open_majors
from itsm_tui.services.sla_dashboard import Period, SlaDashboard, sla_dashboard
from itsm_tui.store.models import Incident, User

LIST_LIMIT = 12  # rows a list can show on the largest wall (300x80 in big type is ~12)
COMPLIANCE_PERIOD = Period.WEEK
PRIORITIES = (1, 2, 3, 4, 5)
CHANGE_STATES = (ChangeState.SCHEDULED, ChangeState.IMPLEMENT)


@dataclass(frozen=True)
class WallChange:
    number: str
    title: str
    state: str
    planned_start: datetime | None
    planned_end: datetime | None


@dataclass(frozen=True)
class WallFigures:
    read_at: datetime
    open_by_priority: dict[int, int]  # every priority 1..5, zeros included
    open_total: int
    breached: int
    at_risk: int
    breached_rows: tuple[queue.QueueRow, ...]
    at_risk_rows: tuple[queue.QueueRow, ...]
    sla: SlaDashboard  # compliance over COMPLIANCE_PERIOD, overall and per priority
    changes_today: tuple[WallChange, ...]
    majors: OpenMajors


def today_window(now: datetime, timezone: str) -> Window:
    """Today in the desk's home zone, as a UTC window (a wall reads "today" as people do)."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return Window(start=start, end=end)


def open_by_priority(session: Session) -> dict[int, int]:
    """Open incidents per priority, with zeros for priorities that have none."""
    statement = (
        select(col(Incident.priority), func.count())
        .where(col(Incident.state).in_([state.value for state in queue.OPEN_STATES]))
        .group_by(col(Incident.priority))
    )
    counts = {priority: 0 for priority in PRIORITIES}
    for priority, count in session.execute(statement).all():
        counts[int(priority)] = int(count)
    return counts


def read_wall(session: Session, actor: User, now: datetime, *, timezone: str) -> WallFigures:
    """Everything the wall's panels show, as of `now`."""
    counts = queue.count(session, actor, now, queue.QueueFilter())
    breached = queue.fetch_page(
        session, actor, now, queue.QueueFilter(breached=True), limit=LIST_LIMIT
    )
    at_risk = queue.fetch_page(
        session, actor, now, queue.QueueFilter(at_risk=True), limit=LIST_LIMIT
    )
    dashboard = sla_dashboard(session, now, COMPLIANCE_PERIOD, timezone)
    todays = changes.list_changes(session, states=CHANGE_STATES, window=today_window(now, timezone))
    by_priority = open_by_priority(session)
    return WallFigures(
        read_at=now,
        open_by_priority=by_priority,
        open_total=sum(by_priority.values()),
        breached=counts.breached,
        at_risk=counts.at_risk,
        breached_rows=tuple(breached.rows),
        at_risk_rows=tuple(at_risk.rows),
        sla=dashboard,
        changes_today=tuple(
            WallChange(
                number=change.number,
                title=change.title,
                state=change.state,
                planned_start=change.planned_start,
                planned_end=change.planned_end,
            )
            for change in todays
        ),
        majors=open_majors(session),
    )
