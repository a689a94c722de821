"""The Alembic migrations build exactly the schema the SQLModel classes describe, on both
engines, and running them again is a no-op."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import itsm_tui.store.models  # noqa: F401  (registers every table on SQLModel.metadata)
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.engine import make_engine
from itsm_tui.store.migrate import current_revision, head_revision, upgrade_to_head


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, SQLModel.metadata))


def test_empty_database_upgrades_to_a_schema_matching_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert inspect(engine).get_table_names() == []
        assert current_revision(engine) is None

        assert upgrade_to_head(engine) is True

        assert head_revision() is not None
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
        assert schema_differences(engine) == []
        # Idempotent: a second upgrade finds nothing to do and changes nothing.
        assert upgrade_to_head(engine) is False
        assert current_revision(engine) == head_revision()
        assert schema_differences(engine) == []

        # The comparison does see drift, so the empty lists above mean something.
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE users ADD COLUMN nickname VARCHAR(10)")
        drift = schema_differences(engine)
        assert len(drift) == 1
        assert "nickname" in str(drift[0])
    finally:
        engine.dispose()


def test_opened_database_matches_the_models_and_is_at_head(database: Database) -> None:
    engine = database.engine
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine) == []
    assert upgrade_to_head(engine) is False

    inspector = inspect(engine)
    # The queue's common filters are indexed (as a leading column of some index).
    leading = {ix["column_names"][0] for ix in inspector.get_indexes("incidents")}
    assert {"state", "priority", "group_id", "assignee_id", "opened_at"} <= leading
    # Optimistic locking needs the version column; numbers need their counter rows.
    assert "version" in {c["name"] for c in inspector.get_columns("incidents")}
    with engine.connect() as connection:
        prefixes = {
            row[0] for row in connection.exec_driver_sql("SELECT prefix FROM number_sequences")
        }
    assert "INC" in prefixes


def test_a_database_from_a_newer_version_is_refused_clearly(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import text

    from itsm_tui.cli import main

    database = open_database(sqlite_url)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    database.dispose()
    assert main(["--db", sqlite_url, "--user", "x", "incident", "list"]) == 1
    err = capsys.readouterr().err
    assert "newer than this itsm-tui" in err and "Traceback" not in err
