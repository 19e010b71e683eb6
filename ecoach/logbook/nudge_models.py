"""Tables of encouragement nudges: the plan per engagement, every planned or sent nudge,
and the coachee's action steps.

A nudge is a row before it is an exchange: the coach sees it coming (and can edit, skip
or send it now); its task in the runner carries only the row's id. Once sent, the row
points at the exchange in the logbook.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, Engagement, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed


class NudgePlan(Base):
    """One per engagement (made on first use): the cadence, channel and templates, the
    goal, the silence limit, the coachee's pause, and what the re-engagement check needs."""

    __tablename__ = "nudge_plan"
    __sealed_scope__ = Scope.engagement()
    # Re-engagement: plans whose last exchange is one of our nudges, quiet since activity_at;
    # and the shortest silence limit in use.
    __table_args__ = (Index("ix_nudge_plan_activity", "activity_at"),
                      Index("ix_nudge_plan_silence", "silence_days"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    cadence: Mapped[str] = mapped_column(String(16), default="weekly")  # weekly, interval
    weekdays: Mapped[str] = mapped_column(String(16), default="0")  # "0,3": Monday, Thursday
    time_of_day: Mapped[str] = mapped_column(String(5), default="09:00")  # coachee's zone
    every_days: Mapped[int] = mapped_column(Integer, default=7)
    start_on: Mapped[date | None] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(16), default="chat")  # chat, mail
    # {"nl": "...", "en": "..."}; a missing or empty language uses the built-in text.
    templates: Mapped[dict | None] = sealed(dict)  # type: ignore[type-arg]
    goal: Mapped[str | None] = sealed()
    silence_days: Mapped[int] = mapped_column(Integer, default=14)  # 0: no check-ins
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # by the coachee
    last_nudge_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_nudge_exchange_id: Mapped[int | None] = mapped_column(BigId)
    # The last exchange that was not one of our nudges, as of our last nudge: the coachee
    # is not "in touch" just because we keep nudging.
    activity_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    checkin_for: Mapped[datetime | None] = mapped_column(UtcDateTime())  # silence answered
    alert_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # badge until seen
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Nudge(Base):
    """A planned, sent or skipped nudge. ``occasion`` names it within its kind: the local
    date for the plan, the action step's id, the silence start for a check-in."""

    __tablename__ = "nudge"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        UniqueConstraint("engagement_id", "kind", "occasion", name="uq_nudge_occasion"),
        Index("ix_nudge_upcoming", "engagement_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    kind: Mapped[str] = mapped_column(String(16))  # plan, action_step, checkin
    occasion: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), default="planned")  # planned, sent, skipped
    reason: Mapped[str | None] = mapped_column(String(32))  # why skipped
    text: Mapped[str | None] = sealed()  # the coach's own words for this one
    action_step_id: Mapped[int | None] = mapped_column(ForeignKey("action_step.id"))
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ActionStep(Base):
    """Something the coachee means to do by a date; that day a nudge asks how it went."""

    __tablename__ = "action_step"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (Index("ix_action_step_engagement", "engagement_id", "due_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    text: Mapped[str] = sealed()
    due_on: Mapped[date] = mapped_column(Date)  # in the coachee's zone
    created_by: Mapped[str] = mapped_column(String(16))  # coach, coachee
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# Re-engagement: active engagements by how long ago their last exchange was.
Index("ix_engagement_silence", Engagement.__table__.c.status, Engagement.__table__.c.last_exchange_at)
