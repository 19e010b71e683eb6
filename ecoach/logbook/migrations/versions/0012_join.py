"""Join the main line (0011) and the session structure (0900) branches into one line again.

Revision ID: 0012
Revises: 0011, 0900
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0012"
down_revision = ("0011", "0900")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
