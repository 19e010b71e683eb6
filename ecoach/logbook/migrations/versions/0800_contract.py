"""The coaching contract: versions, goals and their scores, acceptances, personal links,
the sponsor contact and the summaries for the sponsor, the coach's template.

Revision ID: 0800
Revises: 0400
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, JsonType, UtcDateTime

revision = "0800"
down_revision = "0400"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True)


def _engagement(**kw: object) -> sa.Column:
    return sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False, **kw)


def _sealed(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.LargeBinary(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "contract",
        _id(),
        _engagement(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("triangular", sa.Boolean(), nullable=False),
        sa.Column("sponsor_sees", sa.String(16), nullable=False),
        sa.Column("sponsor_sees_goals", sa.Boolean(), nullable=False),
        _sealed("terms"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("offered_at", UtcDateTime()),
        sa.Column("accepted_at", UtcDateTime()),
        sa.Column("superseded_at", UtcDateTime()),
        sa.Column("fingerprint", sa.String(64)),
        sa.UniqueConstraint("engagement_id", "version", name="uq_contract_version"),
    )
    op.create_index("uq_contract_draft", "contract", ["engagement_id"], unique=True,
                    sqlite_where=sa.text("status = 'draft'"), postgresql_where=sa.text("status = 'draft'"))
    op.create_table(
        "goal",
        _id(),
        _engagement(index=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "contract_goal",
        _id(),
        sa.Column("contract_id", BigId, sa.ForeignKey("contract.id"), nullable=False),
        sa.Column("goal_id", BigId, sa.ForeignKey("goal.id"), nullable=False, index=True),
        _engagement(index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        _sealed("title"),
        _sealed("indicators"),
        _sealed("score"),
        sa.UniqueConstraint("contract_id", "position", name="uq_contract_goal_position"),
        sa.UniqueConstraint("contract_id", "goal_id", name="uq_contract_goal_goal"),
    )
    op.create_table(
        "goal_score",
        _id(),
        _engagement(),
        sa.Column("goal_id", BigId, sa.ForeignKey("goal.id"), nullable=False),
        sa.Column("contract_id", BigId, sa.ForeignKey("contract.id"), nullable=False),
        _sealed("score"),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.BigInteger()),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_goal_score_goal", "goal_score", ["engagement_id", "goal_id", "recorded_at"])
    op.create_table(
        "contract_acceptance",
        _id(),
        sa.Column("contract_id", BigId, sa.ForeignKey("contract.id"), nullable=False),
        _engagement(index=True),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _sealed("name"),
        sa.Column("accepted_at", UtcDateTime(), nullable=False),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id")),
        sa.UniqueConstraint("contract_id", "party", name="uq_contract_acceptance_party"),
    )
    op.create_table(
        "contract_link",
        _id(),
        _engagement(),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("revoked_at", UtcDateTime()),
    )
    op.create_index("ix_contract_link_owner", "contract_link", ["engagement_id", "party"])
    op.create_table(
        "sponsor_contact",
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), primary_key=True),
        _sealed("organisation"),
        _sealed("name"),
        _sealed("email", nullable=True),
        sa.Column("email_index", sa.String(32), index=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "sponsor_summary",
        _id(),
        _engagement(),
        _sealed("text"),
        sa.Column("period_end", sa.Date()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime()),
    )
    op.create_index("ix_sponsor_summary_engagement", "sponsor_summary", ["engagement_id", "status"])
    op.create_table(
        "contract_template",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("terms", JsonType, nullable=False),
        sa.Column("sponsor_sees", sa.String(16), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("coach_id", "language", name="uq_contract_template_language"),
    )


def downgrade() -> None:
    for table in ("contract_template", "sponsor_summary", "sponsor_contact", "contract_link",
                  "contract_acceptance", "goal_score", "contract_goal", "goal", "contract"):
        op.drop_table(table)
