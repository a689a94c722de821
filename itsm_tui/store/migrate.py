"""Create or upgrade the schema with Alembic; the only way tables come into being."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

from itsm_tui.store.engine import SQLITE_BEGIN_OPTION

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer itsm-tui than this one."""


# Any constant shared by all itsm-tui processes: PostgreSQL advisory lock for migrations.
_MIGRATION_LOCK_KEY = 0x17_5E_D0_02


def upgrade_to_head(engine: Engine) -> bool:
    """Upgrade to the newest revision; returns True when anything was applied.

    Safe when several clients start on a fresh database at once: the revision is re-read under
    a lock (SQLite's write lock via BEGIN IMMEDIATE, a PostgreSQL advisory lock), so exactly
    one of them migrates and the rest find the schema already at head.
    """
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
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False
