"""Join the areas' branches (tasks, availability, nudges, booking) into one line again,
and index the outbox by recipient: a mail waits behind older unfinished mail to the same
address, and that probe must not scan the outbox.

Revision ID: 0007
Revises: 0003, 0004, 0005, 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = ("0003", "0004", "0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mail_outbox_recipient", "mail_outbox", ["recipient", "id"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_recipient", table_name="mail_outbox")
