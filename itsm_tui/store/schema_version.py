"""The schema revision this itsm-tui writes, without importing Alembic (0.2 s of start-up).

Every command that opens a database compares `HEAD_REVISION` with the one row of
`alembic_version` (`store.migrate.upgrade_to_head`) and loads Alembic only when they differ.
A new migration must bump it: `tests/test_migrations.py` fails until it equals Alembic's head.
"""

from __future__ import annotations

HEAD_REVISION = "0010"


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer itsm-tui than this one."""
