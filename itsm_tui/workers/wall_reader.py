"""The NOC wall's connection to the database, which must outlive database hiccups.

A wall runs unattended for days: a PostgreSQL restart, a killed connection or a SQLite file
moved away and back (a restore) must not end it. `WallReader.read` either returns fresh
figures or raises `WallUnavailable`; after a failure it drops the engine and its pool, so the
next attempt connects afresh.

SQLite needs one more check: an open connection keeps reading a file that was renamed or
replaced (it holds the old inode), and opening a missing path would create an empty database.
So before each read the reader makes sure the file is there and is the one it opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from itsm_tui.clock import Clock
from itsm_tui.services import directory
from itsm_tui.services.errors import PermissionDenied, ServiceError
from itsm_tui.services.wall_figures import WallFigures, read_wall
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.engine import describe_url, normalise_url


class WallUnavailable(Exception):
    """The database cannot be read right now; the wall keeps its last figures and retries."""


class WallRefused(WallUnavailable):
    """The wall's user may not read (deactivated, or gone): the wall clears what it shows and
    retries, so reactivating the user brings it back without anyone at the screen."""


class WallReader:
    def __init__(self, url: str, username: str, clock: Clock, *, timezone: str = "UTC") -> None:
        self.url = normalise_url(url)
        self.username = username
        self.clock = clock
        self.timezone = timezone
        self._database: Database | None = None
        self._identity: tuple[int, int] | None = None
        parsed = make_url(self.url)
        database = parsed.database
        self._path: Path | None = (
            Path(database).expanduser()
            if parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
            else None
        )

    @property
    def label(self) -> str:
        return describe_url(self.url)

    def read(self) -> WallFigures:
        """Fresh figures, or WallUnavailable (after dropping the connection pool)."""
        try:
            database = self._connect()
            with database.session() as session:
                actor = directory.resolve_actor(session, self.clock, self.username)
                return read_wall(session, actor, self.clock.now(), timezone=self.timezone)
        except PermissionDenied as error:
            # the wall's user was deactivated: say so and keep retrying, never crash
            raise WallRefused(str(error)) from error
        except ServiceError as error:
            raise WallUnavailable(str(error)) from error
        except (SQLAlchemyError, OSError) as error:
            self.close()
            raise WallUnavailable(str(error).splitlines()[0]) from error

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()
        self._database = None
        self._identity = None

    def _connect(self) -> Database:
        identity = self._file_identity()
        if self._database is not None and identity != self._identity:
            self.close()  # the file was replaced: read the new one
        if self._database is None:
            self._database = open_database(self.url, migrate=False)
            self._identity = identity
        return self._database

    def _file_identity(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            status = os.stat(self._path)
        except FileNotFoundError as error:
            raise WallUnavailable(f"database file {self._path.name} is missing") from error
        return status.st_dev, status.st_ino
