"""Task handlers of outgoing webhooks: one delivery per task, and the daily clean-up.

A delivery's task reads and signs the body (``actions.webhook_deliveries``), sends it
(``channels.webhooks``) and records the outcome in the run's transaction. A failure is
not raised: it is recorded on the delivery (the coach sees it) and the next attempt is a
new task with the same key, after a backoff of its own; after ``webhooks.max_attempts``
the delivery is parked as failed. The task lease makes each attempt run in one process
only (two runners never send the same delivery at once); receivers can still tell a
repeat by the ``Ecoach-Delivery`` id, which stays the same on every attempt.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta, timezone
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from ecoach.actions.webhook_deliveries import do_record_outcome, prepare_delivery
from ecoach.actions.webhooks import DELIVER_TASK
from ecoach.channels.webhooks import send
from ecoach.logbook.webhook_queries import prune_deliveries
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)

PRUNE_TASK = "webhooks.prune"


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(DELIVER_TASK)(deliver)
    registry.handler(PRUNE_TASK)(prune)
    registry.add_recurring(PRUNE_TASK, CronTrigger(hour=3, minute=41, timezone=timezone.utc))


async def deliver(ctx: TaskContext, params: dict[str, Any]) -> None:
    prepared = await prepare_delivery(ctx.session, int(params["delivery_id"]), secret_key=ctx.settings.secret,
                                      now=ctx.now)
    if prepared is None:
        return
    result = await send(prepared, ctx.settings.webhooks)
    outcome = await do_record_outcome(ctx.session, prepared, result, settings=ctx.settings, now=ctx.clock.now(),
                                      jitter=random.random())
    log.info("webhook delivery %s to endpoint %s: %s (%s)", prepared.delivery_id, prepared.endpoint_id, outcome,
             result.summary)


async def prune(ctx: TaskContext, params: dict[str, Any]) -> None:
    before = ctx.now - timedelta(days=ctx.settings.webhooks.keep_days)
    removed = await prune_deliveries(ctx.session, before)
    log.info("forgot %d finished webhook deliveries from before %s", removed, before.isoformat())
