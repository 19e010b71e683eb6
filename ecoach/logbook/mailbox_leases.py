"""The lease row that makes one process, and only one, the reader of an IMAP mailbox.

A process takes a mailbox when nobody holds it or the holder's lease has run out (it
died or hangs); it renews its lease well before the end; a process that stops gives it
back at once. Every batch of mail the reader takes in checks, in its own transaction,
that the row still names it (``fence``): on PostgreSQL that locks the row until the
commit, so a takeover waits for the batch, and a reader that lost the mailbox commits
nothing. (The dedupe record would catch a second copy anyway; this keeps it from trying.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.mail_models import MailboxReader


async def take_mailbox(session: AsyncSession, mailbox: str, holder: str, now: datetime, until: datetime) -> bool:
    """Become (or stay) the mailbox's reader when it is free; True when this holder has it."""
    taken = await session.execute(
        update(MailboxReader)
        .where(MailboxReader.mailbox == mailbox,
               or_(MailboxReader.lease_until <= now, MailboxReader.holder == holder))
        .values(holder=holder, lease_until=until, taken_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount:
        return True
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)
    stmt = (insert(MailboxReader).values(mailbox=mailbox, holder=holder, lease_until=until, taken_at=now)
            .on_conflict_do_nothing().returning(MailboxReader.mailbox))
    return (await session.execute(stmt)).first() is not None


async def renew_mailbox(session: AsyncSession, mailbox: str, holder: str, until: datetime) -> bool:
    """Extend the lease; False when another process has taken the mailbox over."""
    renewed = await session.execute(
        update(MailboxReader).where(MailboxReader.mailbox == mailbox, MailboxReader.holder == holder)
        .values(lease_until=until).execution_options(synchronize_session=False)
    )
    return renewed.rowcount == 1


async def release_mailbox(session: AsyncSession, mailbox: str, holder: str, now: datetime) -> None:
    """Give the mailbox back: another process may take it at its next look."""
    await session.execute(
        update(MailboxReader).where(MailboxReader.mailbox == mailbox, MailboxReader.holder == holder)
        .values(lease_until=now).execution_options(synchronize_session=False)
    )


async def fence(session: AsyncSession, mailbox: str, holder: str) -> bool:
    """In the transaction of a batch of mail: True when this holder still reads the mailbox
    (the row stays locked until the commit), or nobody ever did."""
    mine = await session.execute(
        update(MailboxReader).where(MailboxReader.mailbox == mailbox, MailboxReader.holder == holder)
        .values(holder=holder).execution_options(synchronize_session=False)
    )
    if mine.rowcount == 1:
        return True
    other = await session.execute(select(MailboxReader.holder).where(MailboxReader.mailbox == mailbox))
    return other.first() is None


async def get_mailbox_reader(session: AsyncSession, mailbox: str) -> MailboxReader | None:
    return await session.get(MailboxReader, mailbox)
