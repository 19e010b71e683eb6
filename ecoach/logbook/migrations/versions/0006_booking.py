"""Booked sessions: booking profiles, session types, booking links, bookings.

No double booking in the database: a partial unique index on (coach, start) of active
bookings on both backends; on PostgreSQL an exclusion constraint keeps active busy ranges
of one coach from overlapping (btree_gist for the equality on coach_id); on SQLite
triggers do the same check (the writer holds the database's write lock, so the check
and the write are one step).

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None

ACTIVE_SQL = "status IN ('requested', 'confirmed')"


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True)


def _minutes(name: str, default: int) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=str(default))


def upgrade() -> None:
    op.create_table(
        "booking_profile",
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), primary_key=True),
        sa.Column("video_provider", sa.String(16), nullable=False, server_default="template"),
        sa.Column("personal_room_url", sa.String(500)),
        sa.Column("phone_number", sa.String(40)),
        sa.Column("feed_token_hash", sa.String(64), unique=True),
        sa.Column("feed_salt", sa.String(64)),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "session_type",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(500)),
        _minutes("buffer_before_minutes", 0),
        _minutes("buffer_after_minutes", 0),
        _minutes("min_notice_minutes", 0),
        _minutes("max_per_day", 0),
        _minutes("horizon_days", 60),
        sa.Column("availability", sa.String(16), nullable=False, server_default="sessions"),
        sa.Column("intake", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "booking_link",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id")),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("revoked_at", UtcDateTime()),
    )
    op.create_index("ix_booking_link_owner", "booking_link", ["coach_id", "engagement_id"])
    op.create_table(
        "booking",
        _id(),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("session_type_id", BigId, sa.ForeignKey("session_type.id"), nullable=False),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("busy_from", UtcDateTime(), nullable=False),
        sa.Column("busy_until", UtcDateTime(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("location", sa.String(500)),
        sa.Column("meeting_url", sa.String(500)),
        sa.Column("uid", sa.String(255), nullable=False, unique=True),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("attendee_name", sa.String(200), nullable=False),
        sa.Column("attendee_email", sa.String(320)),
        sa.Column("attendee_time_zone", sa.String(64), nullable=False),
        sa.Column("attendee_message", sa.Text()),
        sa.Column("manage_token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("manage_salt", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("cancelled_at", UtcDateTime()),
        sa.Column("cancelled_by", sa.String(16)),
        sa.Column("held_at", UtcDateTime()),
        sa.CheckConstraint("starts_at < ends_at AND busy_from <= starts_at AND ends_at <= busy_until",
                           name="times"),
    )
    op.create_index("uq_booking_active_start", "booking", ["coach_id", "starts_at"], unique=True,
                    sqlite_where=sa.text(ACTIVE_SQL), postgresql_where=sa.text(ACTIVE_SQL))
    op.create_index("ix_booking_busy", "booking", ["coach_id", "busy_from"])
    op.create_index("ix_booking_engagement", "booking", ["engagement_id", "starts_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE booking ADD CONSTRAINT ex_booking_overlap EXCLUDE USING gist "
            "(coach_id WITH =, tstzrange(busy_from, busy_until, '[)') WITH &&) "
            f"WHERE ({ACTIVE_SQL})"
        )
    else:
        _sqlite_overlap_triggers()


def _sqlite_overlap_triggers() -> None:
    # Times are stored as fixed-width UTC text, so text order is time order.
    clash = (
        "SELECT RAISE(ABORT, 'booking_overlap') WHERE EXISTS (SELECT 1 FROM booking b "
        "WHERE b.coach_id = NEW.coach_id AND b.id IS NOT NEW.id "
        "AND b.status IN ('requested', 'confirmed') "
        "AND b.busy_from < NEW.busy_until AND NEW.busy_from < b.busy_until);"
    )
    op.execute(
        "CREATE TRIGGER booking_no_overlap_insert BEFORE INSERT ON booking "
        f"WHEN NEW.{ACTIVE_SQL} BEGIN {clash} END"
    )
    op.execute(
        "CREATE TRIGGER booking_no_overlap_update BEFORE UPDATE OF "
        "status, coach_id, busy_from, busy_until ON booking "
        f"WHEN NEW.{ACTIVE_SQL} BEGIN {clash} END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS booking_no_overlap_insert")
        op.execute("DROP TRIGGER IF EXISTS booking_no_overlap_update")
    for table in ("booking", "booking_link", "session_type", "booking_profile"):
        op.drop_table(table)
