"""Passkeys (WebAuthn credentials) as a coach's second factor, and the challenges of the
ceremonies that make and use them.

A passkey's public key is not a secret; its credential id is the authenticator's name
for it. A challenge is a random nonce bound to one login (the ``auth_session`` row of the
browser that asked for it, half-way or full), one purpose and a short life; it is deleted
when used, so an answer to it is accepted once at most.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime


class CoachPasskey(Base):
    __tablename__ = "coach_passkey"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    # base64url of the credential id (at most 1023 bytes by the spec, so 1364 characters)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key, as the authenticator gave it
    # The authenticator's signature counter; a use must show a higher one (0: it keeps none).
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    transports: Mapped[str] = mapped_column(String(200), default="")  # comma-separated hints
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PasskeyChallenge(Base):
    __tablename__ = "passkey_challenge"
    __table_args__ = (Index("ix_passkey_challenge_session", "auth_session_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    auth_session_id: Mapped[int] = mapped_column(ForeignKey("auth_session.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # "register" or "login"
    challenge: Mapped[bytes] = mapped_column(LargeBinary)  # 32 random bytes
    name: Mapped[str] = mapped_column(String(100), default="")  # the passkey's name, when registering
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
