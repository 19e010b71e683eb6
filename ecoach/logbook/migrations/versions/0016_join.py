"""Join the main line (0015) and the resources (1000) branches into one line again.

Revision ID: 0016
Revises: 0015, 1000
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0016"
down_revision = ("0015", "1000")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
