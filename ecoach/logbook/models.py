"""SQLAlchemy 2 models. The logbook (``exchange``) is append-only.

Inbox fields on ``engagement`` (last exchange, waiting since, unread) are kept in the same
transaction as every exchange insert, so the inbox is one indexed query, never a scan.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    DateTime,
    JSON,
    ForeignKey,
    Index,
    func,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ecoach.logbook.sealed import Scope, Sealable, sealed

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


JsonType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(Sealable, DeclarativeBase):
    """Every model; ``sealed()`` fields store personal data encrypted (``ecoach.logbook.sealed``)."""

    metadata = MetaData(naming_convention=NAMING)


class Coach(Base):
    __tablename__ = "coach"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="nl")
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Amsterdam")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # "admin" may invite, deactivate and hand over coaches (account_models has the rest).
    role: Mapped[str] = mapped_column(String(16), default="coach")
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Seals the coach's personal data that belongs to no engagement (e.g. held mail).
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_key.id"))


class Coachee(Base):
    __tablename__ = "coachee"
    __sealed_scope__ = Scope.own("coachee")

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    name: Mapped[str] = sealed()
    # Inbound mail without a reply token finds its engagement by the sender's address:
    # email_index (trimmed, case-insensitive keyed hash) is what it compares.
    email: Mapped[str | None] = sealed(index="address")
    language: Mapped[str] = mapped_column(String(8), default="nl")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_key.id"))  # seals the coachee's record



class Engagement(Base):
    __tablename__ = "engagement"
    __sealed_scope__ = Scope.own("engagement")
    __table_args__ = (
        # Inbox: a coach's engagements, longest-waiting first, then most recent.
        Index("ix_engagement_inbox", "coach_id", "waiting_since", "last_exchange_at"),
        Index("ix_engagement_recent", "coach_id", "last_exchange_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    coachee_id: Mapped[int] = mapped_column(ForeignKey("coachee.id"), index=True)
    sponsor_name: Mapped[str | None] = sealed()
    sponsor_email: Mapped[str | None] = sealed()
    language: Mapped[str] = mapped_column(String(8))
    time_zone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Inbox summary, maintained with every exchange insert.
    last_exchange_id: Mapped[int | None] = mapped_column(BigId)
    last_exchange_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_channel: Mapped[str | None] = mapped_column(String(16))
    last_direction: Mapped[str | None] = mapped_column(String(16))
    last_snippet: Mapped[str | None] = sealed()
    last_inbound_channel: Mapped[str | None] = mapped_column(String(16))
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    # The earliest open commitment's due time (availability_models; kept with commitments).
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Seals everything of this engagement (its logbook, mail, files, sessions, nudges);
    # erasing the engagement destroys it.
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_key.id"))

    coachee: Mapped[Coachee] = relationship(lazy="raise")


class Exchange(Base):
    """One entry in an engagement's logbook. Never updated except delivery state."""

    __tablename__ = "exchange"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        UniqueConstraint("engagement_id", "external_id", name="uq_exchange_external"),
        Index("ix_exchange_timeline", "engagement_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(16))
    author_name: Mapped[str] = sealed()
    body_text: Mapped[str] = sealed()
    body_html: Mapped[str] = sealed()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    external_id: Mapped[str] = mapped_column(String(255))
    delivery_state: Mapped[str] = mapped_column(String(16), default="stored")
    # The relay's reason, with e-mail addresses taken out (core.text.redact_addresses).
    delivery_detail: Mapped[str | None] = mapped_column(String(500))
    # Channel details: for mail the subject, Message-ID, threading ids and parse flags.
    meta: Mapped[dict | None] = sealed(dict)  # type: ignore[type-arg]
    # The search index's keyed tokens of body_text (core.crypto.text_tokens): no word of it.
    search_tokens: Mapped[str | None] = mapped_column(Text)


class ChatLink(Base):
    __tablename__ = "chat_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    coachee_seen_id: Mapped[int | None] = mapped_column(BigId)
    # With the server's secret key the link can be shown again (and put in notification
    # mails); the database alone does not reveal it.
    salt: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    scope: Mapped[str] = mapped_column(String(16), default="read-write")  # or "read"
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# The mail channel's tables belong to the same metadata (migrations, autogenerate).
from ecoach.logbook import mail_models  # noqa: E402,F401
from ecoach.logbook import booking_models  # noqa: E402,F401
from ecoach.logbook import availability_models  # noqa: E402,F401
from ecoach.logbook import task_models  # noqa: E402,F401
from ecoach.logbook import nudge_models  # noqa: E402,F401
from ecoach.logbook import account_models  # noqa: E402,F401
from ecoach.logbook import webhook_models  # noqa: E402,F401
from ecoach.logbook import key_models  # noqa: E402,F401
from ecoach.logbook import contract_models  # noqa: E402,F401
from ecoach.logbook import session_models  # noqa: E402,F401
from ecoach.logbook import privacy_models  # noqa: E402,F401
from ecoach.logbook import crisis_models  # noqa: E402,F401
from ecoach.logbook import billing_models  # noqa: E402,F401
from ecoach.logbook import resource_models  # noqa: E402,F401
from ecoach.logbook import passkey_models  # noqa: E402,F401
from ecoach.logbook import group_models  # noqa: E402,F401
