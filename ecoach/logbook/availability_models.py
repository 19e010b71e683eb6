"""Availability agreements and response-time commitments.

- ``availability_window``: a coach's weekly working windows per channel ("all", "mail",
  "chat", "sessions"), local times as minutes since midnight in the coach's time zone.
- ``availability_exception``: holidays and absence (all-day ranges of local dates, or
  timed spans), with what the absence auto-reply says; ``ics_uid`` keeps imports
  idempotent.
- ``coach_agreement`` / ``engagement_agreement``: response-time commitments; an
  engagement's NULL columns mean "as the coach's default".
- ``commitment``: one row per inbound exchange that needs an answer, with its due time.
- ``absence_reply``: the one automatic reply an engagement got during an absence.

``engagement.next_due_at`` (the earliest open commitment's due time) is kept in the same
transaction as the commitments, so the inbox sorts by due time with one indexed query.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, Engagement, UtcDateTime

_OPEN = text("state = 'open'")

# The inbox order (see queries.get_inbox): earliest due first, then the longest wait, then
# the most recent activity. The expressions are indexed as written, so the ORDER BY
# walks this index on SQLite and PostgreSQL alike and stops at LIMIT.
_e = Engagement.__table__.c
INBOX_DUE_INDEX = Index(
    "ix_engagement_due",
    _e.coach_id,
    text("(next_due_at IS NULL)"),
    _e.next_due_at,
    text("(waiting_since IS NULL)"),
    _e.waiting_since,
    _e.last_exchange_at.desc(),
    _e.id.desc(),
)


class AvailabilityWindow(Base):
    __tablename__ = "availability_window"
    __table_args__ = (Index("ix_availability_window_coach", "coach_id", "channel"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    channel: Mapped[str] = mapped_column(String(16))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start_minute: Mapped[int] = mapped_column(Integer)  # local, 0..1439
    end_minute: Mapped[int] = mapped_column(Integer)  # <= start: ends the next day


class AvailabilityException(Base):
    __tablename__ = "availability_exception"
    __table_args__ = (
        Index("ix_availability_exception_coach", "coach_id", "ends_at"),
        UniqueConstraint("coach_id", "ics_uid", name="uq_availability_exception_ics"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    kind: Mapped[str] = mapped_column(String(16))  # holiday, absence
    title: Mapped[str] = mapped_column(String(200), default="")
    # All-day exceptions keep their local dates (the coach's zone decides the instants);
    # timed ones only the UTC span. starts_at/ends_at are always set (for indexed lookups).
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    auto_reply: Mapped[bool] = mapped_column(Boolean, default=True)
    return_note: Mapped[str] = mapped_column(Text, default="")
    substitute: Mapped[str] = mapped_column(String(500), default="")
    emergency_contact: Mapped[str] = mapped_column(String(500), default="")
    ics_uid: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CoachAgreement(Base):
    __tablename__ = "coach_agreement"

    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), primary_key=True)
    mail_amount: Mapped[int] = mapped_column(Integer)
    mail_unit: Mapped[str] = mapped_column(String(8))
    chat_amount: Mapped[int] = mapped_column(Integer)
    chat_unit: Mapped[str] = mapped_column(String(8))
    remind_minutes: Mapped[int] = mapped_column(Integer)
    acknowledge: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EngagementAgreement(Base):
    """An engagement's own settings; NULL means "as the coach's default"."""

    __tablename__ = "engagement_agreement"

    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), primary_key=True)
    mail_amount: Mapped[int | None] = mapped_column(Integer)
    mail_unit: Mapped[str | None] = mapped_column(String(8))
    chat_amount: Mapped[int | None] = mapped_column(Integer)
    chat_unit: Mapped[str | None] = mapped_column(String(8))
    remind_minutes: Mapped[int | None] = mapped_column(Integer)
    acknowledge: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Commitment(Base):
    """An inbound exchange's promised answer. ``state`` is open or fulfilled; on track,
    due soon and overdue are read off ``due_at`` and the clock."""

    __tablename__ = "commitment"
    __table_args__ = (
        Index("ix_commitment_open", "engagement_id", "due_at",
              sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_commitment_coach_open", "coach_id", "due_at",
              sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_commitment_report", "coach_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16), default="open")
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    fulfilled_by: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))
    fulfilled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AbsenceReply(Base):
    __tablename__ = "absence_reply"
    __table_args__ = (UniqueConstraint("exception_id", "engagement_id", name="uq_absence_reply"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exception_id: Mapped[int] = mapped_column(ForeignKey("availability_exception.id", ondelete="CASCADE"))
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
