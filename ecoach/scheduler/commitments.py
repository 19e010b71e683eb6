"""Task handlers for response-time commitments: the check (reminder, breach) and the
acknowledgement. What they do is in ``ecoach.actions.commitment_checks``."""

from __future__ import annotations

import logging
from typing import Any

from ecoach.actions.commitment_checks import do_acknowledge, do_check_commitments
from ecoach.actions.commitments import ACK_TASK, CHECK_TASK
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(CHECK_TASK)(check_commitments)
    registry.handler(ACK_TASK)(acknowledge)


async def check_commitments(ctx: TaskContext, params: dict[str, Any]) -> None:
    await do_check_commitments(ctx.session, int(params["engagement_id"]), settings=ctx.settings, now=ctx.now)


async def acknowledge(ctx: TaskContext, params: dict[str, Any]) -> None:
    await do_acknowledge(ctx.session, int(params["engagement_id"]), int(params["exchange_id"]),
                         settings=ctx.settings, now=ctx.now)
