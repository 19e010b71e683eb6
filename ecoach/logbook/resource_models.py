"""Tables of the resource library and of files in the chat.

- ``resource``: what a coach keeps to share again (a text, a link, a file, an exercise);
  the coach's own data, sealed with the coach's key until it is shared.
- ``resource_term``: blind-indexed words and tags of a resource, for search without
  storing them readable.
- ``resource_share``: a copy of a resource as it was shared into an engagement (sealed
  with the engagement's key); its exchange is the entry in the timeline, and a shared
  file is an ``attachment`` of that exchange, like a mail's.
- ``exercise_answer``: a coachee's answers to a shared exercise (once per share).
- ``attachment_preview``: a re-encoded, small copy of an image attachment.

Every row of an engagement refers to it (directly or through its exchange), so erasing
the engagement removes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

KINDS = ("text", "link", "file", "exercise")


class Resource(Base):
    __tablename__ = "resource"
    __sealed_scope__ = Scope.coach()
    __table_args__ = (Index("ix_resource_coach", "coach_id", "updated_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = sealed()
    body: Mapped[str | None] = sealed()  # the text; for a link, file or exercise: an introduction
    url: Mapped[str | None] = sealed()
    questions: Mapped[list | None] = sealed(dict)  # type: ignore[type-arg]  # an exercise's questions
    tags: Mapped[list | None] = sealed(dict)  # type: ignore[type-arg]
    file_name: Mapped[str | None] = sealed()
    file_type: Mapped[str | None] = mapped_column(String(120))
    file_size: Mapped[int | None] = mapped_column(Integer)
    file_data: Mapped[bytes | None] = sealed(bytes)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ResourceTerm(Base):
    """One searchable word (or ``tag:<tag>``) of a resource, as a keyed hash."""

    __tablename__ = "resource_term"
    __table_args__ = (Index("ix_resource_term_lookup", "coach_id", "term"),)

    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    term: Mapped[str] = mapped_column(String(32), primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))


class ResourceShare(Base):
    __tablename__ = "resource_share"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        Index("ix_resource_share_engagement", "engagement_id", "id"),
        Index("ix_resource_share_resource", "resource_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"), unique=True)
    # The library item it came from; kept when the coach deletes that item later.
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = sealed()
    body: Mapped[str | None] = sealed()
    url: Mapped[str | None] = sealed()
    questions: Mapped[list | None] = sealed(dict)  # type: ignore[type-arg]
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))
    shared_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ExerciseAnswer(Base):
    __tablename__ = "exercise_answer"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (UniqueConstraint("share_id", name="uq_exercise_answer_share"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("resource_share.id"))
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), index=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"))
    answers: Mapped[list] = sealed(dict)  # type: ignore[type-arg]
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AttachmentPreview(Base):
    """A thumbnail of an image attachment, decoded and encoded anew (PNG or JPEG)."""

    __tablename__ = "attachment_preview"
    __sealed_scope__ = Scope.exchange()

    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachment.id"), primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = sealed(bytes)
