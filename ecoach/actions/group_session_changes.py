"""Cancelling and moving a group session, by its coach.

As a one-to-one booking's change (``booking.do_cancel`` / ``do_reschedule``): under the
coach's agenda lock the booking is read again and must still be upcoming and confirmed;
a move takes a free slot by the same checks as booking one (the session's own time does
not count as busy). The booking keeps its id and UID and its SEQUENCE goes up, so the
calendar invite that follows (REQUEST for a move, CANCEL for a cancellation) replaces the
event members already have.

Who hears of it: every member who got the session (its entry is in their timeline; also
a member who has left the group since, since the session is in their calendar), unless
their engagement is closed; each in their own language and zone, with an invite to those
with an e-mail address. The group's conversation says it too. All in the caller's unit
of work.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.booking import BookingContext, _flush
from ecoach.actions.booking_notices import Party, timeline_entry
from ecoach.actions.booking_offer import (
    check_change_allowed,
    check_slot,
    get_offer,
    lock_agenda,
    parse_start,
    rules_for,
)
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import record_exchanges
from ecoach.actions.group_invites import queue_group_invites
from ecoach.actions.groups import do_post_group_message
from ecoach.core.inputs import parse_int
from ecoach.logbook import group_queries as gq
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.group_models import CoachingGroup
from ecoach.logbook.models import Coach

log = logging.getLogger(__name__)


async def check_group_booking(session: AsyncSession, group: CoachingGroup, booking_id: object) -> Booking:
    """The group's session behind an id from a form or address, or a clear 404."""
    number = parse_int(str(booking_id), low=1)
    booking = await gq.get_group_booking(session, group.id, number) if number is not None else None
    if booking is None:
        raise NotFound("group_session_unknown", N_("This group session does not exist."))
    return booking


async def _locked(session: AsyncSession, ctx: BookingContext, booking: Booking) -> SessionType:
    """Read the booking again under the agenda lock; it must still be upcoming and booked."""
    await lock_agenda(session, booking.coach_id)
    await session.refresh(booking)
    check_change_allowed(booking, ctx.now, ctx.settings.booking.change_cutoff_hours, by="coach")
    if booking.status != "confirmed":
        raise Conflict("booking_not_confirmed", N_("This group session is not booked (any more)."))
    item = await session.get(SessionType, booking.session_type_id)
    assert item is not None
    return item


async def do_cancel_group_session(session: AsyncSession, ctx: BookingContext, coach: Coach, group: CoachingGroup,
                                  booking: Booking) -> int:
    """Cancel the session (its time is free again); returns how many members were told."""
    item = await _locked(session, ctx, booking)
    booking.status, booking.cancelled_at, booking.cancelled_by = "cancelled", ctx.now, "coach"
    booking.sequence += 1
    booking.updated_at = ctx.now
    await session.flush()
    return await _tell(session, ctx, coach, group, booking, item, "cancelled")


async def do_move_group_session(session: AsyncSession, ctx: BookingContext, coach: Coach, group: CoachingGroup,
                                booking: Booking, *, start: object) -> int:
    """Move the session to a free time; returns how many members were told."""
    begin = parse_start(start)
    item = await _locked(session, ctx, booking)
    step = ctx.settings.booking.slot_step_minutes
    offer = await get_offer(session, item, now=ctx.now, step_minutes=step, exclude_id=booking.id, around=begin)
    slot = check_slot(offer, begin, ctx.now)
    old = (booking.starts_at, booking.ends_at)
    booking.starts_at, booking.ends_at = slot.start, slot.end
    booking.busy_from, booking.busy_until = rules_for(item, step).busy_range(slot.start)
    booking.sequence += 1
    booking.updated_at = ctx.now
    await _flush(session)
    return await _tell(session, ctx, coach, group, booking, item, "rescheduled", old=old)


async def _tell(session: AsyncSession, ctx: BookingContext, coach: Coach, group: CoachingGroup, booking: Booking,
                item: SessionType, kind: str, *, old: tuple[datetime, datetime] | None = None) -> int:
    """The change in every told member's timeline, their invite, and the group's conversation."""
    told = [m for m in await gq.get_told_engagements(session, group.id, f"booking:{booking.id}:booked")
            if m.status != "closed"]
    external_id = f"booking:{booking.id}:{kind}:{booking.sequence}"
    entries = [replace(timeline_entry(booking, item.name, kind, reader=Party("", None, m.language, m.time_zone),
                                      author="coach", author_name=coach.name, direction="out",
                                      external_id=external_id, old=old, force=True), engagement_id=m.id)
               for m in told]  # force: even a paused member's agenda changed
    for result in await record_exchanges(session, entries, ctx.now, loaded={m.id: m for m in told}) if entries else []:
        if isinstance(result, ActionError):
            raise result
    await queue_group_invites(session, ctx.settings, ctx.now, coach=coach, group=group, booking=booking,
                              type_name=item.name, members=told, kind=kind)
    said = timeline_entry(booking, item.name, kind, reader=Party("", None, group.language, group.time_zone),
                          author="coach", author_name=coach.name, direction="out", external_id="", old=old)
    await do_post_group_message(session, group, text=said.text, client_id=f"session-{booking.id}-{booking.sequence}",
                                now=ctx.now, coach=coach, kind="session")
    log.info("group %s session %s %s: %s members told", group.id, booking.id, kind, len(entries))
    return len(entries)
