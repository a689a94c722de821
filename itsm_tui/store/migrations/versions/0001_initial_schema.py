"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import itsm_tui.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("escalation_group_id", sa.Integer(), nullable=True),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_group_id"],
            ["groups.id"],
            name=op.f("fk_groups_escalation_group_id_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
    )
    sequences = op.create_table(
        "number_sequences",
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_number_sequences")),
    )
    op.bulk_insert(sequences, [{"prefix": p, "last_value": 0} for p in ("INC", "CHG", "PRB")])
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("criticality", sa.String(length=20), nullable=False),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("name", name=op.f("uq_services_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_entries_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_entries_record", ["record_type", "record_id", "id"], unique=False
        )

    op.create_table(
        "config_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("ci_class", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_config_items_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_items")),
        sa.UniqueConstraint("name", name=op.f("uq_config_items_name")),
    )
    with op.batch_alter_table("config_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_config_items_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "feed_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("record_number", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_feed_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_events")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "group_memberships",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_memberships_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "group_id", name=op.f("pk_group_memberships")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_journal_entries_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journal_entries_record", ["record_type", "record_id", "created_at"], unique=False
        )

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=60), nullable=True),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("hold_reason", sa.String(length=30), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution_code", sa.String(length=30), nullable=True),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_incidents_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["config_items.id"], name=op.f("fk_incidents_ci_id_config_items")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_incidents_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["users.id"], name=op.f("fk_incidents_opened_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["incidents.id"], name=op.f("fk_incidents_parent_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_incidents_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("number", name=op.f("uq_incidents_number")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index("ix_incidents_assignee_state", ["assignee_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_ci_id"), ["ci_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_group_id"), ["group_id"], unique=False)
        batch_op.create_index("ix_incidents_group_state", ["group_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_priority"), ["priority"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_state"), ["state"], unique=False)
        batch_op.create_index(
            "ix_incidents_state_priority_opened", ["state", "priority", "opened_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_state_priority_opened")
        batch_op.drop_index(batch_op.f("ix_incidents_state"))
        batch_op.drop_index(batch_op.f("ix_incidents_service_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_priority"))
        batch_op.drop_index(batch_op.f("ix_incidents_parent_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_opened_at"))
        batch_op.drop_index("ix_incidents_group_state")
        batch_op.drop_index(batch_op.f("ix_incidents_group_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_ci_id"))
        batch_op.drop_index("ix_incidents_assignee_state")
        batch_op.drop_index(batch_op.f("ix_incidents_assignee_id"))

    op.drop_table("incidents")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_entries_record")

    op.drop_table("journal_entries")
    op.drop_table("group_memberships")
    op.drop_table("feed_events")
    with op.batch_alter_table("config_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_config_items_service_id"))

    op.drop_table("config_items")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_record")

    op.drop_table("audit_entries")
    op.drop_table("users")
    op.drop_table("services")
    op.drop_table("number_sequences")
    op.drop_table("groups")
