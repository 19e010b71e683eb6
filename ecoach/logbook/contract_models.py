"""Tables of the coaching contract: versions, goals, goal scores, acceptances, personal
links, the sponsor contact, progress summaries for the sponsor, the coach's template.

A **contract** has numbered versions per engagement. A version is drafted (``draft``),
offered to the parties (``offered``: frozen from then on), and ``accepted`` once the
coachee and, in a triangular contract, the sponsor have accepted it; offering a newer
version marks the older offered ones ``superseded``, and its acceptance the older
accepted one. The version **in force** is the newest accepted one (before any acceptance:
the newest offered one).

A **goal** keeps its identity across versions (``goal``), so its scores form one line
on the progress chart even when a later version rephrases it; each version phrases it in
``contract_goal`` (title, indicators, the score when it was drafted). Every score, from
whatever source, is a ``goal_score`` row.

Everything that says something about the coachee is sealed with the engagement's key.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, JsonType, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

MAX_GOALS = 3
STATUSES = ("draft", "offered", "accepted", "superseded")
# Where a goal score comes from: the contract (its version's starting score, counted when
# the coachee accepts it), a session's check-in, a review with the coach, or the coachee's
# own update.
SCORE_SOURCES = ("contract", "check_in", "review", "coachee")
PARTIES = ("coachee", "sponsor")
# What the sponsor may learn (the contract's confidentiality clause): attendance only, or
# also the progress summaries the coachee approved.
SPONSOR_SEES = ("attendance", "summaries")


class Contract(Base):
    """One version of an engagement's contract."""

    __tablename__ = "contract"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        UniqueConstraint("engagement_id", "version", name="uq_contract_version"),
        # One draft per engagement at a time, also when two pages start one at once.
        Index("uq_contract_draft", "engagement_id", unique=True,
              sqlite_where=text("status = 'draft'"), postgresql_where=text("status = 'draft'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    language: Mapped[str] = mapped_column(String(8))
    # A triangular contract: the sponsor is a party and accepts their part.
    triangular: Mapped[bool] = mapped_column(Boolean, default=False)
    sponsor_sees: Mapped[str] = mapped_column(String(16), default="attendance")
    sponsor_sees_goals: Mapped[bool] = mapped_column(Boolean, default=False)
    # What is asked of whom, practicalities, confidentiality, secrecy, the AI clause,
    # referral (``ecoach.core.contract_terms.TERM_FIELDS``).
    terms: Mapped[dict[str, Any]] = sealed(dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    offered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # by every party
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # SHA-256 of the offered version's words (terms, goals, parties' roles): what exactly
    # was accepted, shown with each acceptance and on the PDF.
    fingerprint: Mapped[str | None] = mapped_column(String(64))


class Goal(Base):
    """A goal's identity across contract versions."""

    __tablename__ = "goal"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ContractGoal(Base):
    """A goal as one contract version phrases it."""

    __tablename__ = "contract_goal"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        UniqueConstraint("contract_id", "position", name="uq_contract_goal_position"),
        UniqueConstraint("contract_id", "goal_id", name="uq_contract_goal_goal"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goal.id"), index=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1..MAX_GOALS
    title: Mapped[str] = sealed()  # SMART-phrased
    indicators: Mapped[list[str]] = sealed(dict)  # "how will you notice it is reached?"
    score: Mapped[int] = sealed(dict)  # 1-10 when this version was drafted


class GoalScore(Base):
    """One score of a goal on the 1-10 scale, with its source."""

    __tablename__ = "goal_score"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (Index("ix_goal_score_goal", "engagement_id", "goal_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goal.id"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))  # the version in force
    score: Mapped[int] = sealed(dict)
    source: Mapped[str] = mapped_column(String(16))  # SCORE_SOURCES
    # What the score came with: a check-in's or review's id, the acceptance's exchange id.
    source_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ContractAcceptance(Base):
    """A party's acceptance of one version: the name they gave and when (the timeline has
    the same as an exchange)."""

    __tablename__ = "contract_acceptance"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (UniqueConstraint("contract_id", "party", name="uq_contract_acceptance_party"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), index=True)
    party: Mapped[str] = mapped_column(String(16))  # PARTIES
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = sealed()
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))


class ContractLink(Base):
    """A party's personal link to the contract (the coachee's; the sponsor's, which is
    also their small page). Stored as a digest; the salt lets the server show it again
    (HMAC under the secret key); a new link replaces the old one."""

    __tablename__ = "contract_link"
    __table_args__ = (Index("ix_contract_link_owner", "engagement_id", "party"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    party: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SponsorContact(Base):
    """The engagement's sponsor (employer, client organisation): who receives what the
    contract allows them to learn."""

    __tablename__ = "sponsor_contact"
    __sealed_scope__ = Scope.engagement()

    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), primary_key=True)
    organisation: Mapped[str] = sealed()
    name: Mapped[str] = sealed()
    email: Mapped[str | None] = sealed(index="address")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SponsorSummary(Base):
    """A progress summary for the sponsor: the coach writes it, the coachee approves (or
    declines) it, and only an approved one reaches the sponsor's page."""

    __tablename__ = "sponsor_summary"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (Index("ix_sponsor_summary_engagement", "engagement_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    text: Mapped[str] = sealed()
    period_end: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting, approved, declined
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ContractTemplate(Base):
    """The coach's own contract template in one language (the default until they save
    one: ``ecoach.core.contract_terms.default_terms``). Practice text, no personal data."""

    __tablename__ = "contract_template"
    __table_args__ = (UniqueConstraint("coach_id", "language", name="uq_contract_template_language"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    language: Mapped[str] = mapped_column(String(8))
    terms: Mapped[dict[str, Any]] = mapped_column(JsonType)
    sponsor_sees: Mapped[str] = mapped_column(String(16), default="attendance")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
