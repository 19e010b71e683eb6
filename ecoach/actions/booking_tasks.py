"""The scheduled work of a booked session, as rows for the task runner: reminders before
it (``booking-reminder:<id>:<minutes>``) and the "took place" entry after it
(``booking-held:<id>``). Keyed, so rescheduling moves them and cancelling removes them;
the handlers live in ``ecoach.scheduler.booking``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.session_flow import schedule_structure_tasks
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.tasks import cancel_tasks, schedule_task
from ecoach.settings import Settings


def reminder_key(booking_id: int, minutes: int | None = None) -> str:
    return f"booking-reminder:{booking_id}:" + ("" if minutes is None else str(minutes))


async def schedule_session_tasks(session: AsyncSession, booking: Booking, settings: Settings, now: datetime) -> None:
    """Reminders before the session and the "held" entry after it, and the session
    structure (check-in, feedback, review): moved when the session moves, gone when it
    is cancelled."""
    await schedule_structure_tasks(session, booking, settings, now)
    await cancel_tasks(session, key_prefix=reminder_key(booking.id))
    if booking.status != "confirmed":
        await cancel_tasks(session, key=f"booking-held:{booking.id}")
        return
    for minutes in settings.booking.reminder_offsets:
        due = booking.starts_at - timedelta(minutes=minutes)
        if due > now:
            await schedule_task(session, "booking.reminder", due,
                                {"booking_id": booking.id, "minutes": minutes, "sequence": booking.sequence},
                                key=reminder_key(booking.id, minutes), now=now)
    await schedule_task(session, "booking.held", booking.ends_at, {"booking_id": booking.id},
                        key=f"booking-held:{booking.id}", now=now)
