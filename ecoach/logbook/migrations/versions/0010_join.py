"""Join the webhooks (0500) and audit (0600) branches into one line again.

Revision ID: 0010
Revises: 0500, 0600
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0010"
down_revision = ("0500", "0600")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
