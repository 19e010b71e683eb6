"""Automatic replies to a coachee's mail: the absence reply, and the acknowledgement.

Both are loop-safe (RFC 3834): sent with ``Auto-Submitted: auto-replied``, never to mail
that is itself automatic or bulk (``ParsedMail.auto_submitted``: Auto-Submitted,
Precedence, List-*, bounces), never to our own addresses, and at most once per
engagement per absence (``absence_reply`` has a unique row per pair). Threaded to the
coachee's mail, with the engagement's reply address, in the engagement's language.

The absence reply is a step of the inbound mail pipeline (``mail_inbound``):
``do_absence_reply`` right after the mail is recorded, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.agreement_texts import (
    ABSENCE_BODY, ABSENCE_EMERGENCY, ABSENCE_SUBJECT, ABSENCE_SUBSTITUTE, format_day,
)
from ecoach.core.i18n import translations
from ecoach.logbook.availability_models import AbsenceReply, AvailabilityException
from ecoach.logbook.availability_queries import get_current_absence, get_working_calendar
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import MailSettings

log = logging.getLogger(__name__)


async def queue_auto_reply(
    session: AsyncSession, *, mail: MailSettings, secret: str, engagement: Engagement, from_name: str,
    to_address: str, to_name: str | None, subject: str, text: str, in_reply_to: str | None,
    references: Sequence[str], kind: str, now: datetime,
) -> None:
    from ecoach.actions.mail_outbox import do_enqueue_mail
    from ecoach.channels.mail.compose import compose_mail
    from ecoach.core.reply_tokens import make_token, reply_address

    token = make_token(secret, engagement.id)
    message, message_id = compose_mail(
        from_name=from_name, from_address=mail.sender, to_address=to_address, to_name=to_name,
        reply_to=reply_address(token, local=mail.reply_local, domain=mail.domain, form=mail.reply_form),
        subject=subject, text=text, html=None, message_id_domain=mail.domain, in_reply_to=in_reply_to,
        references=[*references, *([in_reply_to] if in_reply_to else [])], auto="auto-replied", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=to_address, kind=kind, engagement_id=engagement.id, now=now)


def is_our_address(address: str, mail: MailSettings) -> bool:
    """Mail from ecoach itself (or anything at our reply local part) is never answered."""
    local, _, domain = address.lower().rpartition("@")
    ours_local = mail.reply_local.lower()
    return (address.lower() == mail.sender.lower()
            or (domain == mail.domain.lower() and (local == ours_local or local.startswith(ours_local + "+"))))


async def _claim(session: AsyncSession, exception_id: int, engagement_id: int, now: datetime) -> bool:
    """Insert the (absence, engagement) row; False when it was there already."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(AbsenceReply)
        .values(exception_id=exception_id, engagement_id=engagement_id, sent_at=now)
        .on_conflict_do_nothing()
        .returning(AbsenceReply.id)
    )
    return (await session.execute(stmt)).first() is not None


async def do_absence_reply(
    session: AsyncSession, *, engagement: Engagement, from_address: str | None, from_name: str | None,
    subject: str, message_id: str | None, references: Sequence[str], auto_submitted: bool,
    mail: MailSettings, secret: str, now: datetime,
) -> bool:
    """Answer an inbound mail when the coach is away; True if a reply was queued."""
    if auto_submitted or not from_address or is_our_address(from_address, mail):
        return False
    absence = await get_current_absence(session, engagement.coach_id, now)
    if absence is None or not await _claim(session, absence.id, engagement.id, now):
        return False
    coach = await session.get(Coach, engagement.coach_id)
    assert coach is not None
    text = await absence_text(session, absence, coach, engagement, now)
    t = translations(engagement.language)
    await queue_auto_reply(
        session, mail=mail, secret=secret, engagement=engagement, from_name=coach.name,
        to_address=from_address, to_name=from_name, subject=t.gettext(ABSENCE_SUBJECT) % {"subject": subject},
        text=text, in_reply_to=message_id, references=references, kind="absence_reply", now=now,
    )
    log.info("absence reply queued for engagement %s (exception %s)", engagement.id, absence.id)
    return True


async def absence_text(
    session: AsyncSession, absence: AvailabilityException, coach: Coach, engagement: Engagement, now: datetime
) -> str:
    calendar = await get_working_calendar(session, coach.id, "mail", since=now - timedelta(days=1))
    back = calendar.next_open(max(absence.ends_at, now)) or absence.ends_at
    t = translations(engagement.language)
    parts = [t.gettext(ABSENCE_BODY) % {
        "coach": coach.name, "back": format_day(back, engagement.time_zone, engagement.language)}]
    if absence.return_note.strip():
        parts.append(absence.return_note.strip())
    if absence.substitute.strip():
        parts.append(t.gettext(ABSENCE_SUBSTITUTE) % {"contact": absence.substitute.strip()})
    if absence.emergency_contact.strip():
        parts.append(t.gettext(ABSENCE_EMERGENCY) % {"contact": absence.emergency_contact.strip()})
    return "\n\n".join(parts)


async def absence_step(
    session: AsyncSession, parsed, engagement: Engagement, mail: MailSettings, secret: str,  # type: ignore[no-untyped-def]
    now: datetime,
) -> int:
    """The inbound mail pipeline's step: how many mails it queued (0 or 1)."""
    replied = await do_absence_reply(
        session, engagement=engagement, from_address=parsed.from_address, from_name=parsed.from_name,
        subject=parsed.subject, message_id=parsed.message_id, references=parsed.references,
        auto_submitted=parsed.auto_submitted, mail=mail, secret=secret, now=now,
    )
    return int(replied)
