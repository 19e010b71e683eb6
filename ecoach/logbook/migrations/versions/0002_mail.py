"""Mail channel: outbox, IMAP cursors, inbound dedupe, quarantine, attachments, sources.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, JsonType, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_GUARDED = (
    "engagement_id, channel, direction, author, author_name, body_text, body_html, "
    "created_at, external_id"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER exchange_append_only")
    op.add_column("exchange", sa.Column("meta", JsonType))
    _append_only(sqlite, _GUARDED + ", meta")
    op.create_table(
        "quarantine",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id")),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id")),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("reason_detail", sa.String(1000), nullable=False),
        sa.Column("from_address", sa.String(320)),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_at", UtcDateTime()),
        sa.Column("resolved_exchange_id", BigId, sa.ForeignKey("exchange.id")),
    )
    op.create_index("ix_quarantine_coach", "quarantine", ["coach_id", "status", "received_at"])
    op.create_table(
        "mail_outbox",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id"), index=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False, unique=True),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("claimed_until", UtcDateTime()),
        sa.Column("last_error", sa.String(1000)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime()),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["state", "next_attempt_at"])
    op.create_table(
        "mailbox_cursor",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("mailbox", sa.String(200), nullable=False, unique=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "inbound_mail",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("dedupe_key", sa.String(400), nullable=False, unique=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id")),
        sa.Column("quarantine_id", BigId, sa.ForeignKey("quarantine.id")),
    )
    op.create_table(
        "attachment",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id"), nullable=False, index=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "mail_source",
        sa.Column("exchange_id", BigId, sa.ForeignKey("exchange.id"), primary_key=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
    )


def _append_only(sqlite: bool, columns: str) -> None:
    if sqlite:
        op.execute(
            f"CREATE TRIGGER exchange_append_only BEFORE UPDATE OF {columns} ON exchange "
            "BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END"
        )
        return
    new = ", ".join(f"NEW.{c.strip()}" for c in columns.split(","))
    old = ", ".join(f"OLD.{c.strip()}" for c in columns.split(","))
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION exchange_append_only() RETURNS trigger AS $$
        BEGIN
          IF ({new}) IS DISTINCT FROM ({old}) THEN
            RAISE EXCEPTION 'the logbook is append-only';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql
        """
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("mail_source", "attachment", "inbound_mail", "mailbox_cursor", "mail_outbox", "quarantine"):
        op.drop_table(table)
    if sqlite:
        op.execute("DROP TRIGGER exchange_append_only")
    # A plain DROP COLUMN (SQLite >= 3.35): a batch copy would lose the FTS triggers.
    op.execute("ALTER TABLE exchange DROP COLUMN meta")
    _append_only(sqlite, _GUARDED)
