"""Booking, rescheduling and cancelling sessions.

A booking is written under the coach's agenda lock: ``BEGIN IMMEDIATE`` on SQLite (the
database's write lock), ``SELECT ... FOR UPDATE`` on the coach row on PostgreSQL. Under
it the free slots are computed again from the database and the asked time must be one
of them, so two people picking the same slot at the same instant get one booking and
one clear "just taken". The database enforces it as well (unique start, no overlapping
busy ranges; see migration 0006): a write that slips past the check still fails.

Every change is an exchange in the engagement's logbook (channel video or phone), moves
or cancels the reminder tasks and queues the calendar mails, all in the caller's unit of
work: the logbook entries reach the open pages, and the mails the outbox, after its commit.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.inputs import parse_int
from ecoach.actions.booking_notices import Party, queue_booking_mails, timeline_entry
from ecoach.actions.booking_offer import (
    TAKEN,
    check_change_allowed,
    check_slot,
    get_offer,
    lock_agenda,
    parse_start,
    rules_for,
)
from ecoach.actions.booking_tasks import schedule_session_tasks
from ecoach.actions.bundles import Rules, check_can_book
from ecoach.actions.coaches import check_email, check_name, check_time_zone
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import Recorded, check_can_write, record_exchanges
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.actions.session_types import check_booking_link, get_or_create_profile, link_token
from ecoach.channels.video import MeetingError, meeting_for, new_room
from ecoach.core.slots import Slot
from ecoach.core.tokens import new_salt, token_digest
from ecoach.logbook import booking_queries as bq
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000
BOOKING_FACTS = {"booked": "booking.created", "rescheduled": "booking.rescheduled", "cancelled": "booking.cancelled"}


@dataclass(frozen=True)
class BookingContext:
    settings: Settings
    now: datetime
    secret: str


@dataclass
class BookingOutcome:
    booking: Booking
    manage_token: str
    recorded: list[Recorded] = field(default_factory=list)
    mails: int = 0


async def _flush(session: AsyncSession) -> None:
    """The database's own guard against double booking, turned into the same message."""
    try:
        await session.flush()
    except IntegrityError as exc:
        log.info("double booking refused by the database: %s", exc.orig)
        raise Conflict("slot_taken", TAKEN) from None


async def record_entries(session: AsyncSession, items: list, now: datetime) -> list[Recorded]:  # type: ignore[type-arg]
    results = await record_exchanges(session, items, now)
    for result in results:
        if isinstance(result, ActionError):
            raise result
    recorded = [r for r in results if isinstance(r, Recorded)]
    for entry in recorded:
        _booking_fact(session, entry)
    return recorded


def _booking_fact(session: AsyncSession, recorded: Recorded) -> None:
    """A new booking entry is also a fact for integrations (webhooks, metrics)."""
    meta = recorded.exchange.meta or {}
    kind = BOOKING_FACTS.get(meta.get("event", ""))
    if recorded.created and kind and meta.get("booking_id"):
        emit(session, topics.FACTS, {"type": kind, "coach_id": recorded.coach_id,
                                     "engagement_id": recorded.exchange.engagement_id,
                                     "booking_id": meta["booking_id"]})


async def bookable_type(session: AsyncSession, coach_id: int, type_id: object, *, intake: bool) -> SessionType:
    item = None
    if (number := parse_int(str(type_id), low=1)) is not None:
        item = await bq.get_session_type(session, coach_id, number)
    if item is None or not item.active or (intake and not item.intake):
        raise NotFound("session_type_unknown", N_("This kind of session cannot be booked here."))
    return item


def coachee_party(booking: Booking) -> Party:
    return Party(booking.attendee_name, booking.attendee_email, booking.language, booking.attendee_time_zone)


def urls(ctx: BookingContext, booking: Booking, manage_token: str) -> tuple[str, str | None]:
    base = ctx.settings.base_url
    engagement = f"{base}/engagements/{booking.engagement_id}" if booking.engagement_id else f"{base}/sessions"
    return f"{base}/booking/{manage_token}", engagement


def manage_token_of(booking: Booking, secret: str) -> str:
    return link_token(secret, "manage", booking.manage_salt)


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str | None
    zone: str
    language: str
    message: str | None = None


async def attendee_for(session: AsyncSession, engagement: Engagement | None, *, name: str, email: str,
                       message: str, zone: str, language: str) -> Attendee:
    if engagement is not None:
        coachee = await session.get(Coachee, engagement.coachee_id)
        assert coachee is not None
        return Attendee(coachee.name, coachee.email or check_email(email, required=False), zone, engagement.language)
    message = message.strip()
    if len(message) > MAX_MESSAGE:
        raise ActionError("intake_message_long", N_("Your message can be at most %(limit)s characters."),
                          limit=MAX_MESSAGE)
    return Attendee(check_name(name), check_email(email), zone, language, message or None)


