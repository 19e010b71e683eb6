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
from ecoach.actions.bundles import Rules, do_record_session_held
from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)


async def remind(ctx: TaskContext, params: dict[str, Any]) -> None:
    booking = BookingContext(ctx.settings, ctx.now, ctx.settings.secret)
    await do_send_reminder(ctx.session, booking, int(params["booking_id"]), int(params["minutes"]),
                           int(params.get("sequence", 0)))


async def held(ctx: TaskContext, params: dict[str, Any]) -> None:
    await do_mark_held(ctx.session, int(params["booking_id"]), ctx.now)
    # In the same transaction: the session uses up its plan once (a retried run rolls back both).
    await do_record_session_held(ctx.session, int(params["booking_id"]), ctx.now, Rules.of(ctx.settings.billing))


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler("booking.reminder")(remind)
    registry.handler("booking.held")(held)
