"""Who may reach an engagement: the one place that decides it.

A coach reaches an engagement they own (``engagement.coach_id``) or co-coach
(``engagement_member`` with role ``co_coach``). A supervisor does not reach the
engagement at all: they read only the exchanges shared with them
(``supervision_queries``). Every coach-facing query that used to compare
``Engagement.coach_id`` with the coach goes through ``coached_by``; what only the owner
may do (erase, add or remove co-coaches and supervisors, put the coachee in a group)
uses ``get_owned_engagement``.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.group_models import CO_COACH, EngagementMember
from ecoach.logbook.models import Coach, Engagement

OWNER = "coach"


def co_coached_ids(coach_id: int):  # type: ignore[no-untyped-def]
    """The ids of the engagements this coach co-coaches (a subquery)."""
    return select(EngagementMember.engagement_id).where(
        EngagementMember.coach_id == coach_id, EngagementMember.role == CO_COACH)


def coached_by(coach_id: int) -> ColumnElement[bool]:
    """SQL: the engagement is this coach's own or one they co-coach."""
    return or_(Engagement.coach_id == coach_id, Engagement.id.in_(co_coached_ids(coach_id)))


async def co_coaches_any(session: AsyncSession, coach_id: int) -> bool:
    """Whether this coach co-coaches any engagement (one index lookup): the inbox keeps its
    fast, index-ordered query for everyone else."""
    return await session.scalar(co_coached_ids(coach_id).limit(1)) is not None


async def get_owned_engagement(session: AsyncSession, coach_id: int, engagement_id: int) -> Engagement | None:
    """The engagement if this coach owns it (not as co-coach), else None."""
    stmt = select(Engagement).where(Engagement.id == engagement_id, Engagement.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def role_on(session: AsyncSession, coach_id: int, engagement_id: int) -> str | None:
    """``coach`` (the owner), ``co_coach``, ``supervisor`` or None."""
    owner = await session.scalar(select(Engagement.coach_id).where(Engagement.id == engagement_id))
    if owner is None:
        return None
    if owner == coach_id:
        return OWNER
    return await session.scalar(select(EngagementMember.role).where(
        EngagementMember.engagement_id == engagement_id, EngagementMember.coach_id == coach_id))


async def co_coached(session: AsyncSession, coach_id: int) -> dict[int, int]:
    """The engagements this coach co-coaches, with their owners: {engagement id: owner id}."""
    stmt = (select(Engagement.id, Engagement.coach_id)
            .where(Engagement.id.in_(co_coached_ids(coach_id))))
    return {row[0]: row[1] for row in await session.execute(stmt)}


async def members_of(session: AsyncSession, engagement_id: int) -> list[tuple[EngagementMember, Coach]]:
    """The other coaches on an engagement (co-coaches, supervisors), in the order added."""
    stmt = (select(EngagementMember, Coach).join(Coach, Coach.id == EngagementMember.coach_id)
            .where(EngagementMember.engagement_id == engagement_id).order_by(EngagementMember.id))
    return [(row[0], row[1]) for row in await session.execute(stmt)]


async def coach_names(session: AsyncSession, engagement: Engagement) -> list[str]:
    """The coachee's coaches, owner first: what the coachee's page shows."""
    owner = await session.get(Coach, engagement.coach_id)
    names = [owner.name] if owner else []
    names += [coach.name for member, coach in await members_of(session, engagement.id) if member.role == CO_COACH]
    return names
