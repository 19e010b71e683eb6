"""Coach account tables: server-side login sessions, two-factor authentication, recovery
codes, single-use account links (password reset, invitations) and login attempts.

Secrets are never stored as given: a session id, a recovery code and a link token are
kept as their SHA-256 digest (each carries enough randomness that no stretching is
needed); the TOTP secret is encrypted with a key derived from the server's secret key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime


class AuthSession(Base):
    """One login. The browser holds a random id; the row holds its digest, so a copied
    database cannot be used to log in, and ending the row ends the login everywhere."""

    __tablename__ = "auth_session"
    __table_args__ = (Index("ix_auth_session_coach", "coach_id", "ended_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "password": the password was right, the second factor is still to come; "full".
    stage: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    client: Mapped[str] = mapped_column(String(64), default="")


class CoachTotp(Base):
    """A coach's TOTP authenticator; ``confirmed_at`` is None while being set up."""

    __tablename__ = "coach_totp"

    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(300))  # Fernet-encrypted base32 secret
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The last time step a code was accepted for: a code is never accepted twice.
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AccountLink(Base):
    """A single-use, short-lived link mailed to a coach: a password reset or an invitation."""

    __tablename__ = "account_link"
    __table_args__ = (Index("ix_account_link_coach", "coach_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    purpose: Mapped[str] = mapped_column(String(16))  # "reset" or "invite"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginTry(Base):
    """A password (or second-factor) check: "pending" while it runs, "failed" after a
    wrong one. Reserved before the check, so parallel attempts are counted too."""

    __tablename__ = "login_try"
    __table_args__ = (
        Index("ix_login_try_account", "account", "at"),
        Index("ix_login_try_pair", "account", "client", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String(8))
