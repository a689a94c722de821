"""Per-user inbox entries: SLA warnings and breaches escalated to someone, and mentions
(`@username` in a note)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from itsm_tui.services.actors import reload_actor
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
            id=n.id,
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
        actor = reload_actor(session, actor)  # a deactivated user writes nothing, even here
        unread = session.exec(
            select(Notification).where(
                Notification.user_id == actor.id, col(Notification.read_at).is_(None)
            )
        ).all()
        for notification in unread:
            notification.read_at = now
            session.add(notification)
    return len(unread)


def unread_count(session: Session, actor: User) -> int:
    return session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == actor.id, col(Notification.read_at).is_(None))
    ).one()


def mark_read(session: Session, actor: User, now: datetime, ids: list[int]) -> int:
    """Mark some of the actor's own entries read (others' ids are ignored, not an error)."""
    with transaction(session):
        actor = reload_actor(session, actor)
        rows = session.exec(
            select(Notification).where(
                Notification.user_id == actor.id,
                col(Notification.id).in_(ids),
                col(Notification.read_at).is_(None),
            )
        ).all()
        for notification in rows:
            notification.read_at = now
            session.add(notification)
    return len(rows)


# `@name` not preceded by a word character (so mail addresses do not mention anyone).
MENTION = re.compile(r"(?<![\w@.])@([a-z_][a-z0-9_.-]{0,63})", re.IGNORECASE)


def notify_mentions(
    session: Session, author: User, incident: Incident, body: str, now: datetime
) -> list[str]:
    """Inside the note's transaction: each active user named `@user` in it, other than the
    author, gets an inbox entry. Returns who was notified."""
    names = {match.rstrip(".-").lower() for match in MENTION.findall(body)}
    if not names:
        return []
    users = session.exec(
        select(User).where(col(User.username).in_(sorted(names)), col(User.active).is_(True))
    ).all()
    excerpt = " ".join(body.split())
    excerpt = excerpt if len(excerpt) <= 120 else excerpt[:119] + "…"
    notified = []
    for user in users:
        if user.id == author.id:
            continue
        session.add(
            Notification(
                user_id=user.id,
                incident_id=incident.id,
                kind="mention",
                body=f"{incident.number}: {author.username} mentioned you: {excerpt}",
                created_at=now,
            )
        )
        notified.append(user.username)
    return sorted(notified)
