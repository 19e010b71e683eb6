"""Tables of booked sessions: session types, booking links, bookings, the coach's
booking profile (meeting room, phone number, calendar feed secret).

No double booking is a database rule, not only a Python one: active bookings have a
unique (coach, start), and their busy ranges (session plus buffers) may not overlap: an
exclusion constraint on PostgreSQL (``tstzrange ... WITH &&``, btree_gist), triggers on
SQLite (see migration 0006).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

ACTIVE = ("requested", "confirmed")  # statuses that hold time in the coach's agenda
ACTIVE_SQL = "status IN ('requested', 'confirmed')"


class BookingProfile(Base):
    """A coach's booking preferences; one row per coach, made on first use."""

    __tablename__ = "booking_profile"

    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), primary_key=True)
    video_provider: Mapped[str] = mapped_column(String(16), default="template")  # template, personal
    personal_room_url: Mapped[str | None] = mapped_column(String(500))
    phone_number: Mapped[str | None] = mapped_column(String(40))
    # The calendar feed URL's secret: only its digest is stored; the salt lets the server
    # show the URL again (HMAC under the secret key), a new salt invalidates the old URL.
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    feed_salt: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionType(Base):
    __tablename__ = "session_type"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))  # video, phone, in_person
    address: Mapped[str | None] = mapped_column(String(500))
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    max_per_day: Mapped[int] = mapped_column(Integer, default=0)  # 0: no limit
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    availability: Mapped[str] = mapped_column(String(16), default="sessions")  # which windows
    intake: Mapped[bool] = mapped_column(Boolean, default=False)  # offered on the public page
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BookingLink(Base):
    """A booking page's key: the coach's public intake page (no engagement) or an
    engagement's private link for follow-up sessions. Stored as a digest only."""

    __tablename__ = "booking_link"
    __table_args__ = (Index("ix_booking_link_owner", "coach_id", "engagement_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagement.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Booking(Base):
    """One session in the coach's agenda, from request or booking to cancellation."""

    __tablename__ = "booking"
    # A follow-up session under its engagement's key; an intake request under the coach's.
    __sealed_scope__ = Scope.engagement() | Scope.coach()
    __table_args__ = (
        Index("uq_booking_active_start", "coach_id", "starts_at", unique=True,
              sqlite_where=text(ACTIVE_SQL), postgresql_where=text(ACTIVE_SQL)),
        Index("ix_booking_busy", "coach_id", "busy_from"),
        Index("ix_booking_engagement", "engagement_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    session_type_id: Mapped[int] = mapped_column(ForeignKey("session_type.id"))
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagement.id"))
    status: Mapped[str] = mapped_column(String(16))  # requested, confirmed, cancelled, declined
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The time the session keeps from others: start minus buffer before, end plus after.
    busy_from: Mapped[datetime] = mapped_column(UtcDateTime())
    busy_until: Mapped[datetime] = mapped_column(UtcDateTime())
    channel: Mapped[str] = mapped_column(String(16))  # video, phone, in_person
    location: Mapped[str | None] = mapped_column(String(500))  # address or number to call
    meeting_url: Mapped[str | None] = mapped_column(String(500))  # video link or tel: link
    uid: Mapped[str] = mapped_column(String(255), unique=True)  # the calendar event's UID
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(8))
    attendee_name: Mapped[str] = sealed()
    attendee_email: Mapped[str | None] = sealed(index="address")
    attendee_time_zone: Mapped[str] = mapped_column(String(64))
    attendee_message: Mapped[str | None] = sealed()
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    manage_salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(16))  # coach, coachee
    held_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    @property
    def active(self) -> bool:
        return self.status in ACTIVE
