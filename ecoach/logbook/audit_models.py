"""The audit trail's tables: the entries (append-only) and the chain's head.

No foreign keys on purpose: erasing an engagement or a coachee deletes their rows, and
must never touch (or be blocked by) the content-free entries that mention their ids. A
database trigger refuses UPDATE, DELETE and TRUNCATE on ``audit_entry`` (migration 0600);
``audit_head`` only moves forward.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, JsonType, UtcDateTime

HEAD_ID = 1


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    # A coach's trail and the practice's, newest first (by time, then by place in the chain).
    __table_args__ = (
        Index("ix_audit_entry_coach", "coach_id", "at", "seq"),
        Index("ix_audit_entry_at", "at", "seq"),
    )

    # The chain's order: assigned under the head's lock, 1, 2, 3, ... without gaps.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                      autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # who did it (None: a coachee, the system)
    coach_id: Mapped[int | None] = mapped_column(BigInteger)  # whose trail it is in
    engagement_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType)
    via: Mapped[str] = mapped_column(String(8))
    client: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(60))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the newest entry's number and hash. Appending updates it first, so
    appends take turns (a row lock on PostgreSQL, the write lock on SQLite)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
