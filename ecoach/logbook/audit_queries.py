"""Reading the audit trail: a coach's own entries, or the practice's (administrators),
newest first, filtered by kind and date, a page at a time.

A page continues after the last entry shown (``before_seq``): by (time, place in the
chain), a range on the index ``(coach_id, at, seq)`` or ``(at, seq)``, so a page costs the
same on the first day and after years, whatever the date filter.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.audit_models import AuditEntry
from ecoach.logbook.models import Coach, Coachee, Engagement, UtcDateTime


@dataclass(frozen=True)
class TrailFilter:
    kinds: Collection[str] | None = None  # None: every kind
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    before_seq: int | None = None  # the page after the one that ended with this entry


async def get_trail(session: AsyncSession, coach_id: int | None, given: TrailFilter, *,
                    limit: int) -> list[AuditEntry]:
    """``coach_id``: the entries in that coach's trail (about them: what they did, and
    what was done to their account); None: the whole practice's."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.seq.desc()).limit(limit)
    if coach_id is not None:
        query = query.where(AuditEntry.coach_id == coach_id)
    if given.kinds is not None:
        query = query.where(AuditEntry.kind.in_(list(given.kinds)))
    if given.since is not None:
        query = query.where(AuditEntry.at >= given.since)
    if given.until is not None:
        query = query.where(AuditEntry.at < given.until)
    if given.before_seq is not None:
        last = await session.get(AuditEntry, given.before_seq)
        if last is not None:
            query = query.where(tuple_(AuditEntry.at, AuditEntry.seq)
                                < tuple_(bindparam("last_at", last.at, type_=UtcDateTime()), last.seq))
    return list((await session.execute(query)).scalars())


async def get_coachee_names(session: AsyncSession, coach_id: int, engagement_ids: Iterable[int | None]) -> dict[int, str]:
    """Names for the coach's own engagements among ``engagement_ids`` (shown beside the
    entries, never stored in them; erased or handed-over engagements have none)."""
    ids = sorted({i for i in engagement_ids if i is not None})
    if not ids:
        return {}
    rows = await session.execute(
        select(Engagement.id, Coachee.name).join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(Engagement.id.in_(ids), Engagement.coach_id == coach_id))
    return {int(i): name for i, name in rows.all()}


async def get_coach_names(session: AsyncSession, coach_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted({i for i in coach_ids if i is not None})
    if not ids:
        return {}
    rows = await session.execute(select(Coach.id, Coach.name).where(Coach.id.in_(ids)))
    return {int(i): name for i, name in rows.all()}
