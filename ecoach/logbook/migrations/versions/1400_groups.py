"""More than one person: co-coaches and supervisors on an engagement, coaching groups with
their own conversation and sessions, and what a coach shares with a supervisor.

Revision ID: 1400
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "1400"
down_revision = "0016"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "engagement_member",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, _fk("engagement_member", "engagement_id", "engagement"), nullable=False),
        sa.Column("coach_id", BigId, _fk("engagement_member", "coach_id", "coach"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("engagement_id", "coach_id", name="uq_engagement_member_coach"),
    )
    op.create_index("ix_engagement_member_coach", "engagement_member", ["coach_id", "role", "engagement_id"])
    op.create_table(
        "coaching_group",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, _fk("coaching_group", "coach_id", "coach"), nullable=False),
        sa.Column("name", sa.LargeBinary(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_message_at", UtcDateTime()),
    )
    op.create_index("ix_coaching_group_coach", "coaching_group", ["coach_id", "id"])
    op.create_table(
        "group_member",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("group_id", BigId, _fk("group_member", "group_id", "coaching_group"), nullable=False),
        sa.Column("engagement_id", BigId, _fk("group_member", "engagement_id", "engagement"), nullable=False),
        sa.Column("joined_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("group_id", "engagement_id", name="uq_group_member_engagement"),
    )
    op.create_index("ix_group_member_engagement", "group_member", ["engagement_id"])
    op.create_table(
        "group_message",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("group_id", BigId, _fk("group_message", "group_id", "coaching_group"), nullable=False),
        sa.Column("engagement_id", BigId, _fk("group_message", "engagement_id", "engagement")),
        sa.Column("coach_id", BigId, _fk("group_message", "coach_id", "coach"), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("author_coach_id", BigId, _fk("group_message", "author_coach_id", "coach")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author_name", sa.LargeBinary(), nullable=False),
        sa.Column("body_text", sa.LargeBinary(), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("group_id", "external_id", name="uq_group_message_external"),
    )
    op.create_index("ix_group_message_timeline", "group_message", ["group_id", "id"])
    op.create_index("ix_group_message_engagement", "group_message", ["engagement_id"])
    op.create_table(
        "group_session",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("group_id", BigId, _fk("group_session", "group_id", "coaching_group"), nullable=False),
        sa.Column("booking_id", BigId, _fk("group_session", "booking_id", "booking"), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("booking_id", name="uq_group_session_booking_id"),
    )
    op.create_index("ix_group_session_group", "group_session", ["group_id", "booking_id"])
    op.create_table(
        "supervision_item",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, _fk("supervision_item", "engagement_id", "engagement"), nullable=False),
        sa.Column("exchange_id", BigId, _fk("supervision_item", "exchange_id", "exchange"), nullable=False),
        sa.Column("supervisor_id", BigId, _fk("supervision_item", "supervisor_id", "coach"), nullable=False),
        sa.Column("shared_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("supervisor_id", "exchange_id", name="uq_supervision_item_exchange"),
    )
    op.create_index("ix_supervision_item_reader", "supervision_item", ["supervisor_id", "engagement_id", "exchange_id"])


def downgrade() -> None:
    for table in ("supervision_item", "group_session", "group_message", "group_member", "coaching_group",
                  "engagement_member"):
        op.drop_table(table)
