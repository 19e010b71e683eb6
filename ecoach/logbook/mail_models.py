"""Tables of the mail channel: the outbox, IMAP positions, inbound dedupe, quarantine,
attachments and the untouched original of every mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed


class MailOutbox(Base):
    """Save first, deliver second: a row per outgoing mail, written with its exchange."""

    __tablename__ = "mail_outbox"
    # Mail about an engagement under its key; the rest (to coaches) under the practice's.
    __sealed_scope__ = Scope.engagement() | Scope.practice()
    __table_args__ = (
        Index("ix_mail_outbox_due", "state", "next_attempt_at"),
        # Per recipient, mail goes out in order: the "older unfinished mail?" probe.
        Index("ix_mail_outbox_recipient", "recipient_index", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"), index=True)
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagement.id"))
    kind: Mapped[str] = mapped_column(String(32))  # reply, notification, auto_reply
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    sender: Mapped[str] = mapped_column(String(320))  # the practice's or coach's own address
    recipient: Mapped[str] = sealed(index="address")
    raw: Mapped[bytes] = sealed(bytes)
    state: Mapped[str] = mapped_column(String(16))  # queued, retrying, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(1000))  # addresses taken out
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MailboxCursor(Base):
    """How far an IMAP folder has been read: (UIDVALIDITY, last UID)."""

    __tablename__ = "mailbox_cursor"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200), unique=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class InboundMail(Base):
    """Every mail taken in, once: the dedupe record whatever became of it."""

    __tablename__ = "inbound_mail"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)
    source: Mapped[str] = mapped_column(String(200))  # mailbox name or "lmtp"
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String(16))  # exchange, quarantine, bounce
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))
    quarantine_id: Mapped[int | None] = mapped_column(ForeignKey("quarantine.id"))
    # A keyed hash of what the mail says (subject, text, attachments): a second mail with
    # the same Message-ID and other content is kept; the same content again is a re-delivery.
    content_key: Mapped[str | None] = mapped_column(String(80))


class Quarantine(Base):
    """Mail that could not be placed safely. Held until the coach assigns, releases or
    discards it; never dropped silently."""

    __tablename__ = "quarantine"
    __sealed_scope__ = Scope.coach() | Scope.practice()
    __table_args__ = (Index("ix_quarantine_coach", "coach_id", "status", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int | None] = mapped_column(ForeignKey("coach.id"))
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagement.id"))
    reason_code: Mapped[str] = mapped_column(String(64))
    reason_detail: Mapped[str] = mapped_column(String(1000))
    from_address: Mapped[str | None] = sealed(index="address")
    subject: Mapped[str] = sealed()
    snippet: Mapped[str] = sealed()
    raw: Mapped[bytes] = sealed(bytes)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # held, assigned, released, discarded
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))


class Attachment(Base):
    __tablename__ = "attachment"
    __sealed_scope__ = Scope.exchange()

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"), index=True)
    filename: Mapped[str] = sealed()
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = sealed(bytes)


class MailSource(Base):
    """The untouched original of an inbound mail, for 'show original'."""

    __tablename__ = "mail_source"
    __sealed_scope__ = Scope.exchange()

    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchange.id"), primary_key=True)
    raw: Mapped[bytes] = sealed(bytes)


class MailboxReader(Base):
    """Which server process reads an IMAP mailbox: exactly one at a time. The holder
    renews ``lease_until``; once it has passed (the holder died), another process takes
    the mailbox over."""

    __tablename__ = "mailbox_reader"

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid[:process name]
    lease_until: Mapped[datetime] = mapped_column(UtcDateTime())
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime())
