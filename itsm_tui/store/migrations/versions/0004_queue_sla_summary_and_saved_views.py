"""queue sla summary on incidents, saved views

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import itsm_tui.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The sentinel is bound through the column type, never written as SQL text: SQLite compares
# datetimes as strings, so a literal in another format would not sort or compare equal.
NO_SLA_DUE = datetime(9999, 12, 31, tzinfo=UTC)
OPEN_STATES_SQL = "state IN ('new', 'in_progress', 'on_hold')"


def upgrade() -> None:
    utc = itsm_tui.store.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_due_at", utc, nullable=True))
        batch_op.add_column(sa.Column("sla_risk_at", utc, nullable=True))
        batch_op.add_column(
            sa.Column("sla_state", sa.String(length=10), nullable=False, server_default="none")
        )
        batch_op.add_column(sa.Column("sla_left_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("sla_breached", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    incidents = sa.table("incidents", sa.column("sla_due_at", utc))
    op.execute(incidents.update().values(sla_due_at=NO_SLA_DUE))
    _backfill()
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column("sla_due_at", existing_type=utc, nullable=False)
        batch_op.create_index("ix_incidents_queue", ["sla_due_at", "id"], unique=False)
        batch_op.create_index(
            "ix_incidents_queue_open",
            ["sla_due_at", "id"],
            unique=False,
            sqlite_where=sa.text(OPEN_STATES_SQL),
            postgresql_where=sa.text(OPEN_STATES_SQL),
        )
        batch_op.create_index(
            "ix_incidents_assignee_queue", ["assignee_id", "sla_due_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_incidents_group_queue", ["group_id", "sla_due_at", "id"], unique=False
        )
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_saved_views_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("user_id", "name", name="uq_saved_views_user_name"),
    )


def _backfill() -> None:
    """Summaries for incidents that already have clocks: the most urgent running clock's due
    time, or paused with the time left, and whether any clock breached.

    The at-risk instant and a paused clock's time left are taken in wall time (exact on 24x7
    calendars); on business-hours calendars they are exact again from the incident's next
    write. Migrations cannot use the calendar code, which may change after this revision.
    """
    bind = op.get_bind()
    utc = itsm_tui.store.types.UTCDateTime(timezone=True)
    clocks = sa.table(
        "sla_clocks",
        sa.column("incident_id", sa.Integer),
        sa.column("target_seconds", sa.Integer),
        sa.column("started_at", utc),
        sa.column("paused_seconds", sa.Integer),
        sa.column("paused_since", utc),
        sa.column("stopped_at", utc),
        sa.column("due_at", utc),
        sa.column("stage", sa.String),
    )
    incidents = sa.table(
        "incidents",
        sa.column("id", sa.Integer),
        sa.column("sla_due_at", utc),
        sa.column("sla_risk_at", utc),
        sa.column("sla_state", sa.String),
        sa.column("sla_left_seconds", sa.Integer),
        sa.column("sla_breached", sa.Boolean),
    )
    by_incident: dict[int, list[Any]] = {}
    for row in bind.execute(sa.select(clocks).where(clocks.c.stage != "cancelled")):
        by_incident.setdefault(row.incident_id, []).append(row)
    for incident_id, rows in by_incident.items():
        values: dict[str, Any] = {"sla_breached": any(r.stage == "breached" for r in rows)}
        running = [r for r in rows if r.stopped_at is None and r.paused_since is None]
        paused = [r for r in rows if r.stopped_at is None and r.paused_since is not None]
        if running:
            urgent = min(running, key=lambda r: r.due_at)
            used = math.ceil(urgent.target_seconds * 0.75) + urgent.paused_seconds
            values |= {
                "sla_state": "running",
                "sla_due_at": urgent.due_at,
                "sla_risk_at": urgent.started_at + timedelta(seconds=used),
            }
        elif paused:
            values |= {
                "sla_state": "paused",
                "sla_left_seconds": min(
                    r.target_seconds
                    - max(
                        0, int((r.paused_since - r.started_at).total_seconds()) - r.paused_seconds
                    )
                    for r in paused
                ),
            }
        bind.execute(incidents.update().where(incidents.c.id == incident_id).values(**values))


def downgrade() -> None:
    op.drop_table("saved_views")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_group_queue")
        batch_op.drop_index("ix_incidents_assignee_queue")
        batch_op.drop_index("ix_incidents_queue_open")
        batch_op.drop_index("ix_incidents_queue")
        batch_op.drop_column("sla_breached")
        batch_op.drop_column("sla_left_seconds")
        batch_op.drop_column("sla_state")
        batch_op.drop_column("sla_risk_at")
        batch_op.drop_column("sla_due_at")
