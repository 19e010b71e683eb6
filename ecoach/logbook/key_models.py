"""Tables of the keyring: data keys (stored only wrapped by a master key), the practice's
own keys, and the content-free record of every erasure.

A data key has one wrap per master key that knows it: ``ecoach keys rotate`` adds wraps
under the newest master key while servers keep using the old ones; ``ecoach keys retire``
deletes the old wraps once every data key has a new one. Erasing an engagement deletes
its data key with its wraps (crypto-shredding).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, JsonType, UtcDateTime


class DataKeyRecord(Base):
    __tablename__ = "data_key"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # engagement, coachee, coach, practice, search, blind
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DataKeyWrap(Base):
    """A data key encrypted (AES-GCM) under one master key; never the key itself."""

    __tablename__ = "data_key_wrap"

    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_key.id", ondelete="CASCADE"), primary_key=True)
    master_key_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PracticeKey(Base):
    """The practice's keys by purpose: "practice" (personal data of nobody yet, e.g. mail
    held for no coach), "search" (the search index's tokens), "blind" (address lookups)."""

    __tablename__ = "practice_key"

    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_key.id"))


class Erasure(Base):
    """That an erasure happened: when, by whom, what kind, how many rows. Never a name,
    an address or a word of what was erased."""

    __tablename__ = "erasure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # engagement, coachee
    subject_id: Mapped[int] = mapped_column(BigInteger)  # the erased engagement's or coachee's former id
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime())
    erased_by: Mapped[str] = mapped_column(String(16))  # coach, command, retention
    coach_id: Mapped[int | None] = mapped_column(BigInteger)  # the coach who erased, if one did
    counts: Mapped[dict[str, Any] | None] = mapped_column(JsonType)  # rows deleted per table
