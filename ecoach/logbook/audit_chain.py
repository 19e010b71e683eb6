"""Appending to the audit chain inside the transaction of the action it records, and
checking the whole chain.

An action registers its entries on the session (``ecoach.actions.audit.record_audit``);
they are written just before that session's transaction commits, so an entry exists
exactly when the action's changes do (a rollback takes both away). Appending updates the
head row first: ``UPDATE audit_head SET seq = seq + n ... RETURNING seq, hash``. That one
statement takes the lock that makes appends take turns, on PostgreSQL (the row lock,
held until commit; a waiting writer then reads the committed head) and on SQLite (the
database's write lock), across connections and processes: the chain never forks. The
lock is taken last (after the transaction's other writes are flushed) so it is held only
for the moment of the commit, and no two transactions can wait on each other through it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from ecoach.core.audit import Entry, Stored, Verdict, entry_hash, verify_entries
from ecoach.logbook.audit_models import HEAD_ID, AuditEntry, AuditHead
from ecoach.logbook.transactions import EventSession

log = logging.getLogger(__name__)

PENDING = "ecoach.audit"  # session.info key: entries waiting for the commit
VERIFY_BATCH = 20_000


@dataclass(frozen=True)
class PendingEntry:
    """An entry before it has its place in the chain (``seq``) and its hashes."""

    at: datetime
    kind: str
    actor_id: int | None
    coach_id: int | None
    engagement_id: int | None
    detail: dict[str, Any]
    via: str
    client: str
    device: str


def add_pending(session: Session, item: PendingEntry) -> None:
    session.info.setdefault(PENDING, []).append(item)


def pending(session: Session) -> list[PendingEntry]:
    return list(session.info.get(PENDING, ()))


@event.listens_for(EventSession, "before_commit")
def _append_pending(session: Session) -> None:
    # A savepoint's release is not the commit: entries wait for the real one.
    if session.in_nested_transaction():
        return
    items = session.info.pop(PENDING, None)
    if not items:
        return
    session.flush()  # the transaction's own writes first: the head's lock comes last
    append(session, items)


@event.listens_for(EventSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and session.info.pop(PENDING, None):
        log.debug("audit entries dropped with their rolled-back transaction")


def append(session: Session, items: Sequence[PendingEntry]) -> int:
    """Write ``items`` at the end of the chain (a sync session, inside its transaction).
    Returns the last entry's number."""
    head = session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq + len(items))
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    seq, prev = int(head.seq) - len(items), str(head.hash)
    rows = []
    for item in items:
        seq += 1
        entry = Entry(seq=seq, at=item.at, kind=item.kind, actor_id=item.actor_id, coach_id=item.coach_id,
                      engagement_id=item.engagement_id, detail=item.detail, via=item.via, client=item.client,
                      device=item.device)
        digest = entry_hash(entry, prev)
        rows.append({**item.__dict__, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    session.execute(insert(AuditEntry.__table__), rows)  # Core: no ORM bookkeeping for these rows
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=prev))
    return seq


COLUMNS = (AuditEntry.seq, AuditEntry.at, AuditEntry.kind, AuditEntry.actor_id, AuditEntry.coach_id,
           AuditEntry.engagement_id, AuditEntry.detail, AuditEntry.via, AuditEntry.client, AuditEntry.device,
           AuditEntry.prev_hash, AuditEntry.hash)


def stored(row: Any) -> Stored:
    entry = Entry(seq=int(row.seq), at=row.at, kind=row.kind, actor_id=row.actor_id, coach_id=row.coach_id,
                  engagement_id=row.engagement_id, detail=dict(row.detail or {}), via=row.via,
                  client=row.client, device=row.device)
    return Stored(entry, row.prev_hash, row.hash)


async def verify_chain(session: AsyncSession, *, batch: int = VERIFY_BATCH) -> Verdict:
    """Check every entry, oldest first, in batches (bounded memory), then that the head
    names the last entry (so entries cut off the end are noticed too)."""
    verdict = Verdict()
    after = 0
    while True:
        rows = (await session.execute(
            select(*COLUMNS).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch))).all()
        if not rows:
            break
        verify_entries((stored(row) for row in rows), verdict)
        if not verdict.ok:
            return verdict
        after = int(rows[-1].seq)
    head = await session.get(AuditHead, HEAD_ID)
    if head is None:
        verdict.broken, verdict.broken_at = "the chain's head row is missing", verdict.last_seq + 1
    elif head.seq != verdict.last_seq or head.hash != verdict.last_hash:
        verdict.broken = (f"the chain ends at entry {verdict.last_seq}, but its head names entry {head.seq}"
                          " (entries at the end were removed, or the head was changed)")
        verdict.broken_at = verdict.last_seq + 1
    return verdict
