"""Re-engagement: a coachee who has been quiet for the engagement's silence limit gets one
gentle check-in per silence (the coach is alerted when it goes out, see ``nudge_send``).

The daily check finds them with one statement over two index ranges
(``nudge_queries.find_silent``) and plans a check-in nudge for each; sending is the
nudge's own task, so quiet hours and one-a-day apply as to any nudge.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import nudges as plans
from ecoach.logbook import nudge_queries
from ecoach.logbook.models import Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)


async def do_plan_checkins(session: AsyncSession, *, settings: Settings, now: datetime) -> tuple[int, bool]:
    """Plan a check-in for every silent engagement (at most ``nudges.checkin_batch``);
    returns how many, and whether there may be more."""
    limit = settings.nudges.checkin_batch
    silent = await nudge_queries.find_silent(session, now, settings.nudges.silence_days, limit)
    if not silent:
        return 0, False
    rows = await session.execute(select(Engagement).where(Engagement.id.in_([s.engagement_id for s in silent])))
    engagements = {e.id: e for e in rows.scalars()}
    for found in silent:
        engagement = engagements[found.engagement_id]
        plan = await plans.get_or_create_plan(session, engagement, settings, now)
        plan.checkin_for = found.quiet_since  # answered: this silence is not found again
        occasion = found.quiet_since.strftime("%Y%m%dT%H%M%S")
        await plans.do_add_planned(session, engagement, kind=plans.CHECKIN, occasion=occasion, due_at=now,
                                   settings=settings, now=now)
    await session.flush()
    log.info("re-engagement check: %d check-in(s) planned", len(silent))
    return len(silent), len(silent) == limit
