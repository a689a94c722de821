"""Per-user inbox entries (SLA warnings and breaches escalated to someone)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from itsm_tui.services.records import NotificationRecord
from itsm_tui.services.tx import transaction
from itsm_tui.store.models import Incident, Notification, User


def inbox(session: Session, actor: User, *, unread_only: bool = False) -> list[NotificationRecord]:
    statement = (
        select(Notification, Incident.number)
        .join(Incident, col(Incident.id) == col(Notification.incident_id), isouter=True)
        .where(Notification.user_id == actor.id)
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    )
    if unread_only:
        statement = statement.where(col(Notification.read_at).is_(None))
    return [
        NotificationRecord(
            kind=n.kind,
            incident=number,
            body=n.body,
            created_at=n.created_at,
            read=n.read_at is not None,
        )
        for n, number in session.exec(statement).all()
    ]


def mark_all_read(session: Session, actor: User, now: datetime) -> int:
    with transaction(session):
        unread = session.exec(
            select(Notification).where(
                Notification.user_id == actor.id, col(Notification.read_at).is_(None)
            )
        ).all()
        for notification in unread:
            notification.read_at = now
            session.add(notification)
    return len(unread)
