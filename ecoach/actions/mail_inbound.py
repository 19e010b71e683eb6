"""Inbound mail, as a named list of steps (the pipeline):

parse -> dedupe -> bounce -> route (token, else known sender) -> verify sender ->
record (exchange, attachments, original; commitments) -> auto-reply if oversized ->
absence auto-reply -> notify.

Every mail ends as exactly one ``inbound_mail`` row: an exchange in a logbook, a matched
bounce, a quarantine entry with its reason, or nothing new for a duplicate. Nothing is
dropped. ``take_in_mails`` is the transports' entry point: it commits, and only then
publishes; the transport acknowledges (IMAP move, LMTP 250) after it returns.

Each step takes the whole batch at once, so a batch costs a fixed handful of statements
(one dedupe query, two routing queries, one ``record_exchanges``, one insert per table),
not a dozen per mail; the outcomes are those of taking the mails one by one, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.absence import ask_for, plan_absence_replies, queue_absence_reply
from ecoach.actions.exchanges import Recorded, publish_recorded
from ecoach.actions.mail_held import (  # noqa: F401 - count_held: re-exported
    count_held, count_held_by_coach, do_hold_mails, do_take_bounce, get_default_owner,
)
from ecoach.actions.mail_outbox import DeliveryChange, publish_deliveries
from ecoach.actions.mail_record import PlacedMail, record_mail, record_mails  # noqa: F401 - re-exported
from ecoach.actions.mail_routing import Route, route_mails
from ecoach.actions.notify import do_notify_recorded, do_reply_oversized, recently_auto_replied
from ecoach.core.mail.parse import ParsedMail, parse_mail
from ecoach.core.clock import Clock
from ecoach.core.hub import Hub, coach_topic
from ecoach.logbook.mail_models import InboundMail, Quarantine
from ecoach.logbook.models import Coachee, Engagement
from ecoach.settings import MailSettings, Settings

log = logging.getLogger(__name__)

CHUNK = 500  # dedupe keys per IN (...)
# Each failed attempt means another taker committed: k concurrent takers need at most k.
ATTEMPTS = 4


@dataclass
class Outcome:
    kind: str  # exchange, duplicate, bounce, quarantine
    mail: ParsedMail
    recorded: Recorded | None = None
    quarantine: Quarantine | None = None
    engagement: Engagement | None = None
    coachee: Coachee | None = None
    bounced: int = 0
    queued: int = 0  # mails queued in the outbox (auto-reply, notifications)
    changes: list[DeliveryChange] = field(default_factory=list)  # bounces, to publish


InTransaction = Callable[[AsyncSession, datetime], Awaitable[None]]


async def take_in_mail(
    sessions: async_sessionmaker[AsyncSession], hub: Hub, raw: bytes, *, source: str,
    settings: Settings, clock: Clock, owner_coach_id: int | None = None,
    wake: Callable[[], None] | None = None, in_transaction: InTransaction | None = None,
) -> Outcome:
    """Commit one mail, then publish; the caller acknowledges it after this returns."""
    [outcome] = await take_in_mails(sessions, hub, [raw], source=source, settings=settings, clock=clock,
                                    owner_coach_id=owner_coach_id, wake=wake, in_transaction=in_transaction)
    return outcome


async def take_in_mails(
    sessions: async_sessionmaker[AsyncSession], hub: Hub, raws: Sequence[bytes], *, source: str,
    settings: Settings, clock: Clock, owner_coach_id: int | None = None,
    wake: Callable[[], None] | None = None, in_transaction: InTransaction | None = None,
) -> list[Outcome]:
    """Commit-then-acknowledge for a batch: every mail, its notifications and whatever
    ``in_transaction(session, now)`` writes (an IMAP position) commit together; events go
    out and the outbox is woken only after that commit. A concurrent taker that stored one
    of the mails first makes the transaction fail: the retry finds it a duplicate."""
    raws = [bytes(raw) for raw in raws]
    # Parsing is pure: done once, before the transaction, not again on a retry.
    mails = [parse_mail(raw, max_bytes=settings.mail.max_bytes) for raw in raws]
    for attempt in range(1, ATTEMPTS + 1):
        try:
            outcomes, held = await _take(sessions, hub, raws, mails, source, settings, clock, owner_coach_id,
                                         in_transaction)
            break
        except DBAPIError as exc:
            if attempt == ATTEMPTS or not _another_taker(exc):
                raise
            log.info("mail stored concurrently by another taker; taking the batch again (%s)", type(exc).__name__)
    for outcome in outcomes:
        if outcome.recorded is not None:
            publish_recorded(hub, outcome.recorded)
        publish_deliveries(hub, outcome.changes)
    for coach_id, count in held.items():
        hub.publish(coach_topic(coach_id), {"type": "quarantine", "count": count})
    if wake is not None and any(o.queued for o in outcomes):
        wake()
    return outcomes


def _another_taker(exc: DBAPIError) -> bool:
    """A conflict with a concurrent taker (another mailbox, LMTP, another process): it
    stored one of these mails first, or PostgreSQL chose this batch as a deadlock's victim.
    Either way the other one committed, so taking the batch again makes progress."""
    return isinstance(exc, IntegrityError) or getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


async def _take(
    sessions: async_sessionmaker[AsyncSession], hub: Hub, raws: list[bytes], mails: list[ParsedMail],
    source: str, settings: Settings, clock: Clock, owner_coach_id: int | None,
    in_transaction: InTransaction | None,
) -> tuple[list[Outcome], dict[int, int]]:
    async with sessions() as session:
        now = clock.now()
        outcomes = await do_ingest_mails(
            session, raws, source=source, mail=settings.mail, secret=settings.resolved_secret(), now=now,
            owner_coach_id=owner_coach_id, default_owner=owner_coach_id is None, parsed=mails)
        placed = [o for o in outcomes if o.recorded is not None]
        counts = await do_notify_recorded(session, [o.recorded for o in placed],  # type: ignore[misc]
                                          hub=hub, settings=settings, now=now)
        for outcome, queued in zip(placed, counts):
            outcome.queued += queued
        if in_transaction is not None:
            await in_transaction(session, now)
        held = await count_held_by_coach(
            session, {o.quarantine.coach_id for o in outcomes if o.quarantine and o.quarantine.coach_id})
        await session.commit()
    return outcomes, held


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
    parsed: Sequence[ParsedMail] | None = None,
) -> list[Outcome]:
    """The pipeline for a batch, in the caller's transaction: one outcome per mail, in
    order. With ``default_owner`` and no ``owner_coach_id``, unclaimable mail is shown to
    the server's only coach (looked up only when there is such mail)."""
    mails = list(parsed) if parsed is not None else [parse_mail(raw, max_bytes=mail.max_bytes) for raw in raws]
    outcomes: list[Outcome | None] = [None] * len(mails)
    fresh = await _dedupe(session, mails, outcomes)
    held: list[tuple[int, Route]] = []
    for i in [i for i in fresh if mails[i].is_bounce]:
        bounce = await do_take_bounce(session, mails[i], now)
        if bounce is None:
            held.append((i, Route(None, None, "bounce_unmatched", owner_coach_id)))
        else:
            outcomes[i] = Outcome("bounce", mails[i], bounced=bounce.bounced, changes=bounce.changes)
    others = [i for i in fresh if not mails[i].is_bounce]
    placeable: list[tuple[int, Route]] = []
    for i, route in zip(others, await route_mails(session, [mails[i] for i in others], mail, secret)):
        if route.reason is None and route.engagement is not None and route.coachee is not None:
            placeable.append((i, route))
        else:
            held.append((i, route if route.coach_id is not None else Route(
                route.engagement, route.coachee, route.reason, owner_coach_id)))
    if default_owner and owner_coach_id is None and any(route.coach_id is None for _, route in held):
        owner = await get_default_owner(session)
        held = [(i, r if r.coach_id is not None else Route(r.engagement, r.coachee, r.reason, owner))
                for i, r in held]
    held.sort(key=lambda h: h[0])
    entries = await do_hold_mails(session, [(mails[i], raws[i], route) for i, route in held], now)
    for (i, route), entry in zip(held, entries):
        outcomes[i] = Outcome("quarantine", mails[i], quarantine=entry, engagement=route.engagement)
    await _record(session, placeable, mails, raws, mail, now, outcomes)
    await _auto_replies(session, [outcomes[i] for i, _ in placeable], mail, secret, now)  # type: ignore[misc]
    done: list[Outcome] = [o for o in outcomes if o is not None]
    assert len(done) == len(mails)
    await _ledger(session, done, source, now)
    return done


