"""Join the main line (0018) and the groups (1400) branches into one line again.

Revision ID: 0019
Revises: 0018, 1400
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0019"
down_revision = ("0018", "1400")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
