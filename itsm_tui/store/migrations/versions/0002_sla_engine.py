"""sla engine

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import itsm_tui.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("always_on", sa.Boolean(), nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=False),
        sa.Column("holiday_country", sa.String(length=8), nullable=True),
        sa.Column("holiday_subdivision", sa.String(length=16), nullable=True),
        sa.Column("extra_dates", sa.JSON(), nullable=False),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_business_calendars_name")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("response_seconds", sa.Integer(), nullable=False),
        sa.Column("resolution_seconds", sa.Integer(), nullable=False),
        sa.Column("pause_rules", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["business_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_business_calendars"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_sla_policies_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_policies_name")),
    )
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_policies_priority"), ["priority"], unique=False)

    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_seconds", sa.Integer(), nullable=False),
        sa.Column("started_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("paused_since", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("fired", sa.JSON(), nullable=False),
        sa.Column("next_threshold", sa.Integer(), nullable=True),
        sa.Column("next_check_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_sla_clocks_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["sla_policies.id"], name=op.f("fk_sla_clocks_policy_id_sla_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
    )
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_sla_clocks_incident_kind", ["incident_id", "kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sla_clocks_next_check_at"), ["next_check_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_clocks_next_check_at"))
        batch_op.drop_index("ix_sla_clocks_incident_kind")

    op.drop_table("sla_clocks")
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_policies_priority"))

    op.drop_table("sla_policies")
    op.drop_table("business_calendars")
