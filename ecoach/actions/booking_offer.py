"""The free slots a session type offers now, and whether an asked time is one of them.

Slots are computed from the database as it is (working calendar for the type's
availability channel, active bookings with their buffers) through the pure rule in
``ecoach.core.slots``; under the agenda lock this is the check that decides a booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.core.slots import Booked, Slot, SlotRules, find_slot, free_slots, search_range
from ecoach.core.tokens import looks_like_token, token_digest
from ecoach.logbook import booking_queries as bq
from ecoach.logbook.availability_queries import get_working_calendar
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Coach

TAKEN = N_("Someone else has just booked this time. Please pick another time below.")


@dataclass(frozen=True)
class Offer:
    slots: list[Slot]
    rules: SlotRules
    zone: str
    open_intervals: list[tuple[datetime, datetime]]
    booked: list[Booked]


def rules_for(item: SessionType, step_minutes: int) -> SlotRules:
    minutes = lambda n: timedelta(minutes=n)  # noqa: E731
    return SlotRules(
        duration=minutes(item.duration_minutes), step=minutes(step_minutes),
        buffer_before=minutes(item.buffer_before_minutes), buffer_after=minutes(item.buffer_after_minutes),
        min_notice=minutes(item.min_notice_minutes), horizon=timedelta(days=item.horizon_days),
        max_per_day=item.max_per_day,
    )


async def lock_agenda(session: AsyncSession, coach_id: int) -> None:
    """Serialise writes to one coach's agenda until the transaction ends. On SQLite this
    must come before the transaction's first write (reads before it are fine)."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))
    else:
        await session.execute(select(Coach.id).where(Coach.id == coach_id).with_for_update())


async def get_offer(session: AsyncSession, item: SessionType, *, now: datetime, step_minutes: int,
                    exclude_id: int | None = None, around: datetime | None = None) -> Offer:
    """The free slots of a session type, from the database as it is now. ``around``:
    only the day either side of one time (enough to decide that time, and quicker to
    compute while the agenda is locked)."""
    rules = rules_for(item, step_minutes)
    calendar = await get_working_calendar(session, item.coach_id, item.availability, since=now)
    start, end = search_range(now, rules)
    if around is not None:
        start, end = max(start, around - timedelta(days=1)), min(end, around + rules.duration + timedelta(days=1))
    intervals = calendar.open_intervals(start, end)
    # Whole days either side, so the per-day count sees every booking of a day.
    rows = await bq.get_busy(session, item.coach_id, start - timedelta(days=2), end + timedelta(days=2),
                             exclude_id=exclude_id)
    booked = [Booked(b.starts_at, b.ends_at, b.starts_at - b.busy_from, b.busy_until - b.ends_at) for b in rows]
    slots = free_slots(intervals, booked, rules, now=now, zone=ZoneInfo(calendar.zone_name))
    return Offer(slots, rules, calendar.zone_name, intervals, booked)


def parse_start(value: object) -> datetime:
    try:
        start = datetime.fromisoformat(str(value))
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise ActionError("slot_invalid", N_("Please pick one of the times shown."))
    return start


def check_slot(offer: Offer, start: datetime, now: datetime) -> Slot:
    """The offered slot at ``start``, or the reason it cannot be booked."""
    found = find_slot(offer.slots, start)
    if found is not None:
        return found
    if start > now + offer.rules.horizon:
        raise ActionError("slot_too_far", N_("This time is more than %(days)s days ahead. Please pick an earlier time."),
                          days=offer.rules.horizon.days)
    if start < now + offer.rules.min_notice:
        raise ActionError("slot_too_soon", N_("This time is too soon or has passed. Please pick a later time."))
    unbooked = free_slots(offer.open_intervals, [], offer.rules, now=now, zone=ZoneInfo(offer.zone))
    if find_slot(unbooked, start) is not None:
        raise Conflict("slot_taken", TAKEN)
    raise ActionError("slot_not_offered", N_("This time is not available. Please pick one of the times shown."))


def check_change_allowed(booking: Booking, now: datetime, cutoff_hours: int, *, by: str) -> None:
    if not booking.active:
        raise Conflict("booking_not_active", N_("This session has been cancelled already."))
    if booking.starts_at <= now:
        raise Conflict("booking_started", N_("This session has already started or taken place."))
    if by == "coachee" and booking.starts_at - timedelta(hours=cutoff_hours) <= now:
        raise Conflict("booking_cutoff", N_("This session starts within %(hours)s hours: it can no longer be changed "
                                            "online. Please contact your coach."), hours=cutoff_hours)


async def check_manage_token(session: AsyncSession, token: str, now: datetime) -> Booking:
    """The booking behind a reschedule/cancel link, or why the link does not work."""
    booking = await bq.get_booking_by_manage(session, token_digest(token)) if looks_like_token(token) else None
    if booking is None:
        raise NotFound("manage_link_unknown", N_("This link is not valid. Please use the link from your latest mail."))
    if booking.ends_at <= now:
        error = NotFound("manage_link_expired", N_("This session is over, so its link has expired."))
        error.language = booking.language
        raise error
    return booking
