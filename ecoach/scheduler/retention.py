"""Task handlers of retention (``ecoach.actions.retention``):

- ``retention.plan`` (daily, and again at once while more are left): plan the erasure of
  closed engagements that have no plan, or whose plan followed a policy that changed;
- ``retention.warn`` {engagement_id}: warn the coach ``retention.warn_days`` before;
- ``retention.erase`` {engagement_id}: erase the engagement when its moment has come.

Each runs in the runner's unit of work: the plan, its tasks and the warning mail commit
together, or not at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta, timezone
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from ecoach.actions.retention import TASK_ERASE, TASK_PLAN, TASK_WARN, do_plan_closed
from ecoach.actions.retention_run import do_erase_when_due, do_warn
from ecoach.logbook.tasks import schedule_task
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(TASK_PLAN)(plan)
    registry.handler(TASK_WARN)(warn)
    registry.handler(TASK_ERASE)(erase)
    registry.add_recurring(TASK_PLAN, CronTrigger(hour=2, minute=23, timezone=timezone.utc))  # daily, quiet hours


async def plan(ctx: TaskContext, params: dict[str, Any]) -> None:
    count, more = await do_plan_closed(ctx.session, settings=ctx.settings, now=ctx.now)
    if count:
        log.info("planned the retention of %d closed engagement(s)", count)
    if more:  # a batch at a time keeps each transaction short; the rest follows at once
        await schedule_task(ctx.session, TASK_PLAN, ctx.now + timedelta(seconds=1), {},
                            key=f"{TASK_PLAN}:more", now=ctx.now)


async def warn(ctx: TaskContext, params: dict[str, Any]) -> None:
    await do_warn(ctx.session, int(params["engagement_id"]), settings=ctx.settings, now=ctx.now)


async def erase(ctx: TaskContext, params: dict[str, Any]) -> None:
    await do_erase_when_due(ctx.session, int(params["engagement_id"]), settings=ctx.settings, now=ctx.now)
