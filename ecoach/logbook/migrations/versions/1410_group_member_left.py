"""Ended group memberships (``group_member_left``): a removed member's data package holds
the group messages they could read while a member. ``coaching_group.coach_unread``: the
members' messages the coach has not read (inbox, notification mail).

Revision ID: 1410
Revises: 0019
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "1410"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_member_left",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("group_id", BigId, sa.ForeignKey("coaching_group.id", name="fk_group_member_left_group_id_coaching_group"),
                  nullable=False),
        sa.Column("engagement_id", BigId,
                  sa.ForeignKey("engagement.id", name="fk_group_member_left_engagement_id_engagement"), nullable=False),
        sa.Column("joined_at", UtcDateTime(), nullable=False),
        sa.Column("left_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_group_member_left_engagement", "group_member_left", ["engagement_id", "group_id"])
    with op.batch_alter_table("coaching_group") as batch:
        batch.add_column(sa.Column("coach_unread", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("coaching_group") as batch:
        batch.drop_column("coach_unread")
    op.drop_index("ix_group_member_left_engagement", table_name="group_member_left")
    op.drop_table("group_member_left")
