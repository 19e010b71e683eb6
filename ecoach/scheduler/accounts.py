"""Account upkeep: ended sessions, used links and old login attempts are forgotten."""

from __future__ import annotations

import logging
from datetime import timedelta, timezone
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from ecoach.logbook.account_queries import prune_accounts
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)

PRUNE = "accounts.prune"


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(PRUNE)(prune)
    registry.add_recurring(PRUNE, CronTrigger(hour=3, minute=41, timezone=timezone.utc))  # daily, quiet hours


async def prune(ctx: TaskContext, params: dict[str, Any]) -> None:
    window = max(ctx.settings.login_window_seconds, 3600)
    removed = await prune_accounts(ctx.session, ctx.now, ctx.now - timedelta(seconds=window))
    log.info("forgot %d ended session(s), used link(s) and old login attempt(s)", removed)