async def _dedupe(session: AsyncSession, mails: list[ParsedMail], outcomes: list[Outcome | None]) -> list[int]:
    """Positions of the mails never taken in before and not earlier in this batch; the
    others are duplicates."""
    keys = sorted({parsed.dedupe_key for parsed in mails})
    seen: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        stmt = select(InboundMail.dedupe_key).where(InboundMail.dedupe_key.in_(keys[start:start + CHUNK]))
        seen.update((await session.execute(stmt)).scalars())
    fresh = []
    for i, parsed in enumerate(mails):
        if parsed.dedupe_key in seen:
            outcomes[i] = Outcome("duplicate", parsed)
        else:
            seen.add(parsed.dedupe_key)
            fresh.append(i)
    return fresh


async def _record(
    session: AsyncSession, placeable: list[tuple[int, Route]], mails: list[ParsedMail], raws: list[bytes],
    mail: MailSettings, now: datetime, outcomes: list[Outcome | None],
) -> None:
    """Every placeable mail of the batch into its logbook: one ``record_exchanges``."""
    items = [PlacedMail(mails[i], raws[i], route.engagement, route.coachee)  # type: ignore[arg-type]
             for i, route in placeable]
    for (i, route), recorded in zip(placeable, await record_mails(session, items, now, limit=mail.max_bytes)):
        outcomes[i] = Outcome("exchange", mails[i], recorded=recorded, engagement=route.engagement,
                              coachee=route.coachee)


