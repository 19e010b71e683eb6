"""The nudge plan of an engagement and its planned nudges: save the plan, keep the next
few nudges planned (each a ``nudge`` row plus a task in the runner), edit or skip one,
and the coachee's pause.

Planned nudges are rows so the coach sees what is coming; the task carries only the
row's id. Planning is idempotent: one row per (engagement, kind, occasion), one pending
task per key.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.nudge_forms import check_text
from ecoach.core.nudge_rules import (
    WEEKLY, Cadence, QuietHours, local_instant, occurrences, out_of_quiet_hours, parse_hhmm,
)
from ecoach.logbook import nudge_queries
from ecoach.logbook.models import Engagement
from ecoach.logbook.nudge_models import Nudge, NudgePlan
from ecoach.logbook.tasks import cancel_tasks, schedule_task
from ecoach.settings import Settings

log = logging.getLogger(__name__)

TASK_SEND = "nudge.send"
TASK_FOLLOW_UP = "action_step.follow_up"
TASK_CHECK = "nudge.reengagement_check"
PLAN, ACTION_STEP, CHECKIN = "plan", "action_step", "checkin"


def zone_of(engagement: Engagement) -> ZoneInfo:
    return ZoneInfo(engagement.time_zone)


def quiet_hours(settings: Settings) -> QuietHours:
    return QuietHours(parse_hhmm(settings.nudges.quiet_start), parse_hhmm(settings.nudges.quiet_end))


def cadence_of(plan: NudgePlan) -> Cadence:
    return Cadence(
        kind=plan.cadence,
        weekdays=tuple(int(d) for d in plan.weekdays.split(",") if d.strip().isdigit()),
        at=parse_hhmm(plan.time_of_day),
        every_days=plan.every_days,
        start=plan.start_on,
    )


def task_key(nudge: Nudge) -> str:
    if nudge.kind == ACTION_STEP:
        return f"action-step:{nudge.action_step_id}"
    if nudge.kind == CHECKIN:
        return f"nudge:{nudge.engagement_id}:checkin:{nudge.occasion}"
    return f"nudge:{nudge.engagement_id}:{nudge.occasion}"


async def schedule(session: AsyncSession, nudge: Nudge, now: datetime) -> None:
    name = TASK_FOLLOW_UP if nudge.kind == ACTION_STEP else TASK_SEND
    await schedule_task(session, name, nudge.due_at, {"nudge_id": nudge.id}, key=task_key(nudge), now=now)


async def get_or_create_plan(
    session: AsyncSession, engagement: Engagement, settings: Settings, now: datetime
) -> NudgePlan:
    plan = await nudge_queries.get_plan(session, engagement.id)
    if plan is None:
        plan = NudgePlan(
            engagement_id=engagement.id, enabled=False, cadence=WEEKLY, weekdays="0",
            time_of_day=settings.nudges.default_time, every_days=7, channel="chat", templates={},
            silence_days=settings.nudges.silence_days, created_at=now, updated_at=now,
        )
        session.add(plan)
        await session.flush()
    return plan


async def do_save_plan(
    session: AsyncSession, engagement: Engagement, values: dict[str, Any], *, settings: Settings,
    now: datetime,
) -> NudgePlan:
    """Store the plan and plan its next nudges again, in the caller's transaction."""
    plan = await get_or_create_plan(session, engagement, settings, now)
    for name, value in values.items():
        setattr(plan, name, value)
    plan.updated_at = now
    await session.flush()
    await do_replan(session, plan, engagement, settings=settings, now=now)
    record_audit(session, "nudge_plan_changed", coach_id=engagement.coach_id, engagement_id=engagement.id, now=now,
                 enabled=bool(plan.enabled))
    return plan


# --- planning --------------------------------------------------------------------------


def plan_is_running(plan: NudgePlan, engagement: Engagement, settings: Settings) -> bool:
    return (settings.nudges.enabled and plan.enabled and plan.paused_at is None
            and engagement.status != "closed")


async def do_replan(
    session: AsyncSession, plan: NudgePlan, engagement: Engagement, *, settings: Settings, now: datetime
) -> None:
    """After the plan changed: keep planned nudges that still fit it (with the coach's
    edits), move them to the new time, drop the rest, then top up."""
    zone, quiet, cadence = zone_of(engagement), quiet_hours(settings), cadence_of(plan)
    running = plan_is_running(plan, engagement, settings)
    for nudge in await nudge_queries.get_planned(session, engagement.id, PLAN):
        day = date.fromisoformat(nudge.occasion)
        at = local_instant(day, cadence.at, zone)
        if running and cadence.falls_on(day) and at > now:
            nudge.due_at = out_of_quiet_hours(at, zone, quiet)
            await schedule(session, nudge, now)
        else:
            await cancel_tasks(session, key=task_key(nudge))
            await session.delete(nudge)
    await session.flush()
    await do_top_up(session, plan, engagement, settings=settings, now=now)


