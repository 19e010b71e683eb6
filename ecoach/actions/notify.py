"""Short notification mails, queued in the same transaction as what caused them:
- the coach hears that a coachee started waiting for an answer (setting notify_coach);
- a coachee who is not in the chat hears that the coach answered there (with the link).

They carry no coaching content, only who wrote and where to read it, and are marked
``Auto-Submitted: auto-generated`` so no mail program answers them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.engagements import chat_token_of
from ecoach.actions.errors import N_
from ecoach.actions.exchanges import Recorded
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.channels.mail.compose import compose_mail
from ecoach.core.hub import Hub, engagement_topic
from ecoach.core.i18n import gettext_for
from ecoach.logbook import queries
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)

COACH_SUBJECT = N_("%(name)s wrote to you")
COACH_BODY = N_("%(name)s wrote to you by %(channel)s and is waiting for your answer.\n\nRead and answer: %(url)s")
COACHEE_SUBJECT = N_("%(name)s answered you in the chat")
COACHEE_BODY = N_("Hello %(coachee)s,\n\n%(name)s answered you in your coaching chat.\n\nRead it here: %(url)s")


async def notify_after_record(
    session: AsyncSession, recorded: list[Recorded], *, hub: Hub, settings: Settings, now: datetime
) -> int:
    """Queue the notifications this batch of new exchanges calls for; returns how many."""
    if not settings.mail.enabled:
        return 0
    queued, done = 0, set()
    for item in recorded:
        ex = item.exchange
        key = (ex.engagement_id, ex.direction)
        if not item.created or key in done:
            continue
        if ex.direction == "in" and not item.was_waiting and settings.mail.notify_coach == "immediate":
            done.add(key)
            queued += await _notify_coach(session, item, settings, now)
        elif (ex.direction == "out" and ex.channel == "chat" and settings.mail.notify_coachee_chat
              and hub.subscriber_count(engagement_topic(ex.engagement_id)) == 0):
            done.add(key)
            queued += await _notify_coachee(session, item, settings, now)
    return queued


async def _context(session: AsyncSession, item: Recorded) -> tuple[Engagement, Coach, Coachee]:
    engagement = await session.get(Engagement, item.exchange.engagement_id)
    assert engagement is not None
    coach = await queries.get_coach(session, engagement.coach_id)
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coach is not None and coachee is not None
    return engagement, coach, coachee


async def _notify_coach(session: AsyncSession, item: Recorded, settings: Settings, now: datetime) -> int:
    engagement, coach, coachee = await _context(session, item)
    _ = gettext_for(coach.language)
    values = {"name": coachee.name, "channel": _(item.exchange.channel),
              "url": f"{settings.base_url}/engagements/{engagement.id}"}
    await _queue(session, settings, now, to_address=coach.email, to_name=coach.name,
                 subject=_(COACH_SUBJECT) % values, text=_(COACH_BODY) % values,
                 engagement_id=engagement.id)
    return 1


async def _notify_coachee(session: AsyncSession, item: Recorded, settings: Settings, now: datetime) -> int:
    engagement, coach, coachee = await _context(session, item)
    link = await queries.get_active_chat_link(session, engagement.id, now)
    token = chat_token_of(link, settings.resolved_secret()) if link else None
    if not coachee.email or token is None:
        return 0
    _ = gettext_for(engagement.language)
    values = {"name": coach.name, "coachee": coachee.name, "url": f"{settings.base_url}/c/{token}"}
    await _queue(session, settings, now, to_address=coachee.email, to_name=coachee.name,
                 subject=_(COACHEE_SUBJECT) % values, text=_(COACHEE_BODY) % values,
                 engagement_id=engagement.id)
    return 1


async def _queue(session: AsyncSession, settings: Settings, now: datetime, *, to_address: str,
                 to_name: str, subject: str, text: str, engagement_id: int) -> None:
    mail = settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=to_address, to_name=to_name,
        reply_to=mail.sender, subject=subject, text=text, html=None,
        message_id_domain=mail.domain, in_reply_to=None, references=[], auto="auto-generated",
        date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=to_address, kind="notification", engagement_id=engagement_id, now=now)
