"""Intake requests from the coach's public booking page.

A new coachee picks a time and leaves a name, address and message: a booking in state
"requested" that holds the slot (nobody else can take it) but is not in any logbook yet.
The coach accepts it, which starts an engagement and sends the invites, or declines it,
which frees the slot and tells the requester.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.booking import (
    BookingContext,
    BookingOutcome,
    coachee_party,
    manage_token_of,
    record_entries,
    schedule_session_tasks,
    urls,
)
from ecoach.actions.booking_notices import (
    Party,
    queue_booking_mails,
    queue_plain_mail,
    timeline_entry,
    when_text,
)
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.errors import Conflict, N_, NotFound
from ecoach.core.i18n import gettext_for
from ecoach.logbook import booking_queries as bq
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Coach

log = logging.getLogger(__name__)

REQUEST_SUBJECT = N_("Intake request from %(name)s")
REQUEST_BODY = N_("%(name)s (%(email)s) asks for an intake: %(type)s, %(when)s.\n\n%(message)s\n\n"
                  "Accept or decline: %(url)s")
DECLINE_SUBJECT = N_("Your request for %(when)s")
DECLINE_BODY = N_("Hello %(name)s,\n\n%(coach)s cannot take the time you asked for (%(when)s). "
                  "You are welcome to pick another time on the booking page.")


async def notify_coach_of_request(session: AsyncSession, ctx: BookingContext, booking: Booking,
                                  item: SessionType, coach: Coach) -> int:
    _ = gettext_for(coach.language)
    values = {"name": booking.attendee_name, "email": booking.attendee_email, "type": item.name,
              "when": when_text(booking.starts_at, booking.ends_at, coach.time_zone, coach.language),
              "message": booking.attendee_message or "", "url": f"{ctx.settings.base_url}/sessions"}
    reader = Party(coach.name, coach.email, coach.language, coach.time_zone)
    return await queue_plain_mail(session, ctx.settings, ctx.now, booking, reader,
                                  _(REQUEST_SUBJECT) % values, _(REQUEST_BODY) % values)


async def _pending(session: AsyncSession, coach: Coach, booking_id: int) -> tuple[Booking, SessionType]:
    booking = await bq.get_booking(session, coach.id, booking_id)
    if booking is None:
        raise NotFound("booking_unknown", N_("This session does not exist."))
    if booking.status != "requested":
        raise Conflict("request_handled", N_("This request has been handled already."))
    item = await session.get(SessionType, booking.session_type_id)
    assert item is not None
    return booking, item


async def do_accept_request(session: AsyncSession, ctx: BookingContext, coach: Coach,
                            booking_id: int) -> BookingOutcome:
    """Start an engagement for the requester and confirm the session."""
    booking, item = await _pending(session, coach, booking_id)
    if booking.starts_at <= ctx.now:
        raise Conflict("request_passed", N_("The time of this request has passed; decline it instead."))
    created = await do_create_engagement(
        session, coach, coachee_name=booking.attendee_name, coachee_email=booking.attendee_email or "",
        language=booking.language, time_zone=booking.attendee_time_zone, now=ctx.now,
        link_days=ctx.settings.chat_link_days, secret=ctx.secret,
    )
    engagement = created.engagement
    booking.engagement_id, booking.status, booking.updated_at = engagement.id, "confirmed", ctx.now
    await session.flush()
    reader = Party("", None, engagement.language, engagement.time_zone)
    entries = [
        timeline_entry(booking, item.name, "requested", reader=reader, author="coachee",
                       author_name=booking.attendee_name, direction="in",
                       external_id=f"booking:{booking.id}:requested", note=booking.attendee_message or ""),
        timeline_entry(booking, item.name, "booked", reader=reader, author="coach", author_name=coach.name,
                       direction="out", external_id=f"booking:{booking.id}:booked"),
    ]
    outcome = BookingOutcome(booking, manage_token_of(booking, ctx.secret))
    outcome.recorded += await record_entries(session, entries, ctx.now)
    await schedule_session_tasks(session, booking, ctx.settings, ctx.now)
    manage, page = urls(ctx, booking, outcome.manage_token)
    outcome.mails += await queue_booking_mails(
        session, booking, "booked", type_name=item.name, coach=coach, coachee=coachee_party(booking),
        settings=ctx.settings, now=ctx.now, manage_url=manage, engagement_url=page)
    log.info("intake request %s accepted: engagement %s", booking.id, engagement.id)
    return outcome


async def do_decline_request(session: AsyncSession, ctx: BookingContext, coach: Coach,
                             booking_id: int) -> BookingOutcome:
    booking, _item = await _pending(session, coach, booking_id)
    booking.status, booking.cancelled_at, booking.cancelled_by = "declined", ctx.now, "coach"
    booking.updated_at = ctx.now
    await session.flush()
    reader = coachee_party(booking)
    _ = gettext_for(reader.language)
    values = {"name": booking.attendee_name, "coach": coach.name,
              "when": when_text(booking.starts_at, booking.ends_at, reader.zone, reader.language)}
    mails = await queue_plain_mail(session, ctx.settings, ctx.now, booking, reader,
                                   _(DECLINE_SUBJECT) % values, _(DECLINE_BODY) % values, coach.name)
    return BookingOutcome(booking, manage_token_of(booking, ctx.secret), mails=mails)
