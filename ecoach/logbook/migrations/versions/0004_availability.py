"""Availability agreements and response-time commitments: weekly windows, exceptions,
agreements, commitments, absence replies; engagement.next_due_at for the inbox.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

_OPEN = sa.text("state = 'open'")


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True)


def upgrade() -> None:
    op.add_column("engagement", sa.Column("next_due_at", UtcDateTime()))
    # Mirrors queries.get_inbox's ORDER BY, expressions included (see availability_models).
    op.create_index("ix_engagement_due", "engagement", [
        "coach_id", sa.text("(next_due_at IS NULL)"), "next_due_at", sa.text("(waiting_since IS NULL)"),
        "waiting_since", sa.text("last_exchange_at DESC"), sa.text("id DESC"),
    ])
    op.create_table(
        "availability_window",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
    )
    op.create_index("ix_availability_window_coach", "availability_window", ["coach_id", "channel"])
    op.create_table(
        "availability_exception",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("first_day", sa.Date()),
        sa.Column("last_day", sa.Date()),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("auto_reply", sa.Boolean(), nullable=False),
        sa.Column("return_note", sa.Text(), nullable=False),
        sa.Column("substitute", sa.String(500), nullable=False),
        sa.Column("emergency_contact", sa.String(500), nullable=False),
        sa.Column("ics_uid", sa.String(500)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("coach_id", "ics_uid", name="uq_availability_exception_ics"),
    )
    op.create_index("ix_availability_exception_coach", "availability_exception", ["coach_id", "ends_at"])
    _agreement("coach_agreement", "coach_id", "coach.id", nullable=False)
    _agreement("engagement_agreement", "engagement_id", "engagement.id", nullable=True)
    op.create_table(
        "commitment",
        _id(),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id"), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reminded_at", UtcDateTime()),
        sa.Column("breached_at", UtcDateTime()),
        sa.Column("fulfilled_by", BigId, sa.ForeignKey("exchange.id")),
        sa.Column("fulfilled_at", UtcDateTime()),
    )
    op.create_index("ix_commitment_open", "commitment", ["engagement_id", "due_at"],
                    sqlite_where=_OPEN, postgresql_where=_OPEN)
    op.create_index("ix_commitment_coach_open", "commitment", ["coach_id", "due_at"],
                    sqlite_where=_OPEN, postgresql_where=_OPEN)
    op.create_index("ix_commitment_report", "commitment", ["coach_id", "received_at"])
    op.create_table(
        "absence_reply",
        _id(),
        sa.Column("exception_id", BigId, sa.ForeignKey("availability_exception.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("exception_id", "engagement_id", name="uq_absence_reply"),
    )


def _agreement(table: str, key: str, target: str, *, nullable: bool) -> None:
    op.create_table(
        table,
        sa.Column(key, BigId, sa.ForeignKey(target), primary_key=True),
        sa.Column("mail_amount", sa.Integer(), nullable=nullable),
        sa.Column("mail_unit", sa.String(8), nullable=nullable),
        sa.Column("chat_amount", sa.Integer(), nullable=nullable),
        sa.Column("chat_unit", sa.String(8), nullable=nullable),
        sa.Column("remind_minutes", sa.Integer(), nullable=nullable),
        sa.Column("acknowledge", sa.Boolean(), nullable=nullable),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("absence_reply", "commitment", "engagement_agreement", "coach_agreement",
                  "availability_exception", "availability_window"):
        op.drop_table(table)
    op.drop_index("ix_engagement_due", table_name="engagement")
    # A plain DROP COLUMN (SQLite >= 3.35), as 0002 does.
    op.execute("ALTER TABLE engagement DROP COLUMN next_due_at")
