"""Session structure: forms to the coachee (check-in, feedback, evaluation, four-supports
questionnaire), session closes, goal reviews; action steps get a done state and the
session they were agreed at.

The session structure records goal scores in the contract's tables (``goal_score``, from
0800), so it comes after them.

Revision ID: 0900
Revises: 0800
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "0900"
down_revision = "0800"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_request",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("booking_id", BigId, sa.ForeignKey("booking.id")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("round", sa.String(8)),
        sa.Column("respondent", sa.String(8), nullable=False),
        sa.Column("token_hash", sa.String(64), unique=True),
        sa.Column("salt", sa.String(64)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("replaced_at", UtcDateTime()),
        sa.Column("answered_at", UtcDateTime()),
        sa.Column("answers", sa.LargeBinary()),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id")),
    )
    op.create_index("ix_form_request_engagement", "form_request", ["engagement_id", "kind", "id"])
    op.create_index("ix_form_request_booking", "form_request", ["booking_id", "kind"])
    op.create_table(
        "session_close",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("booking_id", BigId, sa.ForeignKey("booking.id"), nullable=False, unique=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False, index=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id")),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "session_review",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("booking_id", BigId, sa.ForeignKey("booking.id")),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime()),
        sa.Column("decision", sa.String(16)),
        sa.Column("note", sa.LargeBinary()),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id")),
        sa.UniqueConstraint("engagement_id", "session_number", name="uq_session_review_number"),
    )
    op.add_column("action_step", sa.Column("done_at", UtcDateTime()))
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN: SQLite adds a nullable column with REFERENCES in place.
        op.execute("ALTER TABLE action_step ADD COLUMN booking_id INTEGER "
                   "CONSTRAINT fk_action_step_booking_id_booking REFERENCES booking (id)")
    else:
        op.add_column("action_step", sa.Column("booking_id", BigId))
        op.create_foreign_key("fk_action_step_booking_id_booking", "action_step", "booking", ["booking_id"], ["id"])
    op.create_index("ix_action_step_booking_id", "action_step", ["booking_id"])


def downgrade() -> None:
    op.drop_index("ix_action_step_booking_id", "action_step")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE action_step DROP COLUMN booking_id")
    else:
        op.drop_constraint("fk_action_step_booking_id_booking", "action_step", type_="foreignkey")
        op.drop_column("action_step", "booking_id")
    op.drop_column("action_step", "done_at")
    op.drop_table("session_review")
    op.drop_table("session_close")
    op.drop_index("ix_form_request_booking", "form_request")
    op.drop_index("ix_form_request_engagement", "form_request")
    op.drop_table("form_request")
