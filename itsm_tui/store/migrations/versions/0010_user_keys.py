"""user_keys: SSH public keys for `itsm serve ssh`

Each user's registered public keys (type, base64 blob, comment, SHA256 fingerprint unique per
user), read on every SSH login so a removed key stops working at the next connection.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 04:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import itsm_tui.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_type", sa.String(length=64), nullable=False),
        sa.Column("key_data", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("added_at", itsm_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_keys")),
        sa.UniqueConstraint("user_id", "fingerprint", name="uq_user_keys_user_fingerprint"),
    )
    with op.batch_alter_table("user_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_keys_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_keys_user_id"))
    op.drop_table("user_keys")
