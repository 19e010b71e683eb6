"""Task handlers of the session structure: the check-in before a session, the feedback
form and the review prompt after it (scheduled by ``ecoach.actions.session_flow``)."""

from __future__ import annotations

import logging
from typing import Any

from ecoach.actions.session_flow import AFTER_TASK, CHECKIN_TASK, do_after_session, do_send_checkin
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)


async def checkin(ctx: TaskContext, params: dict[str, Any]) -> None:
    await do_send_checkin(ctx.session, int(params["booking_id"]), settings=ctx.settings, now=ctx.now)


async def after(ctx: TaskContext, params: dict[str, Any]) -> None:
    await do_after_session(ctx.session, int(params["booking_id"]), settings=ctx.settings, now=ctx.now)


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(CHECKIN_TASK)(checkin)
    registry.handler(AFTER_TASK)(after)
