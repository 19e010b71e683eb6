"""Mail edge cases: what an inbound mail held, to tell a re-delivery (the same content)
from a second mail with the same Message-ID (kept, flagged as a possible duplicate).

Revision ID: 1301
Revises: 1300
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1301"
down_revision = "1300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_mail") as batch:
        batch.add_column(sa.Column("content_key", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_mail") as batch:
        batch.drop_column("content_key")
