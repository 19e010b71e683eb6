"""Reading the audit trail: a coach's own entries, or the practice's (administrators),
newest first, filtered by kind and date, a page at a time (by ``seq``, an index scan)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.audit_models import AuditEntry
from ecoach.logbook.models import Coach, Coachee, Engagement


@dataclass(frozen=True)
class TrailFilter:
    kinds: Collection[str] | None = None  # None: every kind
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    before_seq: int | None = None  # the page after the one that ended here


async def get_trail(session: AsyncSession, coach_id: int | None, given: TrailFilter, *,
                    limit: int) -> list[AuditEntry]:
    """``coach_id``: the entries in that coach's trail (about them, or done by them);
    None: the whole practice's."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if coach_id is not None:
        query = query.where(or_(AuditEntry.coach_id == coach_id, AuditEntry.actor_id == coach_id))
    if given.kinds is not None:
        query = query.where(AuditEntry.kind.in_(list(given.kinds)))
    if given.since is not None:
        query = query.where(AuditEntry.at >= given.since)
    if given.until is not None:
        query = query.where(AuditEntry.at < given.until)
    if given.before_seq is not None:
        query = query.where(AuditEntry.seq < given.before_seq)
    return list((await session.execute(query)).scalars())


async def get_coachee_names(session: AsyncSession, coach_id: int, engagement_ids: Iterable[int]) -> dict[int, str]:
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
