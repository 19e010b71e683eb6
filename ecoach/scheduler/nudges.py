"""Task handlers of encouragement nudges.

- ``nudge.send`` {nudge_id}: a planned plan nudge or check-in is due;
- ``action_step.follow_up`` {nudge_id}: the day of an action step has come;
- ``nudge.reengagement_check`` (daily): plan a check-in for every silent engagement.

Each runs in the runner's unit of work: the logbook entries (and their events) and any
queued mail commit with the task, or not at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta, timezone
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from ecoach.actions import nudges as plans
from ecoach.actions.nudge_send import run_due
from ecoach.actions.reengagement import do_plan_checkins
from ecoach.scheduler.registry import TaskContext, TaskRegistry
from ecoach.logbook.tasks import schedule_task

log = logging.getLogger(__name__)


# Once a day (UTC): the check-ins it plans go out at once, or when the coachee's night is over.
CHECK_TRIGGER = dict(hour=9, minute=40)


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(plans.TASK_SEND)(send_nudge)
    registry.handler(plans.TASK_FOLLOW_UP)(send_nudge)
    registry.handler(plans.TASK_CHECK)(reengagement_check)
    registry.add_recurring(plans.TASK_CHECK, CronTrigger(**CHECK_TRIGGER, timezone=timezone.utc))


async def send_nudge(ctx: TaskContext, params: dict[str, Any]) -> None:
    await run_due(ctx.session, int(params["nudge_id"]), settings=ctx.settings, now=ctx.now)


async def reengagement_check(ctx: TaskContext, params: dict[str, Any]) -> None:
    if not ctx.settings.nudges.enabled:
        return
    _count, more = await do_plan_checkins(ctx.session, settings=ctx.settings, now=ctx.now)
    if more:  # a batch at a time keeps each transaction short; the rest follows at once
        await schedule_task(ctx.session, plans.TASK_CHECK, ctx.now + timedelta(seconds=1), {},
                            key=f"{plans.TASK_CHECK}:more", now=ctx.now)
