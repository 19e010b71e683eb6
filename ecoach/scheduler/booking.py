"""Task handlers around booked sessions: reminders before, "took place" after.

Scheduled by ``ecoach.actions.booking.schedule_session_tasks`` with keys
``booking-reminder:<booking id>:<minutes before>`` and ``booking-held:<booking id>``, so a
reschedule moves them and a cancellation deletes them.
"""

from __future__ import annotations

import logging
from typing import Any

from ecoach.actions.booking import BookingContext
from ecoach.actions.booking_after import do_mark_held, do_send_reminder
from ecoach.actions.exchanges import Recorded, publish_recorded
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)


def _publish(ctx: TaskContext, recorded: list[Recorded]) -> None:
    for item in recorded:
        ctx.after_commit(lambda item=item: publish_recorded(ctx.hub, item))  # type: ignore[misc]


async def remind(ctx: TaskContext, params: dict[str, Any]) -> None:
    booking = BookingContext(ctx.settings, ctx.now, ctx.settings.resolved_secret())
    recorded, mails = await do_send_reminder(ctx.session, booking, int(params["booking_id"]),
                                             int(params["minutes"]), int(params.get("sequence", 0)))
    _publish(ctx, recorded)
    if mails:
        ctx.wake_outbox()


async def held(ctx: TaskContext, params: dict[str, Any]) -> None:
    _publish(ctx, await do_mark_held(ctx.session, int(params["booking_id"]), ctx.now))


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler("booking.reminder")(remind)
    registry.handler("booking.held")(held)