async def do_book_from_link(session: AsyncSession, ctx: BookingContext, token: str, *, type_id: object,
                            start: object, zone: str, language: str, name: str = "", email: str = "",
                            message: str = "") -> BookingOutcome:
    """A booking (or intake request) made on a booking page, from its form fields."""
    link, engagement = await check_booking_link(session, token, ctx.now)
    coach = await session.get(Coach, link.coach_id)
    assert coach is not None
    attendee = await attendee_for(session, engagement, name=name, email=email, message=message,
                                  zone=check_time_zone(zone), language=language)
    return await do_book(session, ctx, coach=coach, engagement=engagement, type_id=type_id,
                         start=parse_start(start), attendee=attendee)


async def _new_booking(session: AsyncSession, ctx: BookingContext, item: SessionType, slot: Slot, coach: Coach,
                       engagement: Engagement | None, attendee: Attendee) -> tuple[Booking, str]:
    """The booking row for a checked slot, with its meeting place and reschedule/cancel
    token (returned in plain; only its digest is stored)."""
    profile = await get_or_create_profile(session, coach.id, ctx.now)
    try:
        meeting = meeting_for(item.channel, provider=profile.video_provider,
                              template=ctx.settings.booking.video_url_template,
                              personal_room_url=profile.personal_room_url, phone_number=profile.phone_number,
                              address=item.address, room=new_room())
    except MeetingError:
        raise ActionError("session_place_missing", N_("This session cannot be booked yet: your coach has not set "
                                                      "up where it takes place.")) from None
    salt = new_salt()
    token = link_token(ctx.secret, "manage", salt)
    busy_from, busy_until = rules_for(item, ctx.settings.booking.slot_step_minutes).busy_range(slot.start)
    booking = Booking(
        coach_id=coach.id, session_type_id=item.id, engagement_id=engagement.id if engagement else None,
        status="confirmed" if engagement else "requested", starts_at=slot.start, ends_at=slot.end,
        busy_from=busy_from, busy_until=busy_until, channel=item.channel, location=meeting.location or None,
        meeting_url=meeting.url, uid=f"{secrets.token_hex(16)}@{ctx.settings.mail.domain}", sequence=0,
        language=attendee.language, attendee_name=attendee.name, attendee_email=attendee.email,
        attendee_time_zone=attendee.zone, attendee_message=attendee.message, manage_token_hash=token_digest(token),
        manage_salt=salt, created_at=ctx.now, updated_at=ctx.now,
    )
    return booking, token


async def do_book(session: AsyncSession, ctx: BookingContext, *, coach: Coach, engagement: Engagement | None,
                  type_id: object, start: datetime, attendee: Attendee) -> BookingOutcome:
    """Book a slot from an engagement's private link, or ask for an intake from the
    public page (``engagement`` None: a request the coach accepts or declines)."""
    if engagement is not None:
        check_can_write(engagement, "in")
    await lock_agenda(session, coach.id)
    if engagement is not None:  # under the agenda lock: bookings made meanwhile count as used
        await check_can_book(session, engagement, ctx.now, Rules.of(ctx.settings.billing))
    item = await bookable_type(session, coach.id, type_id, intake=engagement is None)
    offer = await get_offer(session, item, now=ctx.now, step_minutes=ctx.settings.booking.slot_step_minutes,
                            around=start)
    slot = check_slot(offer, start, ctx.now)
    booking, token = await _new_booking(session, ctx, item, slot, coach, engagement, attendee)
    session.add(booking)
    await _flush(session)
    outcome = BookingOutcome(booking, token)
    if engagement is not None:
        await _confirmed(session, ctx, outcome, item, coach, engagement, by="coachee")
    else:
        from ecoach.actions.booking_requests import notify_coach_of_request

        outcome.mails = await notify_coach_of_request(session, ctx, booking, item, coach)
    log.info("booking %s (%s) for coach %s at %s", booking.id, booking.status, coach.id, booking.starts_at)
    return outcome


