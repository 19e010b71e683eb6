"""Foundation: coaches, coachees, engagements, the logbook, chat links, API tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "coach",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "coachee",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "engagement",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("coachee_id", BigId, sa.ForeignKey("coachee.id"), nullable=False, index=True),
        sa.Column("sponsor_name", sa.String(200)),
        sa.Column("sponsor_email", sa.String(320)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("paused_at", UtcDateTime()),
        sa.Column("closed_at", UtcDateTime()),
        sa.Column("last_exchange_id", BigId),
        sa.Column("last_exchange_at", UtcDateTime()),
        sa.Column("last_channel", sa.String(16)),
        sa.Column("last_direction", sa.String(16)),
        sa.Column("last_snippet", sa.String(200)),
        sa.Column("last_inbound_channel", sa.String(16)),
        sa.Column("waiting_since", UtcDateTime()),
        sa.Column("unread_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_engagement_inbox", "engagement", ["coach_id", "waiting_since", "last_exchange_at"]
    )
    op.create_index("ix_engagement_recent", "engagement", ["coach_id", "last_exchange_at"])
    op.create_table(
        "exchange",
        _id(),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("delivery_state", sa.String(16), nullable=False),
        sa.Column("delivery_detail", sa.String(500)),
        sa.UniqueConstraint("engagement_id", "external_id", name="uq_exchange_external"),
    )
    op.create_index("ix_exchange_timeline", "exchange", ["engagement_id", "id"])
    op.create_table(
        "chat_link",
        _id(),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("revoked_at", UtcDateTime()),
        sa.Column("coachee_seen_id", BigId),
        sa.Column("salt", sa.String(64)),
    )
    op.create_table(
        "api_token",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime()),
    )
    op.create_table(
        "login_attempt",
        _id(),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_login_attempt_key", "login_attempt", ["key", "at"])
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_logbook_rules()
    else:
        _postgres_logbook_rules()


def _sqlite_logbook_rules() -> None:
    # External-content FTS5 index over the logbook, kept by triggers.
    op.execute(
        "CREATE VIRTUAL TABLE exchange_fts USING fts5("
        "body_text, content='exchange', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER exchange_fts_insert AFTER INSERT ON exchange BEGIN "
        "INSERT INTO exchange_fts(rowid, body_text) VALUES (new.id, new.body_text); END"
    )
    op.execute(
        "CREATE TRIGGER exchange_fts_delete AFTER DELETE ON exchange BEGIN "
        "INSERT INTO exchange_fts(exchange_fts, rowid, body_text) "
        "VALUES ('delete', old.id, old.body_text); END"
    )
    # Append-only: only the delivery state of an exchange may change.
    op.execute(
        "CREATE TRIGGER exchange_append_only BEFORE UPDATE OF "
        "engagement_id, channel, direction, author, author_name, body_text, body_html, "
        "created_at, external_id ON exchange BEGIN "
        "SELECT RAISE(ABORT, 'the logbook is append-only'); END"
    )


def _postgres_logbook_rules() -> None:
    op.execute(
        "CREATE INDEX ix_exchange_fts ON exchange "
        "USING gin (to_tsvector('simple', body_text))"
    )
    op.execute(
        """
        CREATE FUNCTION exchange_append_only() RETURNS trigger AS $$
        BEGIN
          IF (NEW.engagement_id, NEW.channel, NEW.direction, NEW.author, NEW.author_name,
              NEW.body_text, NEW.body_html, NEW.created_at, NEW.external_id)
             IS DISTINCT FROM
             (OLD.engagement_id, OLD.channel, OLD.direction, OLD.author, OLD.author_name,
              OLD.body_text, OLD.body_html, OLD.created_at, OLD.external_id) THEN
            RAISE EXCEPTION 'the logbook is append-only';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER exchange_append_only BEFORE UPDATE ON exchange "
        "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER exchange_append_only")
        op.execute("DROP TRIGGER exchange_fts_delete")
        op.execute("DROP TRIGGER exchange_fts_insert")
        op.execute("DROP TABLE exchange_fts")
    else:
        op.execute("DROP TRIGGER exchange_append_only ON exchange")
        op.execute("DROP FUNCTION exchange_append_only()")
    for table in ("login_attempt", "api_token", "chat_link", "exchange", "engagement", "coachee", "coach"):
        op.drop_table(table)
