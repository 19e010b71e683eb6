"""What a booking says: its timeline entries, its calendar invites and its mails.

Texts are written in the reader's language and time zone: the coachee's for what the
coachee gets, the coach's for the coach. Mails go through the outbox in the caller's
transaction (save first, deliver second)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_
from ecoach.actions.exchanges import NewExchange
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.mail.compose import compose_mail
from ecoach.core.i18n import gettext_for
from ecoach.core import formats, notices
from ecoach.core.ics import CalendarEvent, feed, invite
from ecoach.core.text import sanitize_html
from ecoach.logbook import booking_queries as bq
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Coach
from ecoach.settings import Settings

# Sessions in person have no channel of their own in the logbook: they are system entries.
EXCHANGE_CHANNEL = {"video": "video", "phone": "phone", "in_person": "system"}

TIMELINE = {
    "requested": N_("%(type)s requested for %(when)s."),
    "booked": N_("%(type)s booked for %(when)s."),
    "rescheduled": N_("%(type)s moved to %(when)s (was %(old)s)."),
    "cancelled": N_("%(type)s on %(when)s cancelled."),
    "declined": N_("Request for %(when)s declined."),
    "held": N_("%(type)s on %(when)s took place."),
}
SUBJECTS = {
    "booked": N_("Invitation: %(type)s with %(name)s, %(when)s"),
    "rescheduled": N_("Moved: %(type)s with %(name)s, now %(when)s"),
    "cancelled": N_("Cancelled: %(type)s with %(name)s, %(when)s"),
    "reminder": N_("Reminder: %(type)s with %(name)s, %(when)s"),
}
OPENINGS = {
    "booked": N_("Your %(type)s with %(name)s is booked."),
    "rescheduled": N_("Your %(type)s with %(name)s has moved."),
    "cancelled": N_("Your %(type)s with %(name)s has been cancelled."),
    "reminder": N_("A reminder of your %(type)s with %(name)s."),
}
WHEN_LINE = N_("When: %(when)s")
MANAGE_LINE = N_("To reschedule or cancel: %(url)s")
ENGAGEMENT_LINE = N_("Engagement: %(url)s")


@dataclass(frozen=True)
class Party:
    """Who reads a text: name, address, language, time zone."""

    name: str
    email: str | None
    language: str
    zone: str


def when_text(start: datetime, end: datetime, zone: str, language: str) -> str:
    return formats.span(start, end, zone, language)


PLACE_LINES = {"video": N_("Join the video call: %(url)s"), "phone": N_("Call %(number)s"),
               "address": N_("Address: %(address)s")}


def place_line(booking: Booking, gettext) -> str:  # type: ignore[no-untyped-def]
    if booking.channel == "video" and booking.meeting_url:
        return gettext(PLACE_LINES["video"]) % {"url": booking.meeting_url}
    if booking.channel == "phone" and booking.location:
        return gettext(PLACE_LINES["phone"]) % {"number": booking.location}
    if booking.location:
        return gettext(PLACE_LINES["address"]) % {"address": booking.location}
    return ""


def place_notice(booking: Booking) -> dict | None:  # type: ignore[type-arg]
    """The place as a notice line (rendered in the reader's language, a link when it is one)."""
    if booking.channel == "video" and booking.meeting_url:
        return notices.line(PLACE_LINES["video"], url=notices.url(booking.meeting_url))
    if booking.channel == "phone" and booking.location:
        number = notices.url(booking.meeting_url, booking.location) if booking.meeting_url else booking.location
        return notices.line(PLACE_LINES["phone"], number=number)
    if booking.location:
        return notices.line(PLACE_LINES["address"], address=booking.location)
    return None


def timeline_entry(
    booking: Booking, type_name: str, event: str, *, reader: Party, author: str, author_name: str,
    direction: str, external_id: str, old: tuple[datetime, datetime] | None = None, note: str = "",
    force: bool = False,
) -> NewExchange:
    """A booking event as a logbook exchange of the session's channel: a notice, shown in
    each reader's language and zone (``reader`` gives the stored text's)."""
    values: dict = {"type": type_name, "when": notices.span(booking.starts_at, booking.ends_at)}  # type: ignore[type-arg]
    if old:
        values["old"] = notices.span(*old)
    lines = [notices.line(TIMELINE[event], **values)]
    if event in ("booked", "rescheduled"):
        lines.append(place_notice(booking))
    if note:
        lines.append(notices.raw(note))
    notice = notices.notice(*lines)
    meta = {"booking_id": booking.id, "event": event, "starts_at": booking.starts_at.isoformat(),
            "ends_at": booking.ends_at.isoformat(), "meeting_url": booking.meeting_url, "notice": notice}
    return NewExchange(
        engagement_id=booking.engagement_id or 0, channel=EXCHANGE_CHANNEL[booking.channel],
        direction=direction, author=author, author_name=author_name,
        text=notices.render_text(notice, reader.language, reader.zone),
        html=sanitize_html(notices.render_html(notice, reader.language, reader.zone)), external_id=external_id,
        meta=meta, force=force or direction == "internal",
    )


def calendar_event(booking: Booking, title: str, description: str, coach: Coach, now: datetime) -> CalendarEvent:
    return CalendarEvent(
        uid=booking.uid, sequence=booking.sequence, start=booking.starts_at, end=booking.ends_at, title=title,
        description=description, location=booking.location or booking.meeting_url or "", url=booking.meeting_url,
        organizer_name=coach.name, organizer_email=coach.email, attendee_name=booking.attendee_name,
        attendee_email=booking.attendee_email, stamp=now,
        status="TENTATIVE" if booking.status == "requested" else "CONFIRMED",
    )


def _mail_text(booking: Booking, kind: str, type_name: str, other: str, reader: Party,
               link_line: str) -> tuple[str, str]:
    _ = gettext_for(reader.language)
    values = {"type": type_name, "name": other,
              "when": when_text(booking.starts_at, booking.ends_at, reader.zone, reader.language)}
    lines = [_(OPENINGS[kind]) % values, "", _(WHEN_LINE) % values]
    if kind != "cancelled":
        lines.append(place_line(booking, _))
    lines += ["", link_line]
    return _(SUBJECTS[kind]) % values, "\n".join(line for line in lines if line is not None)


async def queue_booking_mails(
    session: AsyncSession, booking: Booking, kind: str, *, type_name: str, coach: Coach, coachee: Party,
    settings: Settings, now: datetime, manage_url: str, engagement_url: str | None,
) -> int:
    """The invite (REQUEST) or cancellation (CANCEL) to the coachee and the coach; for a
    reminder, a plain mail to the coachee. Returns how many mails were queued."""
    if not settings.mail.enabled:
        return 0
    coach_party = Party(coach.name, coach.email, coach.language, coach.time_zone)
    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    queued = 0
    manage = "" if kind == "cancelled" else gettext_for(coachee.language)(MANAGE_LINE) % {"url": manage_url}
    for reader, other, link in (
        (coachee, coach.name, manage),
        (coach_party, booking.attendee_name,
         gettext_for(coach.language)(ENGAGEMENT_LINE) % {"url": engagement_url} if engagement_url else ""),
    ):
        if not reader.email or (kind == "reminder" and reader is coach_party):
            continue
        subject, text = _mail_text(booking, kind, type_name, other, reader, link)
        calendar = None
        if kind != "reminder":
            event = calendar_event(booking, f"{type_name}: {other}", text, coach, now)
            calendar = (invite(event, method), method)
        sender_name = coach.name if reader is coachee else "ecoach"
        await _queue(session, settings, now, booking, reader, subject, text, calendar, sender_name)
        queued += 1
    return queued


async def queue_plain_mail(session: AsyncSession, settings: Settings, now: datetime, booking: Booking,
                           reader: Party, subject: str, text: str, sender_name: str = "ecoach") -> int:
    if not settings.mail.enabled or not reader.email:
        return 0
    await _queue(session, settings, now, booking, reader, subject, text, None, sender_name)
    return 1


async def _queue(session: AsyncSession, settings: Settings, now: datetime, booking: Booking, reader: Party,
                 subject: str, text: str, calendar: tuple[bytes, str] | None, sender_name: str) -> None:
    mail = settings.mail
    assert reader.email
    message, message_id = compose_mail(
        from_name=sender_name, from_address=mail.sender, to_address=reader.email, to_name=reader.name,
        reply_to=None, subject=subject, text=text, html=None, message_id_domain=mail.domain,
        in_reply_to=None, references=[], auto="auto-generated", date=now, calendar=calendar,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=reader.email, kind="invite" if calendar else "booking",
                          engagement_id=booking.engagement_id, now=now)


FEED_DESCRIPTION = N_("%(type)s with %(name)s")


async def coach_feed(session: AsyncSession, coach_id: int, settings: Settings, now: datetime) -> bytes:
    """The coach's subscription calendar: every session not cancelled, from 90 days back."""
    coach = await session.get(Coach, coach_id)
    assert coach is not None
    _ = gettext_for(coach.language)
    names = {t.id: t.name for t in await bq.get_session_types(session, coach_id, active_only=False)}
    items = []
    for booking in await bq.get_feed_bookings(session, coach_id, now - timedelta(days=90)):
        title = _(FEED_DESCRIPTION) % {"type": names.get(booking.session_type_id, ""), "name": booking.attendee_name}
        page = (f"{settings.base_url}/engagements/{booking.engagement_id}" if booking.engagement_id
                else f"{settings.base_url}/sessions")
        description = "\n".join(x for x in (place_line(booking, _), page) if x)
        items.append(calendar_event(booking, title, description, coach, booking.updated_at))
    return feed(items, f"ecoach: {coach.name}")
