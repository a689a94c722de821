"""Create or upgrade the schema with Alembic; the only way tables come into being.

Alembic is imported only when the schema is missing or behind (or for the functions that ask
it): loading it costs about 0.2 s, on every command, for a check one query answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from itsm_tui.store.engine import SQLITE_BEGIN_OPTION
from itsm_tui.store.schema_version import HEAD_REVISION, SchemaTooNew

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """Alembic's own head, read from the migration scripts (`HEAD_REVISION` must equal it)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def stamped_revision(engine: Engine) -> str | None:
    """The revision `alembic_version` holds, by one plain query; None when the table is
    missing or does not hold exactly one row (Alembic's full check then decides)."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except (OperationalError, ProgrammingError):
        # No such table (SQLite: OperationalError, PostgreSQL: ProgrammingError), or the
        # database cannot be read: the full path below meets the same error and reports it.
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


# Any constant shared by all itsm-tui processes: PostgreSQL advisory lock for migrations.
_MIGRATION_LOCK_KEY = 0x17_5E_D0_02


def upgrade_to_head(engine: Engine) -> bool:
    """Upgrade to the newest revision; returns True when anything was applied.

    Safe when several clients start on a fresh database at once: the revision is re-read under
    a lock (SQLite's write lock via BEGIN IMMEDIATE, a PostgreSQL advisory lock), so exactly
    one of them migrates and the rest find the schema already at head.
    """
    if stamped_revision(engine) == HEAD_REVISION:
        return False  # the common case: one query, no Alembic
    head = head_revision()
    if current_revision(engine) == head:
        return False
    config = alembic_config()
    options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}
    with engine.connect().execution_options(**options) as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a SQLite table by copy-and-drop; with foreign keys on,
            # the drop would cascade into every child row (SLA clocks, notifications). The
            # pragma only takes effect outside a transaction, hence the raw connection.
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                applied = _upgrade_locked(connection, config, head)
                if applied and sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left dangling references: {broken[:5]}")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)
    return applied


def _upgrade_locked(connection: Connection, config: Config, head: str | None) -> bool:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return False
    if current is not None and not _is_known(current):
        raise SchemaTooNew(
            f"the database schema is at revision {current}, newer than this itsm-tui "
            f"knows (head {head}); upgrade itsm-tui to use this database"
        )
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return True


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _is_known(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False
