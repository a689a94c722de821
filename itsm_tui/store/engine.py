"""Engines and sessions for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_BEGIN_OPTION = "sqlite_begin"  # an execution option our "begin" listener reads


def normalise_url(url: str) -> str:
    """Let people type `postgresql://`; we only ship the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the pragmas and pool settings each backend needs."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # No directory is made here: only opens allowed to create a database do that
        # (`store.database.open_database(create=True)`), so a typo creates nothing.
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """WAL for readers-during-writes, foreign keys on, a busy timeout, and explicit BEGINs.

    pysqlite starts every transaction as DEFERRED; a deferred transaction that reads and then
    writes can fail at once with "database is locked" when another writer got in between,
    whatever the busy timeout. So write use cases begin IMMEDIATE (`begin_write`), taking the
    write lock up front and queueing on the busy timeout, while plain reads stay DEFERRED and
    never hold the lock (SQLAlchemy's documented pysqlite recipe).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's built-in lower() folds ASCII only; searches must find "ÜBERHITZT" too.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions keep loaded objects usable after commit: services return them to callers."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Start the session's transaction as a write transaction.

    On SQLite this is `BEGIN IMMEDIATE`; other engines ignore the option (PostgreSQL's row
    locks and the version column do the work there). Call with no transaction open.
    """
    session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def describe_url(url: str) -> str:
    """A short, password-free label for headers and messages."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:{Path(parsed.database or ':memory:').name}"
    return f"{parsed.get_backend_name()}://{parsed.host or 'localhost'}/{parsed.database or ''}"
