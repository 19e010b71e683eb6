"""Erasure (the right to be forgotten): an engagement, or a coachee with all their
engagements, deleted for good.

In one transaction: every row of it in every table (``ecoach.logbook.erasure``), its
scheduled tasks and queued mail, the coachee's held mail and intake requests, and its data
keys (crypto-shredding: what was sealed with them cannot be opened any more, wherever a
copy of it is). What remains is a record that an erasure happened: when, by whom, what
kind, how many rows; no name, no address, no word of it.

After the commit the coachee's open chat closes, the coach's pages update, and every
server process forgets the destroyed keys (``topics.KEYS``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ecoach.actions.errors import ActionError, N_
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.erasure import data_keys_of, delete_planned, plan
from ecoach.logbook.key_models import DataKeyRecord, DataKeyWrap, Erasure
from ecoach.logbook.mail_models import Quarantine
from ecoach.logbook.models import ChatLink, Coachee, Engagement

log = logging.getLogger(__name__)

BY = ("coach", "command", "retention")


def check_erase_confirmation(coachee_name: str, typed: Any) -> None:
    """The coach typed the coachee's name (spacing and case aside)."""
    def norm(value: str) -> str:
        return " ".join(value.split()).casefold()

    if not isinstance(typed, str) or not typed.strip() or norm(typed) != norm(coachee_name):
        raise ActionError("erase_confirmation", N_("To erase, type the coachee's name exactly as it is shown."))


@dataclass(frozen=True)
class Erased:
    erasure_id: int
    kind: str
    engagement_ids: tuple[int, ...]
    counts: dict[str, int]


async def do_erase_engagement(session: AsyncSession, engagement: Engagement, *, by: str,
                              coach_id: int | None, now: datetime) -> Erased:
    """Erase one engagement; its coachee too when they have no other engagement."""
    others = (await session.execute(sa.select(sa.func.count()).select_from(Engagement).where(
        Engagement.coachee_id == engagement.coachee_id, Engagement.id != engagement.id))).scalar_one()
    if not others:
        coachee = await session.get(Coachee, engagement.coachee_id)
        assert coachee is not None  # foreign key
        return await _erase(session, Coachee.__table__, Coachee.id == coachee.id, kind="engagement",
                            subject_id=engagement.id, by=by, coach_id=coach_id, now=now,
                            address_of=coachee)
    return await _erase(session, Engagement.__table__, Engagement.id == engagement.id, kind="engagement",
                        subject_id=engagement.id, by=by, coach_id=coach_id, now=now)


async def do_erase_coachee(session: AsyncSession, coachee: Coachee, *, by: str, coach_id: int | None,
                           now: datetime) -> Erased:
    """Erase a coachee, all their engagements, and their mail held for their coach."""
    return await _erase(session, Coachee.__table__, Coachee.id == coachee.id, kind="coachee",
                        subject_id=coachee.id, by=by, coach_id=coach_id, now=now, address_of=coachee)


async def _erase(session: AsyncSession, root: sa.Table, where: sa.ColumnElement[bool], *, kind: str,
                 subject_id: int, by: str, coach_id: int | None, now: datetime,
                 address_of: Coachee | None = None) -> Erased:
    if by not in BY:
        raise ValueError(f"erased by must be one of {BY}")
    # Held mail and intake requests from the coachee's address (no foreign key leads there).
    extra = _by_address(address_of) if address_of is not None and address_of.email_index else []
    done = await session.run_sync(lambda s: _delete(s, root, where, extra))
    engagements, digests, coaches, keys, counts = done
    record = Erasure(kind=kind, subject_id=subject_id, erased_at=now, erased_by=by, coach_id=coach_id,
                     counts=counts)
    session.add(record)
    await session.flush()
    for digest in digests:
        emit(session, topics.chat_link(digest), {"type": "erased"})
    for engagement_id, owner in zip(engagements, coaches):
        emit(session, [topics.engagement(engagement_id), topics.coach(owner)],
             {"type": "status", "engagement_id": engagement_id, "status": "erased"})
    if keys:
        emit(session, topics.KEYS, {"type": "keys_destroyed", "key_ids": sorted(keys)})
    log.info("erasure %s: %s %s by %s (%d rows)", record.id, kind, subject_id, by, sum(counts.values()))
    return Erased(record.id, kind, tuple(engagements), counts)


def _by_address(coachee: Coachee) -> list[tuple[sa.Table, sa.ColumnElement[bool]]]:
    index = coachee.email_index
    return [
        (Quarantine.__table__, sa.and_(Quarantine.from_address_index == index, Quarantine.coach_id == coachee.coach_id)),
        (Booking.__table__, sa.and_(Booking.attendee_email_index == index, Booking.coach_id == coachee.coach_id,
                                    Booking.engagement_id.is_(None))),
    ]


def _delete(session: Session, root: sa.Table, where: sa.ColumnElement[bool],
            extra: list[tuple[sa.Table, sa.ColumnElement[bool]]]) -> tuple[list[int], list[str], list[int], set[int], dict[str, int]]:
    conn = session.connection()
    planned = plan(root, where)
    engagement_rows = planned.get(Engagement.__table__)
    found = []
    if engagement_rows is not None:
        lock = sa.select(Engagement.id, Engagement.coach_id).where(engagement_rows).order_by(Engagement.id)
        if conn.dialect.name == "postgresql":
            # Writers lock their engagement (FOR KEY SHARE) before adding to it: none is
            # half-way when the rows go, and none starts after.
            lock = lock.with_for_update()
        found = conn.execute(lock).all()
    ids = [row.id for row in found]
    digests = list(conn.execute(sa.select(ChatLink.token_hash).where(ChatLink.engagement_id.in_(ids))).scalars())
    keys = data_keys_of(conn, planned)
    counts = delete_planned(conn, planned)
    for table, condition in extra:
        for name, n in delete_planned(conn, plan(table, condition)).items():
            counts[name] = counts.get(name, 0) + n
    if keys:
        conn.execute(sa.delete(DataKeyWrap).where(DataKeyWrap.data_key_id.in_(keys)))
        conn.execute(sa.delete(DataKeyRecord).where(DataKeyRecord.id.in_(keys)))
        counts["data_key"] = len(keys)
    return ids, digests, [row.coach_id for row in found], keys, counts
