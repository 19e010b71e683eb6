"""Coach accounts: server-side sessions, TOTP and recovery codes, reset and invitation
links, login attempts counted per (account, client) and per account, roles and
deactivation, API token scopes and last use.

The first coach becomes the administrator. Existing API tokens keep full (read-write)
access. The old ``login_attempt`` table (counted per address and per client, so anyone
could lock a coach out) is replaced by ``login_try``.

Revision ID: 0100
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "0100"
down_revision = "0008"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True)


def _coach(**kw: object) -> sa.Column:
    return sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False, **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.add_column("coach", sa.Column("role", sa.String(16), nullable=False, server_default="coach"))
    op.add_column("coach", sa.Column("deactivated_at", UtcDateTime()))
    op.execute("UPDATE coach SET role = 'admin' WHERE id = (SELECT min(id) FROM coach)")
    op.add_column("api_token", sa.Column("scope", sa.String(16), nullable=False, server_default="read-write"))
    op.add_column("api_token", sa.Column("last_used_at", UtcDateTime()))
    op.create_table(
        "auth_session",
        _id(),
        _coach(),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime()),
        sa.Column("end_reason", sa.String(32)),
        sa.Column("user_agent", sa.String(300), nullable=False, server_default=""),
        sa.Column("client", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_auth_session_coach", "auth_session", ["coach_id", "ended_at"])
    op.create_table(
        "coach_totp",
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), primary_key=True),
        sa.Column("secret", sa.String(300), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("confirmed_at", UtcDateTime()),
        sa.Column("last_step", sa.BigInteger()),
    )
    op.create_table(
        "recovery_code",
        _id(),
        _coach(index=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime()),
    )
    op.create_table(
        "account_link",
        _id(),
        _coach(),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime()),
    )
    op.create_index("ix_account_link_coach", "account_link", ["coach_id", "purpose"])
    op.create_table(
        "login_try",
        _id(),
        sa.Column("account", sa.String(320), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
    )
    op.create_index("ix_login_try_account", "login_try", ["account", "at"])
    op.create_index("ix_login_try_pair", "login_try", ["account", "client", "at"])
    op.drop_index("ix_login_attempt_key", table_name="login_attempt")
    op.drop_table("login_attempt")


def downgrade() -> None:
    op.create_table(
        "login_attempt",
        _id(),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_login_attempt_key", "login_attempt", ["key", "at"])
    for table in ("login_try", "account_link", "recovery_code", "coach_totp", "auth_session"):
        op.drop_table(table)
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of ``coach`` would
    # trip the foreign keys that point at it.
    for table, column in (("api_token", "last_used_at"), ("api_token", "scope"),
                          ("coach", "deactivated_at"), ("coach", "role")):
        op.drop_column(table, column)
