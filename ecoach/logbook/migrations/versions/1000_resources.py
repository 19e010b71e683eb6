"""The resource library (resources, their search terms, shares, exercise answers) and
previews of image attachments (files in the chat are ``attachment`` rows, like a mail's).

Revision ID: 1000
Revises: 0400
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "1000"
down_revision = "0400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id", name="fk_resource_coach_id_coach"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("url", sa.LargeBinary()),
        sa.Column("questions", sa.LargeBinary()),
        sa.Column("tags", sa.LargeBinary()),
        sa.Column("file_name", sa.LargeBinary()),
        sa.Column("file_type", sa.String(120)),
        sa.Column("file_size", sa.Integer()),
        sa.Column("file_data", sa.LargeBinary()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_resource_coach", "resource", ["coach_id", "updated_at"])
    op.create_table(
        "resource_term",
        sa.Column("resource_id", BigId, sa.ForeignKey("resource.id", ondelete="CASCADE",
                                                       name="fk_resource_term_resource_id_resource"),
                  primary_key=True),
        sa.Column("term", sa.String(32), primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id", name="fk_resource_term_coach_id_coach"),
                  nullable=False),
    )
    op.create_index("ix_resource_term_lookup", "resource_term", ["coach_id", "term"])
    op.create_table(
        "resource_share",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id", name="fk_resource_share_engagement_id_engagement"),
                  nullable=False),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id", name="fk_resource_share_exchange_id_exchange"),
                  nullable=False),
        sa.Column("resource_id", BigId, sa.ForeignKey("resource.id", ondelete="SET NULL",
                                                       name="fk_resource_share_resource_id_resource")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("url", sa.LargeBinary()),
        sa.Column("questions", sa.LargeBinary()),
        sa.Column("attachment_id", BigId, sa.ForeignKey("attachment.id", name="fk_resource_share_attachment_id_attachment")),
        sa.Column("shared_at", UtcDateTime(), nullable=False),
        sa.Column("answered_at", UtcDateTime()),
        sa.UniqueConstraint("exchange_id", name="uq_resource_share_exchange_id"),
    )
    op.create_index("ix_resource_share_engagement", "resource_share", ["engagement_id", "id"])
    op.create_index("ix_resource_share_resource", "resource_share", ["resource_id"])
    op.create_table(
        "exercise_answer",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("share_id", BigId, sa.ForeignKey("resource_share.id", name="fk_exercise_answer_share_id_resource_share"),
                  nullable=False),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id", name="fk_exercise_answer_engagement_id_engagement"),
                  nullable=False),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id", name="fk_exercise_answer_exchange_id_exchange"),
                  nullable=False),
        sa.Column("answers", sa.LargeBinary(), nullable=False),
        sa.Column("answered_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("share_id", name="uq_exercise_answer_share"),
    )
    op.create_index("ix_exercise_answer_engagement_id", "exercise_answer", ["engagement_id"])
    op.create_table(
        "attachment_preview",
        sa.Column("attachment_id", BigId, sa.ForeignKey("attachment.id", name="fk_attachment_preview_attachment_id_attachment"),
                  primary_key=True),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id", name="fk_attachment_preview_exchange_id_exchange"),
                  nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_attachment_preview_exchange_id", "attachment_preview", ["exchange_id"])


def downgrade() -> None:
    for table in ("attachment_preview", "exercise_answer", "resource_share", "resource_term", "resource"):
        op.drop_table(table)
