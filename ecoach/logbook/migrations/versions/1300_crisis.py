"""Crisis signals: flags on a coachee's messages, and each coach's crisis resources.

Revision ID: 1300
Revises: 0014
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, JsonType, UtcDateTime

revision = "1300"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crisis_flag",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id"), nullable=False),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("categories", sa.String(200), nullable=False),
        sa.Column("rules", sa.String(1000), nullable=False),
        sa.Column("excerpts", sa.LargeBinary(), nullable=True),  # sealed
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_by", BigId, sa.ForeignKey("coach.id"), nullable=True),
    )
    op.create_index("ix_crisis_flag_engagement", "crisis_flag", ["engagement_id", "id"])
    op.create_index("ix_crisis_flag_coach", "crisis_flag", ["coach_id", "status"])
    op.create_index("ix_crisis_flag_exchange_id", "crisis_flag", ["exchange_id"])
    op.create_table(
        "crisis_resources",
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), primary_key=True),
        sa.Column("language", sa.String(8), primary_key=True),
        sa.Column("resources", JsonType, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("crisis_resources")
    op.drop_index("ix_crisis_flag_exchange_id", table_name="crisis_flag")
    op.drop_index("ix_crisis_flag_coach", table_name="crisis_flag")
    op.drop_index("ix_crisis_flag_engagement", table_name="crisis_flag")
    op.drop_table("crisis_flag")