async def _auto_replies(session: AsyncSession, placed: list[Outcome], mail: MailSettings, secret: str,
                        now: datetime) -> None:
    """The oversized notice and the absence reply, decided for the whole batch in a few
    queries, then queued in mail order (as one by one would)."""
    senders = {o.mail.from_address for o in placed if o.mail.oversized and o.mail.from_address}
    recent = await recently_auto_replied(session, senders, now)  # type: ignore[arg-type]
    created = [o for o in placed if o.recorded is not None and o.recorded.created]
    asks = [ask_for(o.mail, o.engagement) for o in created]
    replies = {id(created[i]): reply for i, reply in (await plan_absence_replies(session, asks, mail, now)).items()}
    for outcome in placed:
        engagement = outcome.engagement
        assert engagement is not None
        if outcome.mail.oversized:  # (not to automatic mail: do_reply_oversized checks)
            outcome.queued += await do_reply_oversized(session, outcome.mail, engagement, mail, now, recent=recent)
        if id(outcome) in replies:
            await queue_absence_reply(session, replies[id(outcome)], mail=mail, secret=secret, now=now)
            outcome.queued += 1


async def _ledger(session: AsyncSession, outcomes: list[Outcome], source: str, now: datetime) -> None:
    """One ``inbound_mail`` row per mail taken in (a duplicate has its row already)."""
    rows = [
        {"dedupe_key": o.mail.dedupe_key, "source": source, "received_at": now, "outcome": o.kind,
         "exchange_id": o.recorded.exchange.id if o.recorded else None,
         "quarantine_id": o.quarantine.id if o.quarantine else None}
        for o in outcomes if o.kind != "duplicate"
    ]
    if rows:
        await session.execute(insert(InboundMail), rows)
