"""The coachee's data rights: requests for their data package, and retention plans.

Revision ID: 1200
Revises: 0400, 0500
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "1200"
down_revision = ("0400", "0500")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_request",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("salt", sa.String(64), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("downloads", sa.Integer, nullable=False),
        sa.Column("last_download_at", UtcDateTime(), nullable=True),
        sa.Column("include_notes", sa.Boolean, nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=True),  # sealed
    )
    op.create_index("ix_export_request_engagement", "export_request", ["engagement_id", "id"])
    op.create_index("ix_export_request_coach", "export_request", ["coach_id", "status"])
    op.create_table(
        "retention_plan",
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), primary_key=True),
        sa.Column("keep_months", sa.Integer, nullable=True),
        sa.Column("extended_until", UtcDateTime(), nullable=True),
        sa.Column("policy_months", sa.Integer, nullable=False),
        sa.Column("erase_at", UtcDateTime(), nullable=True),
        sa.Column("warned_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_retention_plan_due", "retention_plan", ["erase_at"])


def downgrade() -> None:
    op.drop_index("ix_retention_plan_due", table_name="retention_plan")
    op.drop_table("retention_plan")
    op.drop_index("ix_export_request_coach", table_name="export_request")
    op.drop_index("ix_export_request_engagement", table_name="export_request")
    op.drop_table("export_request")
