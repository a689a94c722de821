"""Open major incidents: what the desk's broadcast banner and the NOC wall's takeover show.

A major incident is broadcast for as long as it is open (new, in progress or on hold); resolving
it (or clearing its major flag) ends the broadcast. One small read, so every connected client
can afford to repeat it whenever incidents change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from itsm_tui.services.queue import OPEN_STATES
from itsm_tui.store.models import Incident, Service

MAX_SHOWN = 20  # a banner names a few; a storm of majors is still counted in full


@dataclass(frozen=True)
class MajorIncident:
    number: str
    title: str
    priority: int
    state: str
    service: str | None
    opened_at: datetime


@dataclass(frozen=True)
class OpenMajors:
    total: int
    incidents: tuple[MajorIncident, ...]  # the oldest first, at most MAX_SHOWN


def open_majors(session: Session, *, limit: int = MAX_SHOWN) -> OpenMajors:
    """Open major incidents, the longest-running first (it has waited for a fix the longest)."""
    condition = (
        col(Incident.major).is_(True),
        col(Incident.state).in_([state.value for state in OPEN_STATES]),
    )
    rows = session.execute(
        select(
            col(Incident.number),
            col(Incident.title),
            col(Incident.priority),
            col(Incident.state),
            col(Service.name),
            col(Incident.opened_at),
        )
        .select_from(Incident)
        .outerjoin(Service, col(Service.id) == col(Incident.service_id))
        .where(*condition)
        .order_by(col(Incident.opened_at), col(Incident.id))
        .limit(limit)
    ).all()
    shown = tuple(MajorIncident(*row) for row in rows)
    if len(shown) < limit:
        return OpenMajors(total=len(shown), incidents=shown)
    total = session.execute(select(func.count()).select_from(Incident).where(*condition)).one()[0]
    return OpenMajors(total=int(total), incidents=shown)
