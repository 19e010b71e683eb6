"""Reading what is shared with a supervisor (``supervision_item``), and the team panel.

A supervisor reads an exchange only while they are the engagement's supervisor and the
owner shared that exchange with them; internal entries (private notes) never, even if a
row said otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.group_models import SUPERVISOR, EngagementMember, SupervisionItem
from ecoach.logbook.models import Coach, Engagement, Exchange


@dataclass(frozen=True)
class SharedSummary:
    engagement_id: int
    owner_name: str
    count: int
    last_shared_at: datetime


@dataclass(frozen=True)
class SharedCase:
    engagement_id: int
    owner_id: int
    owner_name: str
    exchanges: list[Exchange]


def _visible(supervisor_id: int):  # type: ignore[no-untyped-def]
    """Items whose reader is still the engagement's supervisor."""
    return (select(SupervisionItem)
            .join(EngagementMember, (EngagementMember.engagement_id == SupervisionItem.engagement_id)
                  & (EngagementMember.coach_id == SupervisionItem.supervisor_id)
                  & (EngagementMember.role == SUPERVISOR))
            .where(SupervisionItem.supervisor_id == supervisor_id))


async def get_shared_summaries(session: AsyncSession, supervisor_id: int) -> list[SharedSummary]:
    items = _visible(supervisor_id).subquery()
    stmt = (select(items.c.engagement_id, Coach.name, func.count(), func.max(items.c.shared_at))
            .join(Engagement, Engagement.id == items.c.engagement_id)
            .join(Coach, Coach.id == Engagement.coach_id)
            .group_by(items.c.engagement_id, Coach.name)
            .order_by(func.max(items.c.shared_at).desc()))
    return [SharedSummary(*row) for row in await session.execute(stmt)]


async def get_shared_case(session: AsyncSession, supervisor_id: int, engagement_id: int) -> SharedCase | None:
    ids = _visible(supervisor_id).where(SupervisionItem.engagement_id == engagement_id).with_only_columns(
        SupervisionItem.exchange_id)
    stmt = (select(Exchange).where(Exchange.id.in_(ids), Exchange.engagement_id == engagement_id,
                                   Exchange.direction != "internal").order_by(Exchange.id))
    exchanges = list((await session.execute(stmt)).scalars())
    if not exchanges:
        return None
    owner = (await session.execute(select(Coach.id, Coach.name).join(Engagement, Engagement.coach_id == Coach.id)
                                   .where(Engagement.id == engagement_id))).one()
    return SharedCase(engagement_id, owner[0], owner[1], exchanges)


async def get_shared_ids(session: AsyncSession, engagement_id: int) -> dict[int, set[int]]:
    """Per supervisor of this engagement, the exchange ids shared with them (the owner's panel)."""
    found: dict[int, set[int]] = {}
    stmt = select(SupervisionItem.supervisor_id, SupervisionItem.exchange_id).where(
        SupervisionItem.engagement_id == engagement_id)
    for supervisor_id, exchange_id in await session.execute(stmt):
        found.setdefault(supervisor_id, set()).add(exchange_id)
    return found


async def is_supervisor_anywhere(session: AsyncSession, coach_id: int) -> bool:
    return await session.scalar(select(EngagementMember.id).where(
        EngagementMember.coach_id == coach_id, EngagementMember.role == SUPERVISOR).limit(1)) is not None
