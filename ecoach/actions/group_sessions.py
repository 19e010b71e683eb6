"""Group sessions: one booking for the whole group, made by the coach.

One slot in the coach's agenda (the same lock, free-slot check and database guard as any
booking: ``actions.booking``), one meeting room or place. The booking belongs to no single
engagement (``engagement_id`` NULL, like an intake request, but confirmed): the group
session row ties it to the group. Every member whose engagement is active gets the
session in their own timeline (in their language and time zone, with the meeting link)
and, with an e-mail address, its calendar invite (``group_invites``); the group's
conversation says it too. Members get no reminder task (those are per booking and per
coachee address).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.booking import Attendee, BookingContext, _flush, _new_booking, bookable_type
from ecoach.actions.booking_notices import Party, timeline_entry
from ecoach.actions.booking_offer import check_slot, get_offer, lock_agenda, parse_start
from ecoach.actions.errors import ActionError
from ecoach.actions.exchanges import record_exchanges
from ecoach.actions.group_invites import queue_group_invites
from ecoach.actions.groups import do_post_group_message
from ecoach.logbook import group_queries as gq
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.group_models import CoachingGroup, GroupSession
from ecoach.logbook.models import Coach


async def do_book_group_session(session: AsyncSession, ctx: BookingContext, coach: Coach, group: CoachingGroup, *,
                                type_id: object, start: object) -> tuple[Booking, int]:
    """Book a free slot for the group; returns the booking and how many members were told."""
    await lock_agenda(session, coach.id)
    item = await bookable_type(session, coach.id, type_id, intake=False)
    begin = parse_start(start)
    offer = await get_offer(session, item, now=ctx.now, step_minutes=ctx.settings.booking.slot_step_minutes,
                            around=begin)
    slot = check_slot(offer, begin, ctx.now)
    attendee = Attendee(group.name, None, group.time_zone, group.language)
    booking, _token = await _new_booking(session, ctx, item, slot, coach, None, attendee)
    booking.status = "confirmed"
    session.add(booking)
    await _flush(session)
    session.add(GroupSession(group_id=group.id, booking_id=booking.id, created_at=ctx.now))
    members = [m for m in await gq.get_member_engagements(session, group.id) if m.status == "active"]
    entries = [replace(timeline_entry(booking, item.name, "booked", reader=Party("", None, m.language, m.time_zone),
                                      author="coach", author_name=coach.name, direction="out",
                                      external_id=f"booking:{booking.id}:booked"), engagement_id=m.id)
               for m in members]
    for result in await record_exchanges(session, entries, ctx.now, loaded={m.id: m for m in members}) if entries else []:
        if isinstance(result, ActionError):
            raise result
    await queue_group_invites(session, ctx.settings, ctx.now, coach=coach, group=group, booking=booking,
                              type_name=item.name, members=members)
    said = timeline_entry(booking, item.name, "booked", reader=Party("", None, group.language, group.time_zone),
                          author="coach", author_name=coach.name, direction="out", external_id="")
    await do_post_group_message(session, group, text=said.text, client_id=f"session-{booking.id}", now=ctx.now,
                                coach=coach, kind="session")
    return booking, len(entries)

