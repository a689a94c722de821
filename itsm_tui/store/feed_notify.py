"""PostgreSQL LISTEN for the change feed: a dedicated connection that sleeps until a writer's
commit sends NOTIFY (store/feed.py `announce`), so clients wake within milliseconds instead
of at their next poll.

It is a plain psycopg connection in autocommit mode, outside SQLAlchemy's pool: LISTEN
belongs to one session for its whole life, and a pooled connection would be handed to others.
A lost connection raises from `wait`; the next call connects again (the caller backs off).
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from itsm_tui.store.feed import FEED_CHANNEL

CONNECT_TIMEOUT_S = 5


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg wants it (no `+psycopg` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class FeedNotifications:
    def __init__(self, url: str) -> None:
        self._conninfo = libpq_url(url)
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def connect(self) -> None:
        """Open the connection and LISTEN (idempotent); raises psycopg.Error when it cannot."""
        if self._connection is not None and not self._connection.closed:
            return
        connection = psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
        connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(FEED_CHANNEL)))
        self._connection = connection

    def wait(self, timeout_s: float) -> bool:
        """Block until a notification arrives (True) or `timeout_s` passes (False).

        Notifications that arrived since the last call are returned at once, so a commit
        between the caller's last read and this call is never slept through.
        """
        self.connect()
        assert self._connection is not None
        try:
            woken = False
            for _ in self._connection.notifies(timeout=timeout_s, stop_after=1):
                woken = True  # the generator ends itself after one (and frees the connection)
            if woken:  # swallow the ones already received too: one wake-up reads them all
                for _ in self._connection.notifies(timeout=0):
                    pass
        except psycopg.Error:
            self.close()
            raise
        if self._connection.closed or self._connection.broken:
            self.close()
            raise psycopg.OperationalError("the feed connection was lost")
        return woken

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
