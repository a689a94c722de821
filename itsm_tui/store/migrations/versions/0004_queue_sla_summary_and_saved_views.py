"""queue sla summary on incidents, saved views

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from datetime import UTC, datetime

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
    """Summaries for incidents that already have clocks. Exact for the due time and breach;
    the at-risk instant is taken as 75% of the target in wall time, which is exact on 24x7
    calendars and corrected on the incident's next write on business-hours ones."""
    op.execute(
        """
        UPDATE incidents SET
          sla_due_at = COALESCE((
            SELECT MIN(c.due_at) FROM sla_clocks c
            WHERE c.incident_id = incidents.id AND c.stage IN ('in_progress', 'breached')
              AND c.stopped_at IS NULL AND c.paused_since IS NULL), sla_due_at),
          sla_state = CASE
            WHEN EXISTS (SELECT 1 FROM sla_clocks c WHERE c.incident_id = incidents.id
              AND c.stage IN ('in_progress', 'breached') AND c.stopped_at IS NULL
              AND c.paused_since IS NULL) THEN 'running'
            WHEN EXISTS (SELECT 1 FROM sla_clocks c WHERE c.incident_id = incidents.id
              AND c.stage = 'paused' AND c.stopped_at IS NULL) THEN 'paused'
            ELSE 'none' END,
          sla_breached = EXISTS (SELECT 1 FROM sla_clocks c
            WHERE c.incident_id = incidents.id AND c.stage = 'breached')
        """
    )


def downgrade() -> None:
    op.drop_table("saved_views")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_queue")
        batch_op.drop_column("sla_breached")
        batch_op.drop_column("sla_left_seconds")
        batch_op.drop_column("sla_state")
        batch_op.drop_column("sla_risk_at")
        batch_op.drop_column("sla_due_at")
