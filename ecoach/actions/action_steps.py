"""Action steps: something the coachee means to do by a date, recorded by the coach (from
the engagement page) or the coachee (from their chat page). On that date a nudge asks
how it went (``action_step.follow_up``). The step is noted in the logbook as well."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import nudges as plans
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.core import notices
from ecoach.core.nudge_rules import local_instant, parse_hhmm
from ecoach.logbook.models import Engagement
from ecoach.logbook.nudge_models import ActionStep, Nudge
from ecoach.settings import Settings

log = logging.getLogger(__name__)

MAX_TEXT = 500
MAX_DAYS_AHEAD = 366
STEP_NOTE = N_("Action step for %(date)s: %(text)s")


def check_action_step(text: str, due_on: str, *, today: date) -> tuple[str, date]:
    text = " ".join(str(text).split())
    if not text:
        raise ActionError("action_step_empty", N_("Describe the action step."))
    if len(text) > MAX_TEXT:
        raise ActionError("action_step_long", N_("An action step can be at most %(limit)s characters."),
                          limit=MAX_TEXT)
    try:
        day = date.fromisoformat(str(due_on).strip())
    except ValueError:
        raise ActionError("date_invalid", N_("Give a date like 2026-12-01.")) from None
    if day < today:
        raise ActionError("action_step_past", N_("Choose today or a later date."))
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ActionError("action_step_far", N_("Choose a date within a year."))
    return text, day


async def do_add_action_step(
    session: AsyncSession, engagement: Engagement, *, text: str, due_on: str, by: str,
    author_name: str, settings: Settings, now: datetime,
) -> tuple[ActionStep, Recorded | None]:
    """Record the step, note it in the logbook and plan its follow-up, in the caller's
    transaction. Returns the step and its logbook note (seen on the open pages after commit)."""
    if engagement.status != "active":
        raise ActionError("engagement_not_active", N_("This coaching engagement is not active."))
    zone = plans.zone_of(engagement)
    text, day = check_action_step(text, due_on, today=now.astimezone(zone).date())
    step = ActionStep(engagement_id=engagement.id, text=text, due_on=day, created_by=by, created_at=now)
    session.add(step)
    await session.flush()
    plan = await plans.get_or_create_plan(session, engagement, settings, now)
    due = local_instant(day, parse_hhmm(plan.time_of_day), zone)
    if due <= now:  # the step is for today and the nudge time has passed: ask this evening
        due = now + timedelta(hours=3)
    await plans.do_add_planned(session, engagement, kind=plans.ACTION_STEP, occasion=str(step.id), due_at=due,
                               settings=settings, now=now, action_step_id=step.id)
    notice = notices.notice(notices.line(STEP_NOTE, date=notices.day(day), text=text))
    note = NewExchange(
        engagement_id=engagement.id, channel="system", direction="internal", author=by,
        author_name=author_name, external_id=f"action-step:{step.id}",
        text=notices.render_text(notice, engagement.language, engagement.time_zone),
        meta={"notice": notice},
    )
    [result] = await record_exchanges(session, [note], now)
    log.info("action step %s recorded by the %s of engagement %s", step.id, by, engagement.id)
    return step, result if isinstance(result, Recorded) else None


async def do_cancel_action_step(session: AsyncSession, engagement: Engagement, step_id: int, *,
                                now: datetime) -> ActionStep:
    step = await session.get(ActionStep, step_id)
    if step is None or step.engagement_id != engagement.id:
        raise NotFound("action_step_unknown", N_("This action step does not exist."))
    if step.cancelled_at is None:
        step.cancelled_at = now
        for nudge in await _planned_follow_ups(session, step):
            await plans.mark_skipped(session, nudge, "cancelled")
    return step


async def _planned_follow_ups(session: AsyncSession, step: ActionStep) -> list[Nudge]:
    stmt = select(Nudge).where(Nudge.action_step_id == step.id, Nudge.status == "planned")
    return list((await session.execute(stmt)).scalars())
