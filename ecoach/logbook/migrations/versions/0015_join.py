"""Join the main line (0014) and the billing (1100) branches into one line again.

Revision ID: 0015
Revises: 0014, 1100
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0015"
down_revision = ("0014", "1100")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
