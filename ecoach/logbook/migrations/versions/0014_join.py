"""Join the main line (0013) and the privacy (1200) branches into one line again.

Revision ID: 0014
Revises: 0013, 1200
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0014"
down_revision = ("0013", "1200")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
