"""An opened database: the engine, migrated to head, and its session factories."""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
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

    @property
    def location(self) -> str:
        """Untruncated and password-free: what the desk's "Database" command shows."""
        return describe_location(self.url)

    def session(self) -> Session:
        """A session for use cases; reads in it never hold SQLite's write lock, only the
        service transactions that write do (see `store.engine.begin_write`)."""
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


class DatabaseMissing(RuntimeError):
    """The database named does not exist, and this open may not create it.

    Only `itsm init` and `itsm demo` create databases: a typo in `--db` must fail loudly
    rather than leave a new empty desk (and a directory tree) behind. `location` is the path
    or the password-free URL, for messages.
    """

    def __init__(self, location: str, *, postgres: bool = False) -> None:
        self.location = location
        self.postgres = postgres
        what = "PostgreSQL database" if postgres else "database file"
        super().__init__(f"there is no {what} {location}")


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other engines and in-memory databases."""
    parsed = make_url(normalise_url(url))
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None  # a SQLite URI: its own parameters decide (mode=ro, memory, ...)
    return Path(database).expanduser()


def database_exists(url: str) -> bool:
    """Whether a SQLite URL's file is there; other engines are checked by connecting."""
    path = sqlite_file(url)
    return path is None or path.exists()


def open_database(url: str, *, migrate: bool = True, create: bool = True) -> Database:
    """Open `url`, creating or upgrading the schema first unless told not to.

    With `create=False` a SQLite file or PostgreSQL database that is not there raises
    `DatabaseMissing` and nothing is made: no file, no directory.
    """
    url = normalise_url(url)
    path = sqlite_file(url)
    if path is not None:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
        elif not path.exists():
            raise DatabaseMissing(str(path))
    engine = make_engine(url)
    if migrate:
        try:
            upgrade_to_head(engine)
            ensure_statistics(engine)
        except OperationalError as error:
            engine.dispose()
            if _names_missing_database(error):
                raise DatabaseMissing(describe_location(url), postgres=True) from error
            raise
    return Database(url=url, engine=engine)


# The desk's records: readable by the account that runs it only. SQLite gives the -wal, -shm
# and -journal files the main file's mode, so creating that one 0600 covers all four.
DATABASE_FILE_MODE = 0o600


def _create_private(path: Path) -> None:
    """Create a new database file empty and 0600 before SQLite opens it (SQLite would create
    it with the umask, usually 0644); an existing file is left as it is."""
    # Already there (kept as it is), or an unwritable folder and the like, which SQLite's own
    # open reports as it always did.
    with suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DATABASE_FILE_MODE))


def _names_missing_database(error: OperationalError) -> bool:
    """PostgreSQL refuses the connection with 'database "x" does not exist' (no SQLSTATE
    reaches the client on a failed connection, so the text is all there is)."""
    text = str(error.orig)
    return 'database "' in text and "does not exist" in text


def describe_location(url: str) -> str:
    """The full, password-free place a URL names: the file's path, or the server URL."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


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
