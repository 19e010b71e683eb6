"""Tables of the session structure: forms sent to the coachee through a personal link
(check-in before a session, feedback after it, the evaluation and the four-supports
questionnaire) and the coach's side of that questionnaire; the close of a session; the
review prompts every few sessions.

Answers and notes are personal data: stored sealed under the engagement's data key. A
form's link is a token of which only the digest is stored (its salt lets the server show
it again under the secret key, as booking links); ``replaced_at`` and ``expires_at`` say
why an old link no longer works.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

KINDS = ("checkin", "feedback", "evaluation", "supports")
ROUNDS = ("start", "end")


class FormRequest(Base):
    """One form for one respondent: sent (coachee, with a link) or opened (coach), then
    answered once."""

    __tablename__ = "form_request"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        Index("ix_form_request_engagement", "engagement_id", "kind", "id"),
        Index("ix_form_request_booking", "booking_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"))  # check-in, feedback
    kind: Mapped[str] = mapped_column(String(16))  # checkin, feedback, evaluation, supports
    round: Mapped[str | None] = mapped_column(String(8))  # supports: start, end
    respondent: Mapped[str] = mapped_column(String(8))  # coachee, coach
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # coachee forms only
    salt: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replaced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # a newer link was sent
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answers: Mapped[dict | None] = sealed(dict)  # type: ignore[type-arg]
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))  # the answers in the logbook


class SessionClose(Base):
    """The coach closed a session: the summary (an exchange, shared or private) and the
    action steps agreed (``action_step.booking_id``). Once per session."""

    __tablename__ = "session_close"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id"), unique=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionReview(Base):
    """After every n-th session: the coach looks at the goal scores so far and decides to
    continue, adjust the goals (a new contract version) or round off."""

    __tablename__ = "session_review"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (UniqueConstraint("engagement_id", "session_number", name="uq_session_review_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"))
    session_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision: Mapped[str | None] = mapped_column(String(16))  # continue, adjust, round_off
    note: Mapped[str | None] = sealed()
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))
