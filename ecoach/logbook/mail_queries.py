"""Reading the mail channel's tables: the quarantine, originals and attachments (scoped by
their coach or engagement), IMAP positions and coach look-ups for the mail transports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.mail_models import Attachment, MailboxCursor, MailSource, Quarantine
from ecoach.logbook.models import Coach, Engagement, Exchange


async def get_quarantine_entry(session: AsyncSession, coach_id: int, entry_id: int) -> Quarantine | None:
    """A quarantined mail of this coach (another coach's is not found)."""
    entry = await session.get(Quarantine, entry_id)
    return entry if entry is not None and entry.coach_id == coach_id else None


async def get_exchange(session: AsyncSession, engagement_id: int, exchange_id: int) -> Exchange | None:
    """An exchange of this engagement (another engagement's is not found)."""
    exchange = await session.get(Exchange, exchange_id)
    return exchange if exchange is not None and exchange.engagement_id == engagement_id else None


async def get_mail_source(session: AsyncSession, exchange_id: int) -> MailSource | None:
    return await session.get(MailSource, exchange_id)


async def get_attachment(session: AsyncSession, engagement_id: int, attachment_id: int) -> Attachment | None:
    """An attachment of a mail in this engagement's logbook."""
    stmt = (
        select(Attachment)
        .join(Exchange, Exchange.id == Attachment.exchange_id)
        .where(Attachment.id == attachment_id, Exchange.engagement_id == engagement_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_mailbox_position(session: AsyncSession, mailbox: str) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID taken in) of an IMAP mailbox's folder, if read before."""
    row = (await session.execute(
        select(MailboxCursor.uidvalidity, MailboxCursor.last_uid).where(MailboxCursor.mailbox == mailbox)
    )).first()
    return (row[0], row[1]) if row else None


async def save_mailbox_position(session: AsyncSession, now: datetime, *, mailbox: str, uidvalidity: int,
                                last_uid: int) -> None:
    """In the caller's transaction: the one that takes in the mails up to ``last_uid``."""
    row = (await session.execute(select(MailboxCursor).where(MailboxCursor.mailbox == mailbox))).scalar()
    if row is None:
        session.add(MailboxCursor(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now))
        return
    row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, now


async def get_coach_id_by_email(session: AsyncSession, email: str) -> int | None:
    stmt = select(Coach.id).where(func.lower(Coach.email) == email.lower())
    return (await session.execute(stmt)).scalar()


async def engagement_exists(session: AsyncSession, engagement_id: int) -> bool:
    return (await session.get(Engagement, engagement_id)) is not None
