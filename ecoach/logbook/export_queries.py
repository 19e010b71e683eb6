"""What may leave ecoach for supervision or intervision (the pseudonymised export,
``ecoach.core.pseudonymise``): the exchanges an export may use. Private notes and other
internal entries never do; an export reads the logbook through this query only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.models import Engagement, Exchange


async def get_exportable_exchanges(session: AsyncSession, coach_id: int, engagement_id: int, *,
                                   exchange_ids: list[int] | None = None, limit: int = 1000) -> list[Exchange]:
    """The coach's own engagement's exchanges that the coachee could read too (no private
    notes, no internal entries), in logbook order; ``exchange_ids`` narrows to a selection."""
    stmt = (
        select(Exchange)
        .join(Engagement, Engagement.id == Exchange.engagement_id)
        .where(Engagement.coach_id == coach_id, Exchange.engagement_id == engagement_id,
               Exchange.direction != "internal")
    )
    if exchange_ids is not None:
        stmt = stmt.where(Exchange.id.in_(exchange_ids))
    return list((await session.execute(stmt.order_by(Exchange.id).limit(limit))).scalars())
