"""Crisis signals: the flags raised on a coachee's messages, and each coach's crisis
resources.

A ``CrisisFlag`` hangs off its exchange and engagement: erasing the engagement deletes it
(``ecoach.logbook.erasure`` follows the foreign keys). What the detector recognised (the
coachee's own words) is sealed under the engagement's key; the rule names and categories
are lexicon codes, not personal data. ``CrisisResources`` are a coach's own texts (where
their coachees can get help), kept readable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, JsonType, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

# Flag states: open (the engagement is red on top of the inbox), false_alarm, handled.
OPEN, FALSE_ALARM, HANDLED = "open", "false_alarm", "handled"
RESOLUTIONS = (FALSE_ALARM, HANDLED)


class CrisisFlag(Base):
    __tablename__ = "crisis_flag"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        Index("ix_crisis_flag_engagement", "engagement_id", "id"),
        # The inbox's red rows: a coach's open flags.
        Index("ix_crisis_flag_coach", "coach_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"), index=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    channel: Mapped[str] = mapped_column(String(16))
    categories: Mapped[str] = mapped_column(String(200))  # space-separated Category values
    rules: Mapped[str] = mapped_column(String(1000))  # space-separated lexicon rule ids
    excerpts: Mapped[list | None] = sealed(list)  # type: ignore[type-arg] - the words recognised
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("coach.id"))


class CrisisResources(Base):
    """A coach's crisis resources for coachees of one language (``CrisisResource.to_dict``
    each); without a row the defaults for that language are shown."""

    __tablename__ = "crisis_resources"

    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    resources: Mapped[list] = mapped_column(JsonType)  # type: ignore[type-arg]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
