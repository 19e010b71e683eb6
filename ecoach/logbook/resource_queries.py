"""Reading the resource library, shares, answers and chat files (each scoped by its
coach or engagement: another coach's row is simply not found)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.mail_models import Attachment
from ecoach.logbook.models import Coachee, Engagement, Exchange
from ecoach.logbook.resource_models import AttachmentPreview, ExerciseAnswer, Resource, ResourceShare, ResourceTerm


async def get_resource(session: AsyncSession, coach_id: int, resource_id: int) -> Resource | None:
    found = await session.get(Resource, resource_id)
    return found if found is not None and found.coach_id == coach_id else None


async def get_resources(session: AsyncSession, coach_id: int, *, terms: list[str] | None = None,
                        limit: int = 200) -> list[Resource]:
    """The coach's resources, newest first; with ``terms`` (blind-indexed words and tags)
    only those that have every one of them."""
    stmt = select(Resource).where(Resource.coach_id == coach_id)
    if terms:
        matching = (
            select(ResourceTerm.resource_id)
            .where(ResourceTerm.coach_id == coach_id, ResourceTerm.term.in_(set(terms)))
            .group_by(ResourceTerm.resource_id)
            .having(func.count(ResourceTerm.term) == len(set(terms)))
        )
        stmt = stmt.where(Resource.id.in_(matching))
    stmt = stmt.order_by(Resource.updated_at.desc(), Resource.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class ShareRow:
    share: ResourceShare
    coachee_name: str
    engagement_status: str


async def get_shares_of_resource(session: AsyncSession, coach_id: int, resource_id: int) -> list[ShareRow]:
    """Where a resource went: per share the coachee and whether an exercise was answered."""
    stmt = (
        select(ResourceShare, Coachee.name, Engagement.status)
        .join(Engagement, Engagement.id == ResourceShare.engagement_id)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(ResourceShare.resource_id == resource_id, Engagement.coach_id == coach_id)
        .order_by(ResourceShare.id)
    )
    return [ShareRow(row[0], row[1], row[2]) for row in (await session.execute(stmt)).all()]


async def count_open_exercises(session: AsyncSession, coach_id: int) -> dict[int, tuple[int, int]]:
    """Per resource of the coach: (times shared, times answered)."""
    stmt = (
        select(ResourceShare.resource_id, func.count(ResourceShare.id), func.count(ResourceShare.answered_at))
        .join(Resource, Resource.id == ResourceShare.resource_id)
        .where(Resource.coach_id == coach_id)
        .group_by(ResourceShare.resource_id)
    )
    return {row[0]: (row[1], row[2]) for row in (await session.execute(stmt)).all()}


async def get_shares(session: AsyncSession, engagement_id: int, *, limit: int = 200) -> list[ResourceShare]:
    """What was shared with an engagement, newest first."""
    stmt = (select(ResourceShare).where(ResourceShare.engagement_id == engagement_id)
            .order_by(ResourceShare.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def get_share_by_exchange(session: AsyncSession, engagement_id: int, exchange_id: int) -> ResourceShare | None:
    stmt = select(ResourceShare).where(ResourceShare.exchange_id == exchange_id,
                                       ResourceShare.engagement_id == engagement_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_answer(session: AsyncSession, share_id: int) -> ExerciseAnswer | None:
    stmt = select(ExerciseAnswer).where(ExerciseAnswer.share_id == share_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_exchange_file(session: AsyncSession, engagement_id: int, exchange_id: int, *,
                            coachee: bool) -> Attachment | None:
    """The file of a chat exchange (or a shared file) of this engagement. The coachee's
    side reaches only what was not an internal note."""
    stmt = (
        select(Attachment)
        .join(Exchange, Exchange.id == Attachment.exchange_id)
        .where(Attachment.exchange_id == exchange_id, Exchange.engagement_id == engagement_id)
        .order_by(Attachment.id)
        .limit(1)
    )
    if coachee:
        stmt = stmt.where(Exchange.direction != "internal")
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        return None
    exchange = await session.get(Exchange, exchange_id)
    return found if exchange is not None and (exchange.meta or {}).get("file") else None


async def get_preview(session: AsyncSession, attachment_id: int) -> AttachmentPreview | None:
    return await session.get(AttachmentPreview, attachment_id)

