"""The keyring: data keys (stored wrapped by master keys), the practice's keys, the record
of erasures, and the data key of each engagement, coachee and coach.

Revision ID: 0400
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, JsonType, UtcDateTime

revision = "0400"
down_revision = "0009"
branch_labels = None
depends_on = None

OWNERS = ("coach", "coachee", "engagement")


def upgrade() -> None:
    op.create_table(
        "data_key",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "data_key_wrap",
        sa.Column("data_key_id", BigId, sa.ForeignKey("data_key.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("master_key_id", sa.String(64), primary_key=True, index=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "practice_key",
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("data_key_id", BigId, sa.ForeignKey("data_key.id"), nullable=False),
    )
    op.create_table(
        "erasure",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
        sa.Column("erased_by", sa.String(16), nullable=False),
        sa.Column("coach_id", sa.BigInteger()),
        sa.Column("counts", JsonType),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in OWNERS:
        if sqlite:
            # A plain ADD COLUMN: a batch copy would lose the expression indexes SQLite
            # cannot reflect (ix_engagement_due, ix_coachee_email_lower).
            op.execute(f"ALTER TABLE {table} ADD COLUMN data_key_id INTEGER "
                       f"CONSTRAINT fk_{table}_data_key_id_data_key REFERENCES data_key (id)")
        else:
            op.add_column(table, sa.Column("data_key_id", BigId))
            op.create_foreign_key(f"fk_{table}_data_key_id_data_key", table, "data_key", ["data_key_id"], ["id"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in OWNERS:
        if sqlite:
            # SQLite (>= 3.35) drops a column with a REFERENCES clause in place.
            op.execute(f"ALTER TABLE {table} DROP COLUMN data_key_id")
        else:
            op.drop_constraint(f"fk_{table}_data_key_id_data_key", table, type_="foreignkey")
            op.drop_column(table, "data_key_id")
    for table in ("erasure", "practice_key", "data_key_wrap", "data_key"):
        op.drop_table(table)
