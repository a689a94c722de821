"""Reading the change feed: clients remember the last event id they saw and ask for newer.

Writers append events inside their own transaction (services/history.py), so an event is
visible exactly when the change it announces is.
"""

from __future__ import annotations

from sqlalchemy import func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from itsm_tui.store.models import FeedEvent


def latest_event_id(session: Session) -> int:
    """Where a client that starts now should begin reading (0 on an empty feed)."""
    return session.exec(select(func.coalesce(func.max(FeedEvent.id), 0))).one()


def events_since(session: Session, after_id: int, *, limit: int = 500) -> list[FeedEvent]:
    """Events with id greater than `after_id`, oldest first, at most `limit` of them."""
    statement = (
        select(FeedEvent)
        .where(col(FeedEvent.id) > after_id)
        .order_by(col(FeedEvent.id))
        .limit(limit)
    )
    return list(session.exec(statement).all())


FEED_CHANNEL = "itsm_feed"


def supports_listen(url: str) -> bool:
    """Whether writers wake readers (PostgreSQL NOTIFY); psycopg, which the listener needs, is
    only installed with the postgres extra, so this must not import it."""
    return make_url(url).get_backend_name() == "postgresql"


def announce(session: Session) -> None:
    """Wake PostgreSQL listeners when this transaction commits (NOTIFY is transactional and
    Postgres folds repeats within one transaction into one); SQLite clients poll instead."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": FEED_CHANNEL})
