"""More than one person: co-coaches, supervisors, and coaching groups.

- ``engagement_member``: another coach on an engagement, as ``co_coach`` (full access,
  shown to the coachee) or ``supervisor`` (reads only what the coach shares with them,
  ``supervision_item``). Who may reach an engagement is decided in one place:
  ``ecoach.logbook.access``.
- ``coaching_group``: a coach's group; ``group_member`` names the member engagements (each
  member keeps their own one-to-one engagement, logbook and chat link).
- ``group_member_left``: a membership that ended (the member was removed): what the
  member's data package needs to hold the messages they could read while a member.
- ``group_message``: the group conversation, a logbook of its own. A member's message is
  sealed with *their* engagement's key and refers to that engagement, so erasing the
  member removes their messages from the group (the row is deleted and its key is
  destroyed); the coach's messages are sealed with the coach's key.
- ``group_session``: one booking (one slot in the coach's agenda, one meeting room) for
  the whole group.
- ``supervision_item``: one exchange the coach shared with one supervisor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

CO_COACH = "co_coach"
SUPERVISOR = "supervisor"
ROLES = (CO_COACH, SUPERVISOR)


class EngagementMember(Base):
    __tablename__ = "engagement_member"
    __table_args__ = (
        UniqueConstraint("engagement_id", "coach_id", name="uq_engagement_member_coach"),
        # "Which engagements may this coach reach, in which role": the access query.
        Index("ix_engagement_member_coach", "coach_id", "role", "engagement_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CoachingGroup(Base):
    __tablename__ = "coaching_group"
    __sealed_scope__ = Scope.coach()
    __table_args__ = (Index("ix_coaching_group_coach", "coach_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    name: Mapped[str] = sealed()
    language: Mapped[str] = mapped_column(String(8))
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Members' messages the coach has not read yet (the group page resets it): the inbox's
    # "new in the group" and the coach's notification mail.
    coach_unread: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class GroupMember(Base):
    __tablename__ = "group_member"
    __table_args__ = (
        UniqueConstraint("group_id", "engagement_id", name="uq_group_member_engagement"),
        Index("ix_group_member_engagement", "engagement_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("coaching_group.id"))
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime())


class GroupMemberLeft(Base):
    """One ended membership: the group's messages from ``joined_at`` to ``left_at`` were
    the member's to read (right of access). Erased with the member's engagement."""

    __tablename__ = "group_member_left"
    __table_args__ = (Index("ix_group_member_left_engagement", "engagement_id", "group_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("coaching_group.id"))
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime())
    left_at: Mapped[datetime] = mapped_column(UtcDateTime())


class GroupMessage(Base):
    """One entry of a group's conversation. Append-only, like the logbook."""

    __tablename__ = "group_message"
    # A member's words under their engagement's key; the coach's under the coach's.
    __sealed_scope__ = Scope.engagement("engagement_id") | Scope.coach("coach_id")
    __table_args__ = (
        UniqueConstraint("group_id", "external_id", name="uq_group_message_external"),
        Index("ix_group_message_timeline", "group_id", "id"),
        Index("ix_group_message_engagement", "engagement_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("coaching_group.id"))
    # The member who wrote it (None: a coach, or ecoach itself).
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagement.id"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))  # the group's coach
    author: Mapped[str] = mapped_column(String(16))  # coach, coachee, system
    author_coach_id: Mapped[int | None] = mapped_column(ForeignKey("coach.id"))
    kind: Mapped[str] = mapped_column(String(16))  # message, nudge, session
    author_name: Mapped[str] = sealed()
    body_text: Mapped[str] = sealed()
    external_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class GroupSession(Base):
    __tablename__ = "group_session"
    __table_args__ = (Index("ix_group_session_group", "group_id", "booking_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("coaching_group.id"))
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SupervisionItem(Base):
    __tablename__ = "supervision_item"
    __table_args__ = (
        UniqueConstraint("supervisor_id", "exchange_id", name="uq_supervision_item_exchange"),
        Index("ix_supervision_item_reader", "supervisor_id", "engagement_id", "exchange_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"))
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    shared_at: Mapped[datetime] = mapped_column(UtcDateTime())
