"""The task runner's own upkeep: finished tasks are forgotten after a while."""

from __future__ import annotations

import logging
from datetime import timedelta, timezone
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from ecoach.logbook.task_leases import prune_finished
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)

PRUNE = "tasks.prune"


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(PRUNE)(prune)
    registry.add_recurring(PRUNE, CronTrigger(hour=3, minute=17, timezone=timezone.utc))


async def prune(ctx: TaskContext, params: dict[str, Any]) -> None:
    """Done and replaced tasks older than ``scheduler.keep_done_days`` (parked ones stay
    until an admin retries them)."""
    before = ctx.now - timedelta(days=ctx.settings.scheduler.keep_done_days)
    removed = await prune_finished(ctx.session, before)
    log.info("forgot %d finished task(s) from before %s", removed, before.isoformat())
