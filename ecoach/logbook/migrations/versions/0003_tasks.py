"""Durable task runner: the task table and the firings of recurring jobs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, JsonType, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Byte order on PostgreSQL too, so a key prefix is an index range (see task_models).
TaskKey = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("params", JsonType, nullable=False),
        sa.Column("key", TaskKey),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("run_at", UtcDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_token", sa.String(32)),
        sa.Column("lease_until", UtcDateTime()),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("last_error", sa.String(2000)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime()),
    )
    # Only open tasks have a run_at: the claim scans due open tasks, nothing else.
    op.create_index("ix_task_claim", "task", ["run_at"],
                    sqlite_where=sa.text("run_at IS NOT NULL"),
                    postgresql_where=sa.text("run_at IS NOT NULL"))
    op.create_index("uq_task_pending_key", "task", ["key"], unique=True,
                    sqlite_where=sa.text("status = 'pending'"),
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_task_status", "task", ["status", "finished_at"])
    op.create_table(
        "task_firing",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("fire_time", UtcDateTime(), primary_key=True),
        sa.Column("fired_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_firing")
    op.drop_table("task")
