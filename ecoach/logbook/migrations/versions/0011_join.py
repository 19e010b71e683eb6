"""Join the main line (0010) and the contract (0800, after the keyring 0400) branches into one line again.

Revision ID: 0011
Revises: 0010, 0800
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0011"
down_revision = ("0010", "0800")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
