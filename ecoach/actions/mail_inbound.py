"""Taking inbound mail in: the transports' entry point (IMAP, LMTP).

``take_in_mails`` runs a batch through the pipeline (``ecoach.actions.mail_pipeline``:
dedupe, bounce, route, hold, record, auto-replies, ledger, announce), queues the coach's
notifications, lets the transport add its own writes (an IMAP position, the reader's
lease check) and commits it all as one unit of work; the events go out after that commit.
The transport acknowledges (IMAP move, LMTP 250) after it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.mail_held import (  # noqa: F401 - re-exported
    count_held, count_held_by_coach, get_default_owner,
)
from ecoach.actions.mail_pipeline import Batch, Outcome, run_pipeline
from ecoach.actions.mail_record import PlacedMail, record_mail, record_mails  # noqa: F401 - re-exported
from ecoach.actions.notify import do_notify_recorded
from ecoach.actions.unit import unit_of_work
from ecoach.core.clock import Clock
from ecoach.core.mail.parse import ParsedMail, parse_mail
from ecoach.settings import MailSettings, Settings

log = logging.getLogger(__name__)

# Each failed attempt means another taker committed: k concurrent takers need at most k.
ATTEMPTS = 4


InTransaction = Callable[[AsyncSession, datetime], Awaitable[None]]


async def take_in_mail(
    sessions: async_sessionmaker[AsyncSession], raw: bytes, *, source: str, settings: Settings,
    clock: Clock, owner_coach_id: int | None = None, in_transaction: InTransaction | None = None,
) -> Outcome:
    """Commit one mail; the caller acknowledges it after this returns."""
    [outcome] = await take_in_mails(sessions, [raw], source=source, settings=settings, clock=clock,
                                    owner_coach_id=owner_coach_id, in_transaction=in_transaction)
    return outcome


async def take_in_mails(
    sessions: async_sessionmaker[AsyncSession], raws: Sequence[bytes], *, source: str,
    settings: Settings, clock: Clock, owner_coach_id: int | None = None,
    in_transaction: InTransaction | None = None,
) -> list[Outcome]:
    """Commit-then-acknowledge for a batch: every mail, its notifications and whatever
    ``in_transaction(session, now)`` writes (an IMAP position) commit together; events go
    out (and the outbox wakes) only after that commit. A concurrent taker that stored one
    of the mails first makes the transaction fail: the retry finds it a duplicate."""
    raws = [bytes(raw) for raw in raws]
    # Parsing is pure: done once, before the transaction, not again on a retry.
    mails = [parse_mail(raw, max_bytes=settings.mail.max_bytes) for raw in raws]
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _take(sessions, raws, mails, source, settings, clock, owner_coach_id, in_transaction)
        except DBAPIError as exc:
            if attempt == ATTEMPTS or not _another_taker(exc):
                raise
            log.info("mail stored concurrently by another taker; taking the batch again (%s)", type(exc).__name__)
    raise AssertionError("unreachable")


def _another_taker(exc: DBAPIError) -> bool:
    """A conflict with a concurrent taker (another mailbox, LMTP, another process): it
    stored one of these mails first, or PostgreSQL chose this batch as a deadlock's victim.
    Either way the other one committed, so taking the batch again makes progress."""
    return isinstance(exc, IntegrityError) or getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


async def _take(
    sessions: async_sessionmaker[AsyncSession], raws: list[bytes], mails: list[ParsedMail],
    source: str, settings: Settings, clock: Clock, owner_coach_id: int | None,
    in_transaction: InTransaction | None,
) -> list[Outcome]:
    async with unit_of_work(sessions) as session:
        now = clock.now()
        outcomes = await do_ingest_mails(
            session, raws, source=source, mail=settings.mail, secret=settings.secret, now=now,
            owner_coach_id=owner_coach_id, default_owner=owner_coach_id is None, parsed=mails,
            base_url=settings.base_url)
        placed = [o for o in outcomes if o.recorded is not None]
        counts = await do_notify_recorded(session, [o.recorded for o in placed],  # type: ignore[misc]
                                          settings=settings, now=now)
        for outcome, queued in zip(placed, counts):
            outcome.queued += queued
        if in_transaction is not None:
            await in_transaction(session, now)
    return outcomes


async def do_ingest_mail(
    session: AsyncSession, raw: bytes, *, source: str, mail: MailSettings, secret: str, now: datetime,
    owner_coach_id: int | None = None,
) -> Outcome:
    """Take one raw mail in, in the caller's transaction. ``owner_coach_id`` (the
    mailbox's coach) sees quarantined mail that no engagement could claim."""
    [outcome] = await do_ingest_mails(session, [raw], source=source, mail=mail, secret=secret, now=now,
                                      owner_coach_id=owner_coach_id)
    return outcome


async def do_ingest_mails(
    session: AsyncSession, raws: Sequence[bytes], *, source: str, mail: MailSettings, secret: str,
    now: datetime, owner_coach_id: int | None = None, default_owner: bool = False,
    parsed: Sequence[ParsedMail] | None = None, base_url: str = "",
) -> list[Outcome]:
    """The pipeline for a batch, in the caller's transaction: one outcome per mail, in
    order. With ``default_owner`` and no ``owner_coach_id``, unclaimable mail is shown to
    the server's only coach (looked up only when there is such mail)."""
    mails = list(parsed) if parsed is not None else [parse_mail(raw, max_bytes=mail.max_bytes) for raw in raws]
    batch = Batch(session, list(raws), mails, mail, secret, now, source, owner_coach_id=owner_coach_id,
                  default_owner=default_owner, base_url=base_url)
    return await run_pipeline(batch)
