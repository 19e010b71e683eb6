"""Join the main line (0012) and the sealed columns (0401) branches into one line again.

Revision ID: 0013
Revises: 0012, 0401
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0013"
down_revision = ("0012", "0401")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
