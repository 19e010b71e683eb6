"""Index coachees by lower(email): mail without a reply token is routed by its sender.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_coachee_email_lower", "coachee", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_coachee_email_lower", table_name="coachee")
