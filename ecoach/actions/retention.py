"""Retention: closed engagements are erased after a while, announced well before.

The practice's policy (``retention.erase_after_months``; 0: never) applies to every
engagement unless the coach chose otherwise for it (``do_set_keep``: its own months, or
never automatically). The plan of an engagement (``RetentionPlan``) holds the moment;
two keyed tasks carry it out (``ecoach.scheduler.retention``):

- ``retention.warn`` ``warn_days`` before: the coach is warned (inbox, and mail when on);
- ``retention.erase`` at the moment: the engagement is erased (``erase_engagement``), but
  never sooner than ``warn_days`` after the warning (``core.retention.schedule``).

The coach can extend (``do_extend``) up to the moment itself. Engagements are planned by
a daily pass (``do_plan_closed``) once they are closed, and again when the policy changed.
Each handler reads the plan again when it runs: a task that finds it moved does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, Conflict, N_
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.retention import NEVER, add_months, erase_due, months_kept, schedule
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook.models import Coach, Engagement
from ecoach.logbook.privacy_models import RetentionPlan
from ecoach.logbook.tasks import cancel_tasks, schedule_task
from ecoach.settings import Settings

log = logging.getLogger(__name__)

TASK_PLAN = "retention.plan"
TASK_WARN = "retention.warn"
TASK_ERASE = "retention.erase"
PLAN_BATCH = 200
EXTENSIONS = (1, 3, 6, 12)  # months the coach can extend by
MAX_KEEP = 1200

WARN_SUBJECT = N_("The logbook of %(name)s will be erased on %(date)s")
WARN_BODY = N_("Hello %(coach)s,\n\nThe engagement with %(name)s was closed on %(closed)s. As agreed, its "
               "logbook will be erased on %(date)s: every message, file and session, for good.\n\nTo keep it "
               "longer, extend it here before then: %(url)s")


def task_key(name: str, engagement_id: int) -> str:
    return f"{name}:{engagement_id}"


async def due_of(session: AsyncSession, engagement: Engagement, plan: RetentionPlan | None,
                 settings: Settings) -> datetime | None:
    """When the engagement is erased (before any warning), from its plan or the policy:
    months on the coach's calendar."""
    closed = engagement.closed_at if engagement.status == "closed" else None
    months = months_kept(plan.keep_months if plan else None, settings.retention.erase_after_months)
    return erase_due(closed, months, plan.extended_until if plan else None, await _zone(session, engagement))


async def _zone(session: AsyncSession, engagement: Engagement) -> str:
    coach = await session.get(Coach, engagement.coach_id)  # usually in the session already
    return coach.time_zone if coach is not None else "UTC"


async def _plan_of(session: AsyncSession, engagement: Engagement, settings: Settings, now: datetime) -> RetentionPlan:
    plan = await pq.get_retention_plan(session, engagement.id)
    if plan is None:
        plan = RetentionPlan(engagement_id=engagement.id, policy_months=settings.retention.erase_after_months,
                             updated_at=now)
        session.add(plan)
    return plan


async def do_replan(session: AsyncSession, engagement: Engagement, plan: RetentionPlan, *, settings: Settings,
                    now: datetime) -> RetentionPlan:
    """Plan the erasure anew (a new moment gets a new warning) and move the two tasks."""
    plan.policy_months = settings.retention.erase_after_months
    plan.warned_at = None
    plan.updated_at = now
    due = await due_of(session, engagement, plan, settings)
    if due is None:
        plan.erase_at = None
        await cancel_tasks(session, key=task_key(TASK_WARN, engagement.id))
        await cancel_tasks(session, key=task_key(TASK_ERASE, engagement.id))
    else:
        moments = schedule(due, None, settings.retention.warn_days, now)
        plan.erase_at = moments.erase_at
        await schedule_task(session, TASK_WARN, moments.warn_at, {"engagement_id": engagement.id},
                            key=task_key(TASK_WARN, engagement.id), now=now)
        await schedule_task(session, TASK_ERASE, moments.erase_at, {"engagement_id": engagement.id},
                            key=task_key(TASK_ERASE, engagement.id), now=now)
    await session.flush()
    emit(session, topics.coach(engagement.coach_id), {"type": "retention", "engagement_id": engagement.id})
    return plan


def check_keep(choice: object, months: object) -> int | None:
    """The coach's choice for one engagement: "policy" (None), "never" (0) or "months"."""
    if choice == "policy":
        return None
    if choice == "never":
        return NEVER
    if choice == "months":
        text = months.strip() if isinstance(months, str) else ""
        if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_KEEP:
            return int(text)
        raise ActionError("keep_months_invalid", N_("Give a number of months from 1 to %(max)s."), max=MAX_KEEP)
    raise ActionError("keep_choice_invalid", N_("Choose how long this logbook is kept."))


async def do_set_keep(session: AsyncSession, engagement: Engagement, keep_months: int | None, *,
                      settings: Settings, now: datetime) -> RetentionPlan:
    plan = await _plan_of(session, engagement, settings, now)
    plan.keep_months = keep_months
    plan.extended_until = None  # a new choice starts from closing again
    return await do_replan(session, engagement, plan, settings=settings, now=now)


def check_extension(months: object) -> int:
    text = months.strip() if isinstance(months, str) else ""
    if text.isascii() and text.isdigit() and int(text) in EXTENSIONS:
        return int(text)
    raise ActionError("extension_invalid", N_("Choose how many months to extend by."))


async def do_extend(session: AsyncSession, engagement: Engagement, months: int, *, settings: Settings,
                    now: datetime) -> RetentionPlan:
    """Move a planned erasure ``months`` later (from the planned moment, or from now if
    that is later)."""
    plan = await _plan_of(session, engagement, settings, now)
    current = plan.erase_at or await due_of(session, engagement, plan, settings)
    if current is None:
        raise Conflict("nothing_to_extend", N_("No erasure is planned for this engagement."))
    plan.extended_until = add_months(max(current, now), months, await _zone(session, engagement))
    return await do_replan(session, engagement, plan, settings=settings, now=now)


async def do_plan_closed(session: AsyncSession, *, settings: Settings, now: datetime) -> tuple[int, bool]:
    """Plan closed engagements that have no plan yet, or whose plan follows a policy that
    changed since. Returns (how many, whether more are left)."""
    policy = settings.retention.erase_after_months
    found = await pq.get_engagements_to_plan(session, policy, limit=PLAN_BATCH)
    for engagement, plan in found:
        if plan is not None and plan.keep_months is not None and plan.erase_at is not None:
            plan.policy_months = policy  # its own choice, planned already: the policy does not move it
            continue
        await do_replan(session, engagement, plan or await _plan_of(session, engagement, settings, now),
                        settings=settings, now=now)
    await session.flush()
    return len(found), len(found) == PLAN_BATCH