async def do_top_up(
    session: AsyncSession, plan: NudgePlan, engagement: Engagement, *, settings: Settings, now: datetime
) -> list[Nudge]:
    """Plan the plan's next occurrences until ``nudges.upcoming`` are planned."""
    if not plan_is_running(plan, engagement, settings):
        return []
    planned = await nudge_queries.get_planned(session, engagement.id, PLAN)
    need = settings.nudges.upcoming - len(planned)
    if need <= 0:
        return []
    zone, quiet = zone_of(engagement), quiet_hours(settings)
    since = (now.astimezone(zone).date() - timedelta(days=1)).isoformat()
    taken = await nudge_queries.get_occasions(session, engagement.id, PLAN, since)
    found = occurrences(cadence_of(plan), zone, now, need + len(taken))
    added = []
    for day, at in [(d, a) for d, a in found if d.isoformat() not in taken][:need]:
        nudge = Nudge(engagement_id=engagement.id, kind=PLAN, occasion=day.isoformat(),
                      due_at=out_of_quiet_hours(at, zone, quiet), status="planned", created_at=now)
        session.add(nudge)
        await session.flush()
        await schedule(session, nudge, now)
        added.append(nudge)
    return added


async def do_add_planned(
    session: AsyncSession, engagement: Engagement, *, kind: str, occasion: str, due_at: datetime,
    settings: Settings, now: datetime, action_step_id: int | None = None,
) -> Nudge | None:
    """Plan a one-off nudge (a follow-up or a check-in); None when it exists already."""
    if occasion in await nudge_queries.get_occasions(session, engagement.id, kind, occasion):
        return None
    zone = zone_of(engagement)
    nudge = Nudge(engagement_id=engagement.id, kind=kind, occasion=occasion, status="planned",
                  due_at=out_of_quiet_hours(max(due_at, now), zone, quiet_hours(settings)),
                  action_step_id=action_step_id, created_at=now)
    session.add(nudge)
    await session.flush()
    await schedule(session, nudge, now)
    return nudge


# --- the coach's hand on planned nudges ------------------------------------------------


async def get_planned_nudge(session: AsyncSession, engagement: Engagement, nudge_id: int) -> Nudge:
    nudge = await nudge_queries.get_nudge(session, engagement.id, nudge_id)
    if nudge is None:
        raise NotFound("nudge_unknown", N_("This nudge does not exist."))
    if nudge.status != "planned":
        raise ActionError("nudge_not_planned", N_("This nudge has been sent or skipped already."))
    return nudge


async def do_edit_nudge(session: AsyncSession, engagement: Engagement, nudge_id: int, text: str, *,
                        now: datetime) -> Nudge:
    """The coach's own words for one planned nudge; empty text goes back to the template."""
    nudge = await get_planned_nudge(session, engagement, nudge_id)
    nudge.text = check_text(text, engagement.language) if text.strip() else None
    await session.flush()
    record_audit(session, "nudge_changed", coach_id=engagement.coach_id, engagement_id=engagement.id, now=now,
                 nudge=nudge.id, change="edited")
    return nudge


async def do_skip_nudge(
    session: AsyncSession, engagement: Engagement, nudge_id: int, *, settings: Settings, now: datetime
) -> Nudge:
    nudge = await get_planned_nudge(session, engagement, nudge_id)
    await mark_skipped(session, nudge, "coach")
    record_audit(session, "nudge_changed", coach_id=engagement.coach_id, engagement_id=engagement.id, now=now,
                 nudge=nudge.id, change="skipped")
    if nudge.kind == PLAN:
        plan = await get_or_create_plan(session, engagement, settings, now)
        await do_top_up(session, plan, engagement, settings=settings, now=now)
    return nudge


async def mark_skipped(session: AsyncSession, nudge: Nudge, reason: str) -> None:
    nudge.status, nudge.reason = "skipped", reason
    await cancel_tasks(session, key=task_key(nudge))
    await session.flush()


# --- the coachee's pause ---------------------------------------------------------------


async def do_pause_nudges(
    session: AsyncSession, engagement: Engagement, *, settings: Settings, now: datetime
) -> NudgePlan:
    """No nudges until the coachee resumes: planned plan nudges are dropped, one-off
    ones (follow-ups, check-ins) set aside to come back if still ahead on resume."""
    plan = await get_or_create_plan(session, engagement, settings, now)
    if plan.paused_at is None:
        plan.paused_at = now
        for nudge in await nudge_queries.get_upcoming(session, engagement.id, limit=1000):
            await cancel_tasks(session, key=task_key(nudge))
            if nudge.kind == PLAN:
                await session.delete(nudge)
            else:
                nudge.status, nudge.reason = "skipped", "paused"
        await session.flush()
        log.info("nudges paused by the coachee of engagement %s", engagement.id)
        record_audit(session, "nudges_paused", coach_id=engagement.coach_id, engagement_id=engagement.id,
                     actor_id=None, now=now)
    return plan


async def do_resume_nudges(
    session: AsyncSession, engagement: Engagement, *, settings: Settings, now: datetime
) -> NudgePlan:
    plan = await get_or_create_plan(session, engagement, settings, now)
    if plan.paused_at is not None:
        set_aside = await session.execute(
            select(Nudge).where(Nudge.engagement_id == engagement.id, Nudge.status == "skipped",
                                Nudge.reason == "paused", Nudge.due_at > now))
        for nudge in list(set_aside.scalars()):
            nudge.status, nudge.reason = "planned", None
            await schedule(session, nudge, now)
        plan.paused_at = None
        await session.flush()
        await do_top_up(session, plan, engagement, settings=settings, now=now)
        record_audit(session, "nudges_resumed", coach_id=engagement.coach_id, engagement_id=engagement.id,
                     actor_id=None, now=now)
    return plan

