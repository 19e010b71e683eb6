"""One reader per IMAP mailbox: the lease row of the process that reads it.

Revision ID: 0200
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import UtcDateTime

revision = "0200"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_reader",
        sa.Column("mailbox", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=False),
        sa.Column("taken_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mailbox_reader")
