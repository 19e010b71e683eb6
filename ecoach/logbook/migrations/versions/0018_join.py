"""Join the main line (0017) and the crisis (1301) branches into one line again.

Revision ID: 0018
Revises: 0017, 1301
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0018"
down_revision = ("0017", "1301")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
