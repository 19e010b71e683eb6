"""Outgoing webhooks: coaches' endpoints and the deliveries queued for them.

Revision ID: 0500
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "0500"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("events", sa.String(500), nullable=False),
        sa.Column("include_text", sa.Boolean, nullable=False),
        sa.Column("secret", sa.String(300), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("failing_since", UtcDateTime(), nullable=True),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_result", sa.String(300), nullable=True),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
        sa.Column("disabled_reason", sa.String(16), nullable=True),
    )
    op.create_index("ix_webhook_endpoint_coach", "webhook_endpoint", ["coach_id", "enabled"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("endpoint_id", BigId, sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("engagement_id", sa.BigInteger, nullable=True),
        sa.Column("object_id", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_result", sa.String(300), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_webhook_delivery_endpoint", "webhook_delivery", ["endpoint_id", "id"])
    op.create_index("ix_webhook_delivery_status", "webhook_delivery", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
