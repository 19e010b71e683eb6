"""Reading crisis flags and a coach's crisis resources. Coach-facing queries are scoped by
coach id: another coach's flags are simply not found."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.crisis.resources import CrisisResource, ResourceError, default_resources
from ecoach.logbook.crisis_models import OPEN, CrisisFlag, CrisisResources


async def get_open_flags(session: AsyncSession, coach_id: int, engagement_id: int) -> list[CrisisFlag]:
    stmt = (select(CrisisFlag)
            .where(CrisisFlag.coach_id == coach_id, CrisisFlag.engagement_id == engagement_id,
                   CrisisFlag.status == OPEN)
            .order_by(CrisisFlag.id))
    return list((await session.execute(stmt)).scalars())


async def get_flag(session: AsyncSession, coach_id: int, engagement_id: int, flag_id: int) -> CrisisFlag | None:
    stmt = select(CrisisFlag).where(CrisisFlag.id == flag_id, CrisisFlag.coach_id == coach_id,
                                    CrisisFlag.engagement_id == engagement_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_crisis_engagements(session: AsyncSession, coach_id: int) -> dict[int, int]:
    """The coach's engagements with an open flag: engagement id -> how many (an indexed
    lookup in ix_crisis_flag_coach; a handful of rows at most)."""
    stmt = (select(CrisisFlag.engagement_id, func.count())
            .where(CrisisFlag.coach_id == coach_id, CrisisFlag.status == OPEN)
            .group_by(CrisisFlag.engagement_id))
    return {engagement_id: int(n) for engagement_id, n in (await session.execute(stmt)).all()}


async def get_flagged_exchanges(session: AsyncSession, exchange_ids: Iterable[int]) -> set[int]:
    """Which of these exchanges raised a flag (still open or not)."""
    ids = sorted(set(exchange_ids))
    if not ids:
        return set()
    stmt = select(CrisisFlag.exchange_id).where(CrisisFlag.exchange_id.in_(ids))
    return set((await session.execute(stmt)).scalars())


async def get_resources(session: AsyncSession, coach_id: int, language: str) -> tuple[CrisisResource, ...]:
    """The coach's crisis resources for coachees of ``language``; the defaults until set."""
    return (await get_resources_for(session, {(coach_id, language)}))[(coach_id, language)]


async def get_resources_for(session: AsyncSession, wanted: set[tuple[int, str]]
                            ) -> dict[tuple[int, str], tuple[CrisisResource, ...]]:
    """``get_resources`` for several (coach, language) pairs in one query."""
    found: dict[tuple[int, str], tuple[CrisisResource, ...]] = {}
    if wanted:
        stmt = select(CrisisResources).where(CrisisResources.coach_id.in_(sorted({c for c, _ in wanted})))
        for row in (await session.execute(stmt)).scalars():
            found[(row.coach_id, row.language)] = _read(row.resources)
    return {pair: found.get(pair) or default_resources(pair[1]) for pair in wanted}


def _read(stored: object) -> tuple[CrisisResource, ...]:
    resources = []
    for item in stored if isinstance(stored, list) else []:
        try:
            resources.append(CrisisResource.from_dict(item if isinstance(item, dict) else {}))
        except ResourceError:
            continue  # checked when saved; a row edited by hand shows what still reads
    return tuple(resources)


async def has_custom_resources(session: AsyncSession, coach_id: int, language: str) -> bool:
    return await session.get(CrisisResources, (coach_id, language)) is not None
