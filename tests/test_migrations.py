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


def test_upgrading_through_the_queue_summary_keeps_clocks_and_notifications(
    db_url: str,
) -> None:
    """A desk with running and paused clocks and an inbox goes back to 0003 and up again:
    SQLite's batch rebuild of `incidents` must not cascade into its children, and the
    backfill must give the queue each incident's due time or paused time left."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import func
    from sqlmodel import Session, select

    from itsm_tui.clock import FixedClock
    from itsm_tui.services import incidents, slas
    from itsm_tui.services.audit_verify import verify_audit_chain
    from itsm_tui.services.validation import validate
    from itsm_tui.store.migrate import alembic_config
    from itsm_tui.store.models import AuditEntry, Incident, Notification, SlaClockRow, User
    from tests.conftest import seed_directory

    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    database = open_database(db_url)
    with database.session() as session:
        slas.ensure_defaults(session, clock, "UTC")
        desk = seed_directory(session, clock)
        data = validate(incidents.IncidentCreate, title="Mail down", impact=1, urgency=1)
        running = incidents.create_incident(session, desk["alice"], clock, data).number
        data = validate(incidents.IncidentCreate, title="Waiting", impact=2, urgency=2)
        paused = incidents.create_incident(session, desk["alice"], clock, data).number
        incidents.transition(session, desk["alice"], clock, paused, "in_progress")
        clock.advance(minutes=10)
        incidents.transition(
            session, desk["alice"], clock, paused, "on_hold", hold_reason="awaiting_caller"
        )
        incidents.add_note(session, desk["bob"], clock, running, "@alice look")
        before = {
            n: (i.sla_state, i.sla_due_at, i.sla_left_seconds)
            for n in (running, paused)
            for i in [session.exec(select(Incident).where(Incident.number == n)).one()]
        }
        clocks = session.exec(select(func.count()).select_from(SlaClockRow)).one()
        audited = session.exec(select(func.count()).select_from(AuditEntry)).one()
        assert verify_audit_chain(session, clock.now()).ok
    database.dispose()
    assert clocks == 4 and before[running][0] == "running" and before[paused][0] == "paused"

    engine = make_engine(db_url)
    config = alembic_config()
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        with connection.begin():
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
    engine.dispose()

    database = open_database(db_url)  # upgrades to head again, foreign keys on as usual
    try:
        with Session(database.engine) as session:
            assert session.exec(select(func.count()).select_from(SlaClockRow)).one() == 4
            assert session.exec(select(func.count()).select_from(Notification)).one() == 1
            for number, (state, due, left) in before.items():
                row = session.exec(select(Incident).where(Incident.number == number)).one()
                assert row.sla_state == state
                if state == "running":
                    assert row.sla_due_at == due
                    assert row.sla_risk_at is not None and row.sla_risk_at < due
                else:
                    assert row.sla_left_seconds == left
            # 0008 chained the trail afresh in id order: every entry is on it, and the head
            # it rebuilt takes the next write.
            rebuilt = verify_audit_chain(session, clock.now())
            assert (rebuilt.breaks, rebuilt.entries_checked, rebuilt.chain_length) == (
                [],
                audited,
                audited,
            )
        with database.session() as session:
            alice = session.exec(select(User).where(User.username == "alice")).one()
            incidents.add_note(session, alice, clock, running, "after the upgrade")
            incidents.transition(session, alice, clock, running, "in_progress")
            after = verify_audit_chain(session, clock.now())
        assert after.ok and after.chain_length == after.entries_checked > audited
    finally:
        database.dispose()