async def _confirmed(session: AsyncSession, ctx: BookingContext, outcome: BookingOutcome, item: SessionType,
                     coach: Coach, engagement: Engagement, *, by: str) -> None:
    booking = outcome.booking
    author, name, direction = await _actor(session, engagement, coach, by)
    entry = timeline_entry(booking, item.name, "booked", reader=_reader(engagement), author=author,
                           author_name=name, direction=direction, external_id=f"booking:{booking.id}:booked")
    outcome.recorded += await record_entries(session, [entry], ctx.now)
    await schedule_session_tasks(session, booking, ctx.settings, ctx.now)
    manage, page = urls(ctx, booking, outcome.manage_token)
    outcome.mails += await queue_booking_mails(
        session, booking, "booked", type_name=item.name, coach=coach, coachee=coachee_party(booking),
        settings=ctx.settings, now=ctx.now, manage_url=manage, engagement_url=page)


def _reader(engagement: Engagement) -> Party:
    return Party("", None, engagement.language, engagement.time_zone)


async def _actor(session: AsyncSession, engagement: Engagement, coach: Coach, by: str) -> tuple[str, str, str]:
    """(author, author name, direction) of a change made by the coach or the coachee."""
    if by == "coach":
        return "coach", coach.name, "out"
    coachee = await session.get(Coachee, engagement.coachee_id)
    return "coachee", coachee.name if coachee else "", "in"


async def _locked_booking(session: AsyncSession, booking: Booking) -> Booking:
    await lock_agenda(session, booking.coach_id)
    await session.refresh(booking)  # read again under the lock
    return booking


async def do_reschedule(session: AsyncSession, ctx: BookingContext, booking: Booking, start: datetime,
                        *, by: str) -> BookingOutcome:
    booking = await _locked_booking(session, booking)
    check_change_allowed(booking, ctx.now, ctx.settings.booking.change_cutoff_hours, by=by)
    if booking.status != "confirmed" or booking.engagement_id is None:
        raise Conflict("booking_not_confirmed", N_("A request that is not confirmed yet cannot be moved."))
    item = await session.get(SessionType, booking.session_type_id)
    assert item is not None
    step = ctx.settings.booking.slot_step_minutes
    offer = await get_offer(session, item, now=ctx.now, step_minutes=step, exclude_id=booking.id, around=start)
    slot = check_slot(offer, start, ctx.now)
    old = (booking.starts_at, booking.ends_at)
    booking.starts_at, booking.ends_at = slot.start, slot.end
    booking.busy_from, booking.busy_until = rules_for(item, step).busy_range(slot.start)
    booking.sequence += 1
    booking.updated_at = ctx.now
    await _flush(session)
    return await _changed(session, ctx, booking, item, "rescheduled", by=by, old=old)


async def do_cancel(session: AsyncSession, ctx: BookingContext, booking: Booking, *, by: str) -> BookingOutcome:
    booking = await _locked_booking(session, booking)
    check_change_allowed(booking, ctx.now, ctx.settings.booking.change_cutoff_hours, by=by)
    was_confirmed = booking.status == "confirmed"
    booking.status, booking.cancelled_at, booking.cancelled_by = "cancelled", ctx.now, by
    booking.sequence += 1
    booking.updated_at = ctx.now
    await session.flush()
    item = await session.get(SessionType, booking.session_type_id)
    assert item is not None
    if not was_confirmed:  # an intake request: nothing was sent, nothing is in a logbook
        return BookingOutcome(booking, manage_token_of(booking, ctx.secret))
    return await _changed(session, ctx, booking, item, "cancelled", by=by)


async def _changed(session: AsyncSession, ctx: BookingContext, booking: Booking, item: SessionType, kind: str,
                   *, by: str, old: tuple[datetime, datetime] | None = None) -> BookingOutcome:
    engagement = await session.get(Engagement, booking.engagement_id)
    coach = await session.get(Coach, booking.coach_id)
    assert engagement is not None and coach is not None
    outcome = BookingOutcome(booking, manage_token_of(booking, ctx.secret))
    author, name, direction = await _actor(session, engagement, coach, by)
    entry = timeline_entry(booking, item.name, kind, reader=_reader(engagement), author=author, author_name=name,
                           direction=direction, external_id=f"booking:{booking.id}:{kind}:{booking.sequence}",
                           old=old, force=True)  # even when paused: the agenda changed either way
    outcome.recorded += await record_entries(session, [entry], ctx.now)
    await schedule_session_tasks(session, booking, ctx.settings, ctx.now)
    manage, page = urls(ctx, booking, outcome.manage_token)
    outcome.mails += await queue_booking_mails(
        session, booking, kind, type_name=item.name, coach=coach, coachee=coachee_party(booking),
        settings=ctx.settings, now=ctx.now, manage_url=manage, engagement_url=page)
    log.info("booking %s %s by %s", booking.id, kind, by)
    return outcome
