"""Around a session: reminders before it, "took place" after it, the coach's summary.

Reminders and the "held" entry are run by the task runner (``ecoach.scheduler.booking``)
in its transaction; a task that finds its session moved or cancelled does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.booking import BookingContext, coachee_party, manage_token_of, record_entries, urls
from ecoach.actions.booking_notices import (
    EXCHANGE_CHANNEL,
    MANAGE_LINE,
    OPENINGS,
    WHEN_LINE,
    Party,
    place_notice,
    queue_booking_mails,
    timeline_entry,
)
from ecoach.actions.errors import Conflict, N_, NotFound
from ecoach.actions.exchanges import NewExchange, Recorded, check_message
from ecoach.core import notices
from ecoach.logbook import booking_queries as bq
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Coach, Engagement

log = logging.getLogger(__name__)

SUMMARY_HEADING = N_("Summary of the %(type)s of %(when)s")


async def _context(session: AsyncSession, booking: Booking) -> tuple[SessionType, Engagement, Coach]:
    item = await session.get(SessionType, booking.session_type_id)
    engagement = await session.get(Engagement, booking.engagement_id)
    coach = await session.get(Coach, booking.coach_id)
    assert item is not None and engagement is not None and coach is not None
    return item, engagement, coach


async def do_mark_held(session: AsyncSession, booking_id: int, now: datetime) -> list[Recorded]:
    """After the session's end: a "took place" entry for the coach, once."""
    booking = await session.get(Booking, booking_id)
    if (booking is None or booking.status != "confirmed" or booking.held_at is not None
            or booking.engagement_id is None or booking.ends_at > now):
        return []
    booking.held_at = now
    item, engagement, _coach = await _context(session, booking)
    entry = timeline_entry(booking, item.name, "held", reader=Party("", None, engagement.language, engagement.time_zone),
                           author="system", author_name="ecoach", direction="internal",
                           external_id=f"booking:{booking.id}:held")
    return await record_entries(session, [entry], now)


async def do_send_reminder(session: AsyncSession, ctx: BookingContext, booking_id: int, minutes: int,
                           sequence: int) -> tuple[list[Recorded], int]:
    """Remind the coachee by mail, or in the chat (no address, or chat chosen)."""
    booking = await session.get(Booking, booking_id)
    if (booking is None or booking.status != "confirmed" or booking.engagement_id is None
            or booking.sequence != sequence or booking.starts_at <= ctx.now):
        return [], 0
    item, engagement, coach = await _context(session, booking)
    manage, page = urls(ctx, booking, manage_token_of(booking, ctx.secret))
    settings = ctx.settings
    if settings.booking.reminder_channel == "mail" and settings.mail.enabled and booking.attendee_email:
        mails = await queue_booking_mails(session, booking, "reminder", type_name=item.name, coach=coach,
                                          coachee=coachee_party(booking), settings=settings, now=ctx.now,
                                          manage_url=manage, engagement_url=page)
        return [], mails
    reader = coachee_party(booking)
    notice = notices.notice(
        notices.line(OPENINGS["reminder"], type=item.name, name=coach.name),
        notices.line(WHEN_LINE, when=notices.span(booking.starts_at, booking.ends_at)),
        place_notice(booking), notices.line(MANAGE_LINE, url=notices.url(manage)))
    entry = NewExchange(
        engagement_id=engagement.id, channel="chat", direction="out", author="system", author_name=coach.name,
        text=notices.render_text(notice, reader.language, reader.zone),
        html=notices.render_html(notice, reader.language, reader.zone),
        external_id=f"booking:{booking.id}:reminder:{minutes}:{sequence}",
        meta={"booking_id": booking.id, "event": "reminder", "notice": notice}, force=True,
    )
    return await record_entries(session, [entry], ctx.now), 0


async def do_add_summary(session: AsyncSession, coach: Coach, booking_id: int, text: object, *, shared: bool,
                         client_id: str, now: datetime, max_chars: int) -> Recorded:
    """The coach's notes on a session that took place: a new exchange (the logbook is
    append-only), shared with the coachee or private."""
    booking = await bq.get_booking(session, coach.id, booking_id)
    if booking is None or booking.engagement_id is None:
        raise NotFound("booking_unknown", N_("This session does not exist."))
    if booking.status != "confirmed" or booking.starts_at > now:
        raise Conflict("summary_too_early", N_("A summary can be added once the session has started."))
    body = check_message(text, max_chars)
    item, engagement, _coach = await _context(session, booking)
    notice = notices.notice(
        notices.line(SUMMARY_HEADING, type=item.name, when=notices.span(booking.starts_at, booking.ends_at)),
        notices.raw(body))
    entry = NewExchange(
        engagement_id=engagement.id, channel=EXCHANGE_CHANNEL[booking.channel],
        direction="out" if shared else "internal", author="coach", author_name=coach.name,
        text=notices.render_text(notice, engagement.language, engagement.time_zone),
        html=notices.render_html(notice, engagement.language, engagement.time_zone),
        external_id=f"booking:{booking.id}:summary:{client_id}",
        meta={"booking_id": booking.id, "event": "summary", "notice": notice},
    )
    [recorded] = await record_entries(session, [entry], now)
    return recorded

