"""The calendar invite of a group session, to every active member.

As a one-to-one booking's (``booking_notices``): the mail says what, when and where in
the member's language and time zone, and carries the session as an iCalendar REQUEST
(one UID for the whole group, so a later change or cancellation replaces it in every
calendar); the member is the invite's attendee, never another member. Queued per member
in the caller's transaction, tied to the member's engagement (erased with it)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.booking_notices import Party, _mail_text, calendar_event
from ecoach.actions.engagements import chat_token_of
from ecoach.actions.errors import N_
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.i18n import gettext_for
from ecoach.core.ics import invite
from ecoach.core.mail.compose import compose_mail
from ecoach.logbook import group_queries as gq
from ecoach.logbook import queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.group_models import CoachingGroup
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)

GROUP_LINE = N_("The group's conversation: %(url)s")


async def queue_group_invites(session: AsyncSession, settings: Settings, now: datetime, *, coach: Coach,
                              group: CoachingGroup, booking: Booking, type_name: str,
                              members: list[Engagement], kind: str = "booked") -> int:
    """One invite per given member with an e-mail address; returns how many were queued.
    ``kind``: booked or rescheduled (a REQUEST), cancelled (a CANCEL); the caller bumps the
    booking's SEQUENCE for a change, so calendars replace the event of the same UID."""
    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    if not settings.mail.enabled or not members:
        return 0
    coachees = await gq.get_member_coachees(session, [m.coachee_id for m in members])
    queued = 0
    for member in members:
        coachee = coachees.get(member.coachee_id)
        if coachee is None or not coachee.email:
            continue
        reader = Party(coachee.name, coachee.email, member.language, member.time_zone)
        subject, text = _mail_text(booking, kind, type_name, coach.name, reader,
                                   await _group_line(session, settings, now, member, group))
        event = replace(calendar_event(booking, f"{type_name}: {coach.name}", text, coach, now),
                        attendee_name=coachee.name, attendee_email=coachee.email)
        message, message_id = compose_mail(
            from_name=coach.name, from_address=settings.mail.sender, to_address=coachee.email, to_name=coachee.name,
            reply_to=None, subject=subject, text=text, html=None, message_id_domain=settings.mail.domain,
            in_reply_to=None, references=[], auto="auto-generated", date=now,
            calendar=(invite(event, method), method))
        await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=settings.mail.sender,
                              recipient=coachee.email, kind="invite", engagement_id=member.id, now=now)
        queued += 1
    log.info("group %s session %s %s: %s invites", group.id, booking.id, kind, queued)
    return queued


async def _group_line(session: AsyncSession, settings: Settings, now: datetime, member: Engagement,
                      group: CoachingGroup) -> str:
    """The member's own link to the group's page (through their chat link), if it can be made again."""
    link = await queries.get_active_chat_link(session, member.id, now)
    token = chat_token_of(link, settings.secret) if link else None
    if token is None:
        return ""
    return gettext_for(member.language)(GROUP_LINE) % {"url": f"{settings.base_url}/c/{token}/groups/{group.id}"}
