"""Join the accounts (0100) and mailbox-reader (0200) branches into one line again.

Revision ID: 0009
Revises: 0100, 0200
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0009"
down_revision = ("0100", "0200")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
