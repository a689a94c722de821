"""An opened database: the engine, migrated to head, and its session factories."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from itsm_tui.store.engine import (
    SQLITE_BEGIN_OPTION,
    describe_url,
    make_engine,
    normalise_url,
    session_factory,
)
from itsm_tui.store.migrate import upgrade_to_head


@dataclass
class Database:
    url: str
    engine: Engine
    _sessions: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sessions = session_factory(self.engine)

    @property
    def label(self) -> str:
        return describe_url(self.url)

    def session(self) -> Session:
        """A session for use cases; reads in it never hold SQLite's write lock, only the
        service transactions that write do (see `store.engine.begin_write`)."""
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open `url`, creating or upgrading the schema first unless told not to."""
    url = normalise_url(url)
    engine = make_engine(url)
    if migrate:
        upgrade_to_head(engine)
        ensure_statistics(engine)
    return Database(url=url, engine=engine)


# Rows sampled per index by ANALYZE: enough for the planner, fast on a million incidents.
ANALYSIS_LIMIT = 1000


def ensure_statistics(engine: Engine) -> None:
    """Give SQLite's planner statistics once the desk has data.

    Without them SQLite reads the open queue through the state index and sorts every open
    incident per page (165 ms at a million incidents) instead of walking the queue index in
    order (under 1 ms). Postgres keeps its own statistics (autovacuum).
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        _analyse_once(engine)
    except OperationalError as error:
        if "locked" not in str(error.orig).lower():
            raise
        # Other clients kept writing past the busy timeout; statistics are an optimisation,
        # so this open goes on without them and a later one gathers them.


def _analyse_once(engine: Engine) -> None:
    with engine.connect() as connection:  # a plain read: most opens stop here
        known = connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).scalar()
        if known:
            analysed = connection.exec_driver_sql(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'incidents'"
            ).scalar()
            if analysed:
                return
        if not connection.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM incidents)").scalar():
            return  # nothing to measure yet; the first open with incidents does it
    # IMMEDIATE: a deferred transaction that writes (ANALYZE) fails at once, whatever the
    # busy timeout, when another client committed since it began.
    with engine.connect().execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}) as connection:
        connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
