"""audit hash chain, its head row, append-only triggers

Audit entries get a chain position, the previous entry's hash and their own (issue 8); the
head row records where the chain ends and is the lock that orders audit and feed appends.
Existing entries are chained in id order. Triggers refuse UPDATE and DELETE on the trail, so
even a stray script cannot rewrite it without first dropping them (which `itsm audit verify`
then still catches through the hashes).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from itsm_tui.domain.audit_chain import GENESIS_HASH, ChainedEntry, entry_hash
from itsm_tui.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APPEND_ONLY_MESSAGE = "audit entries are append-only"


def upgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_audit_entries_chain_seq"), ["chain_seq"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    seq, last_hash = _chain_existing_entries()
    op.bulk_insert(head, [{"id": 1, "seq": seq, "entry_hash": last_hash}])
    _create_append_only_triggers()


def _chain_existing_entries() -> tuple[int, str]:
    connection = op.get_bind()
    audit = sa.table(
        "audit_entries",
        sa.column("id", sa.Integer()),
        sa.column("record_type", sa.String()),
        sa.column("record_id", sa.Integer()),
        sa.column("actor_id", sa.Integer()),
        sa.column("field", sa.String()),
        sa.column("old_value", sa.Text()),
        sa.column("new_value", sa.Text()),
        sa.column("at", UTCDateTime(timezone=True)),
        sa.column("chain_seq", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("entry_hash", sa.String()),
    )
    rows = connection.execute(
        sa.select(
            audit.c.id,
            audit.c.record_type,
            audit.c.record_id,
            audit.c.actor_id,
            audit.c.field,
            audit.c.old_value,
            audit.c.new_value,
            audit.c.at,
        ).order_by(audit.c.id)
    ).all()
    previous = GENESIS_HASH
    for seq, row in enumerate(rows, start=1):
        entry = ChainedEntry(
            seq=seq,
            record_type=row.record_type,
            record_id=row.record_id,
            actor_id=row.actor_id,
            field=row.field,
            old_value=row.old_value,
            new_value=row.new_value,
            at=row.at,
        )
        digest = entry_hash(entry, previous)
        connection.execute(
            audit.update()
            .where(audit.c.id == row.id)
            .values(chain_seq=seq, prev_hash=previous, entry_hash=digest)
        )
        previous = digest
    return len(rows), previous


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{event.lower()} BEFORE {event} "
                f"ON audit_entries BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION itsm_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION itsm_audit_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION itsm_audit_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS itsm_audit_append_only()")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_audit_entries_chain_seq"), type_="unique")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chain_seq")
