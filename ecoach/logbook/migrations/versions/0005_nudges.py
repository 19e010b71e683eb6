"""Encouragement nudges: plans, planned and sent nudges, action steps.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, JsonType, UtcDateTime

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nudge_plan",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False, unique=True),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("cadence", sa.String(16), nullable=False, server_default="weekly"),
        sa.Column("weekdays", sa.String(16), nullable=False, server_default="0"),
        sa.Column("time_of_day", sa.String(5), nullable=False, server_default="09:00"),
        sa.Column("every_days", sa.Integer(), nullable=False, server_default="7"),
        sa.Column("start_on", sa.Date()),
        sa.Column("channel", sa.String(16), nullable=False, server_default="chat"),
        sa.Column("templates", JsonType),
        sa.Column("goal", sa.String(500)),
        sa.Column("silence_days", sa.Integer(), nullable=False, server_default="14"),
        sa.Column("paused_at", UtcDateTime()),
        sa.Column("last_nudge_at", UtcDateTime()),
        sa.Column("last_nudge_exchange_id", BigId),
        sa.Column("activity_at", UtcDateTime()),
        sa.Column("checkin_for", UtcDateTime()),
        sa.Column("alert_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_nudge_plan_activity", "nudge_plan", ["activity_at"])
    op.create_index("ix_nudge_plan_silence", "nudge_plan", ["silence_days"])
    op.create_table(
        "action_step",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("cancelled_at", UtcDateTime()),
    )
    op.create_index("ix_action_step_engagement", "action_step", ["engagement_id", "due_on"])
    op.create_table(
        "nudge",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occasion", sa.String(64), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("text", sa.Text()),
        sa.Column("action_step_id", BigId, sa.ForeignKey("action_step.id")),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id")),
        sa.Column("sent_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("engagement_id", "kind", "occasion", name="uq_nudge_occasion"),
    )
    op.create_index("ix_nudge_upcoming", "nudge", ["engagement_id", "status", "due_at"])
    op.create_index("ix_engagement_silence", "engagement", ["status", "last_exchange_at"])


def downgrade() -> None:
    op.drop_index("ix_engagement_silence", table_name="engagement")
    for table in ("nudge", "action_step", "nudge_plan"):
        op.drop_table(table)
