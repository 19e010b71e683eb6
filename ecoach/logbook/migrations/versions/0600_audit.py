"""The audit trail: an append-only, hash-chained table of content-free entries, and the
chain's head (one row: the newest entry's number and hash).

Triggers on both databases refuse UPDATE and DELETE of entries (and TRUNCATE on
PostgreSQL), and refuse moving the head backwards. No foreign keys: erasing an
engagement or a coachee never touches the entries that mention them.

Revision ID: 0600
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.core.audit import GENESIS
from ecoach.logbook.models import JsonType, UtcDateTime

revision = "0600"
down_revision = "0009"
branch_labels = None
depends_on = None

REFUSED = "audit entries are append-only"

PG_UP = (
    f"""CREATE FUNCTION audit_entry_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSED} (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq THEN
            RAISE EXCEPTION 'the audit chain''s head only moves forward' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE PROCEDURE audit_entry_refuse()",
    "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE PROCEDURE audit_entry_refuse()",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE PROCEDURE audit_head_forward()",
)
PG_DOWN = (
    "DROP TRIGGER IF EXISTS audit_head_forward ON audit_head",
    "DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry",
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    "DROP FUNCTION IF EXISTS audit_head_forward()",
    "DROP FUNCTION IF EXISTS audit_entry_refuse()",
)
SQLITE_UP = (
    f"CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED} (UPDATE refused)'); END",
    f"CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED} (DELETE refused)'); END",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head WHEN NEW.seq < OLD.seq "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain''s head only moves forward'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain''s head only moves forward'); END",
)
SQLITE_DOWN = tuple(f"DROP TRIGGER IF EXISTS {name}" for name in (
    "audit_entry_no_update", "audit_entry_no_delete", "audit_head_forward", "audit_head_no_delete"))


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.BigInteger()),
        sa.Column("coach_id", sa.BigInteger()),
        sa.Column("engagement_id", sa.BigInteger()),
        sa.Column("detail", JsonType, nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("device", sa.String(60), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_entry_coach", "audit_entry", ["coach_id", "at", "seq"])
    op.create_index("ix_audit_entry_at", "audit_entry", ["at", "seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    for statement in PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
    op.drop_table("audit_head")
    op.drop_index("ix_audit_entry_at", table_name="audit_entry")
    op.drop_index("ix_audit_entry_coach", table_name="audit_entry")
    op.drop_table("audit_entry")
