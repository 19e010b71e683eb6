"""Carrying out a retention plan: the warning, then the erasure (task handlers call these).

Each reads the plan again: an engagement that was reopened, re-planned or extended since
the task was scheduled is left alone (the re-planning moved the task already).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.erasure import do_erase_engagement
from ecoach.actions.privacy_mail import format_date, queue_notice
from ecoach.actions.retention import TASK_ERASE, WARN_BODY, WARN_SUBJECT, due_of, task_key
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.i18n import gettext_for
from ecoach.core.retention import schedule
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.logbook.privacy_models import RetentionPlan
from ecoach.logbook.tasks import schedule_task
from ecoach.settings import Settings

log = logging.getLogger(__name__)


async def _current(session: AsyncSession, engagement_id: int,
                   settings: Settings) -> tuple[Engagement, RetentionPlan, datetime] | None:
    engagement = await queries.get_engagement_by_id(session, engagement_id)
    plan = await pq.get_retention_plan(session, engagement_id)
    if engagement is None or plan is None or plan.erase_at is None:
        return None
    due = await due_of(session, engagement, plan, settings)
    return (engagement, plan, due) if due is not None else None


async def do_warn(session: AsyncSession, engagement_id: int, *, settings: Settings, now: datetime) -> bool:
    """Warn the coach of the coming erasure; True when warned."""
    found = await _current(session, engagement_id, settings)
    if found is None:
        return False
    engagement, plan, due = found
    if plan.warned_at is not None:
        return False
    moments = schedule(due, None, settings.retention.warn_days, now)
    if moments.warn_at > now:  # planned later meanwhile: its own task comes then
        return False
    plan.warned_at = now
    plan.erase_at = schedule(due, now, settings.retention.warn_days, now).erase_at
    await schedule_task(session, TASK_ERASE, plan.erase_at, {"engagement_id": engagement.id},
                        key=task_key(TASK_ERASE, engagement.id), now=now)
    await session.flush()
    await _tell_coach(session, engagement, plan, settings=settings, now=now)
    emit(session, topics.coach(engagement.coach_id), {"type": "retention", "engagement_id": engagement.id})
    log.info("engagement %s: the coach is warned of its erasure at %s", engagement.id, plan.erase_at.isoformat())
    return True


async def _tell_coach(session: AsyncSession, engagement: Engagement, plan: RetentionPlan, *, settings: Settings,
                      now: datetime) -> None:
    if not settings.mail.enabled:
        return
    coach = await queries.get_coach(session, engagement.coach_id)
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coach is not None and coachee is not None and plan.erase_at is not None
    _ = gettext_for(coach.language)
    values = {"coach": coach.name, "name": coachee.name,
              "date": format_date(plan.erase_at, coach.time_zone, coach.language),
              "closed": format_date(engagement.closed_at or now, coach.time_zone, coach.language),
              "url": f"{settings.base_url}/engagements/{engagement.id}#retention"}
    await queue_notice(session, settings, now, to_address=coach.email, to_name=coach.name,
                       subject=_(WARN_SUBJECT) % values, text=_(WARN_BODY) % values, engagement_id=engagement.id)


async def do_erase_when_due(session: AsyncSession, engagement_id: int, *, settings: Settings,
                            now: datetime) -> bool:
    """Erase the engagement if its moment has come and the coach was warned long enough
    before; True when erased."""
    found = await _current(session, engagement_id, settings)
    if found is None:
        return False
    engagement, plan, due = found
    if plan.warned_at is None:  # never erase unannounced: warn now, erase warn_days later
        await do_warn(session, engagement_id, settings=settings, now=now)
        return False
    erase_at = schedule(due, plan.warned_at, settings.retention.warn_days, now).erase_at
    if erase_at > now + timedelta(seconds=1):
        await schedule_task(session, TASK_ERASE, erase_at, {"engagement_id": engagement.id},
                            key=task_key(TASK_ERASE, engagement.id), now=now)
        return False
    await erase_engagement(session, engagement, now=now)
    log.info("engagement %s erased by its retention plan", engagement_id)
    return True


async def erase_engagement(session: AsyncSession, engagement: Engagement, *, now: datetime) -> None:
    """The erasure itself: the same action as the coach's "Erase" (every row, the data keys:
    crypto-shredding), recorded as erased by the retention policy, no coach."""
    await do_erase_engagement(session, engagement, by="retention", coach_id=None, now=now)
