"""An opened database: the engine, migrated to head, and its session factories."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from itsm_tui.store.engine import describe_url, make_engine, normalise_url, session_factory
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
    return Database(url=url, engine=engine)
