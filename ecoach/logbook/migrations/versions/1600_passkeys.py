"""Passkeys (WebAuthn) as a second factor: the coach's credentials and the ceremonies'
single-use challenges.

Revision ID: 1600
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "1600"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coach_passkey",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("transports", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime()),
    )
    op.create_index("ix_coach_passkey_coach_id", "coach_passkey", ["coach_id"])
    op.create_table(
        "passkey_challenge",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("auth_session_id", BigId, sa.ForeignKey("auth_session.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_passkey_challenge_session", "passkey_challenge", ["auth_session_id", "purpose"])
    op.create_index("ix_passkey_challenge_expires_at", "passkey_challenge", ["expires_at"])


def downgrade() -> None:
    op.drop_table("passkey_challenge")
    op.drop_table("coach_passkey")
