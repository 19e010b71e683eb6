"""Short notices of the data-rights area (export requests, retention warnings): dates in
the reader's zone and language, and mails queued through the outbox in the caller's
transaction. They carry no coaching content, only what happened and where to look."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.mail.compose import compose_mail
from ecoach.settings import Settings


def format_date(at: datetime, zone: str, language: str) -> str:
    """"3 March 2027, 14:00" in the reader's zone and language."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return format_datetime(at.astimezone(tz), "d MMMM y, HH:mm", locale=language)


async def queue_notice(session: AsyncSession, settings: Settings, now: datetime, *, to_address: str, to_name: str,
                       subject: str, text: str, engagement_id: int | None) -> None:
    mail = settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=to_address, to_name=to_name,
        reply_to=mail.sender, subject=subject, text=text, html=None, message_id_domain=mail.domain,
        in_reply_to=None, references=[], auto="auto-generated", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=to_address, kind="notification", engagement_id=engagement_id, now=now)
