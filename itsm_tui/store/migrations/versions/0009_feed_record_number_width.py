"""feed events carry names as long as the records they announce

`feed_events.record_number` was VARCHAR(16), sized for INC/CHG/PRB numbers, but directory and
SLA writes announce their record by name (up to 100 characters): PostgreSQL refused a group
called "Database Administration Team" (SQLite ignores lengths).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.alter_column(
            "record_number", existing_type=sa.String(length=16), type_=sa.String(length=120)
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.alter_column(
            "record_number", existing_type=sa.String(length=120), type_=sa.String(length=16)
        )
