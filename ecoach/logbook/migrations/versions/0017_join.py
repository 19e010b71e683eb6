"""Join the main line (0016) and the passkeys (1600) branches into one line again.

Revision ID: 0017
Revises: 0016, 1600
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0017"
down_revision = ("0016", "1600")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
