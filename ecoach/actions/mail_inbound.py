"""Inbound mail, as a named list of steps (the pipeline):

parse -> dedupe -> bounce -> route (token, else known sender) -> verify sender ->
record (exchange, attachments, original; commitments) -> auto-reply if oversized ->
absence auto-reply -> notify.

Every mail ends as exactly one ``inbound_mail`` row: an exchange in a logbook, a matched
bounce, or a quarantine entry with its reason. Nothing is dropped. ``take_in_mail`` is
the transports' entry point: it commits, and only then publishes; the transport
acknowledges (IMAP move, LMTP 250) after it returns.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.absence import absence_step
from ecoach.actions.errors import N_
from ecoach.actions.exchanges import NewExchange, Recorded, publish_recorded, record_exchanges
from ecoach.actions.mail_outbox import DeliveryChange, do_mark_bounced, publish_deliveries
from ecoach.actions.mail_routing import Route, route_mail
from ecoach.actions.notify import do_reply_oversized, notify_after_record
from ecoach.channels.mail.parse import ParsedMail, parse_mail
from ecoach.core.clock import Clock
from ecoach.core.hub import Hub, coach_topic
from ecoach.core.text import snippet
from ecoach.logbook.mail_models import Attachment, InboundMail, MailOutbox, MailSource, Quarantine
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.settings import MailSettings, Settings

log = logging.getLogger(__name__)

# Reasons shown to the coach in the quarantine list (translated where shown).
REASONS = {
    "unknown_sender": N_("The sender is not a coachee of any engagement."),
    "ambiguous": N_("The sender has several active engagements and the mail carries no reply token."),
    "bad_token": N_("The reply address carries a token that is not valid."),
    "sender_mismatch": N_("The sender is not this engagement's coachee."),
    "engagement_closed": N_("The engagement this mail belongs to is closed."),
    "bounce_unmatched": N_("A delivery failure report that matches no mail we sent."),
}


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
    out and the outbox is woken only after that commit. A concurrent taker that stored the
    same mail first makes the commit fail once: the retry finds it a duplicate."""
    for attempt in (1, 2):
        try:
            outcomes, held = await _take(sessions, hub, raws, source, settings, clock, owner_coach_id, in_transaction)
            break
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("mail stored concurrently by another taker; taking the batch again")
    for outcome in outcomes:
        if outcome.recorded is not None:
            publish_recorded(hub, outcome.recorded)
        publish_deliveries(hub, outcome.changes)
    for coach_id, count in held.items():
        hub.publish(coach_topic(coach_id), {"type": "quarantine", "count": count})
    if wake is not None and any(o.queued for o in outcomes):
        wake()
    return outcomes


async def _take(
    sessions: async_sessionmaker[AsyncSession], hub: Hub, raws: Sequence[bytes], source: str, settings: Settings,
    clock: Clock, owner_coach_id: int | None, in_transaction: InTransaction | None,
) -> tuple[list[Outcome], dict[int, int]]:
    secret = settings.resolved_secret()
    async with sessions() as session:
        now = clock.now()
        owner = owner_coach_id if owner_coach_id is not None else await get_default_owner(session)
        outcomes = []
        for raw in raws:
            outcome = await do_ingest_mail(session, raw, source=source, mail=settings.mail, secret=secret,
                                           now=now, owner_coach_id=owner)
            if outcome.recorded is not None:
                outcome.queued += await notify_after_record(
                    session, [outcome.recorded], hub=hub, settings=settings, now=now)
            outcomes.append(outcome)
        if in_transaction is not None:
            await in_transaction(session, now)
        held = {}
        for coach_id in {o.quarantine.coach_id for o in outcomes if o.quarantine and o.quarantine.coach_id}:
            held[coach_id] = await count_held(session, coach_id)
        await session.commit()
    return outcomes, held


async def get_default_owner(session: AsyncSession) -> int | None:
    """Mail no engagement claims is shown to the server's only coach, if there is one."""
    ids = (await session.execute(select(Coach.id).order_by(Coach.id).limit(2))).scalars().all()
    return ids[0] if len(ids) == 1 else None


async def count_held(session: AsyncSession, coach_id: int) -> int:
    stmt = select(func.count()).where(Quarantine.coach_id == coach_id, Quarantine.status == "held")
    return int((await session.execute(stmt)).scalar_one())


async def do_ingest_mail(
    session: AsyncSession,
    raw: bytes,
    *,
    source: str,
    mail: MailSettings,
    secret: str,
    now: datetime,
    owner_coach_id: int | None = None,
) -> Outcome:
    """Take one raw mail in, in the caller's transaction. ``owner_coach_id`` (the
    mailbox's coach) sees quarantined mail that no engagement could claim."""
    parsed = parse_mail(raw, max_bytes=mail.max_bytes)
    if await _seen(session, parsed.dedupe_key):
        return Outcome("duplicate", parsed)
    if parsed.is_bounce:
        return await _bounce(session, parsed, raw, source, now, owner_coach_id)
    route = await route_mail(session, parsed, mail, secret)
    if route.reason is not None or route.engagement is None or route.coachee is None:
        if route.coach_id is None:
            route = Route(route.engagement, route.coachee, route.reason, owner_coach_id)
        return await _quarantine(session, parsed, raw, source, route, now)
    recorded = await record_mail(session, parsed, raw, route.engagement, route.coachee, now,
                                 limit=mail.max_bytes)
    session.add(InboundMail(dedupe_key=parsed.dedupe_key, source=source, received_at=now,
                            outcome="exchange", exchange_id=recorded.exchange.id))
    queued = 0
    if parsed.oversized and not parsed.auto_submitted and parsed.from_address:
        queued = await do_reply_oversized(session, parsed, route.engagement, mail, now)
    if recorded.created:  # step "absence auto-reply": ecoach/actions/absence.py
        queued += await absence_step(session, parsed, route.engagement, mail, secret, now)
    await session.flush()
    return Outcome("exchange", parsed, recorded=recorded, engagement=route.engagement,
                   coachee=route.coachee, queued=queued)


async def _seen(session: AsyncSession, key: str) -> bool:
    stmt = select(InboundMail.id).where(InboundMail.dedupe_key == key)
    return (await session.execute(stmt)).first() is not None


async def _bounce(
    session: AsyncSession, parsed: ParsedMail, raw: bytes, source: str, now: datetime, owner: int | None
) -> Outcome:
    """A delivery report about a mail we sent. Only a failure changes anything; a delay
    or success report is kept as a bounce row. One about no mail of ours is quarantined."""
    ids = parsed.bounce_original_message_ids
    status = parsed.bounce_status or ""
    failed = parsed.bounce_action == "failed" or (parsed.bounce_action is None and status.startswith("5"))
    changes: list[DeliveryChange] = []
    if failed:
        matched = await do_mark_bounced(session, ids, status or "bounced", now, changes=changes)
    else:
        matched = await _sent_by_us(session, ids)
    if not matched:
        return await _quarantine(session, parsed, raw, source, Route(None, None, "bounce_unmatched", owner), now)
    session.add(InboundMail(dedupe_key=parsed.dedupe_key, source=source, received_at=now, outcome="bounce"))
    await session.flush()
    return Outcome("bounce", parsed, bounced=matched if failed else 0, changes=changes)


async def _sent_by_us(session: AsyncSession, message_ids: list[str]) -> int:
    wanted = {v for mid in message_ids for v in (mid, mid.strip("<>"))}
    if not wanted:
        return 0
    stmt = select(func.count()).where(MailOutbox.message_id.in_(wanted))
    return int((await session.execute(stmt)).scalar_one())


def mail_meta(parsed: ParsedMail) -> dict[str, Any]:
    return {
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to[:5],
        "references": parsed.references[-20:],
        "from": parsed.from_address,
        "flags": parsed.flags,
        "auto_submitted": parsed.auto_submitted,
        "oversized": parsed.oversized,
        "folded": parsed.new_text != parsed.text,
        "size": parsed.size,
        "attachments_dropped": parsed.oversized and "attachments_dropped" in parsed.flags,
    }


def external_id_for(key: str) -> str:
    return "mail:" + (key if len(key) <= 200 else hashlib.sha256(key.encode()).hexdigest())


def kept_original(parsed: ParsedMail, raw: bytes, limit: int) -> bytes:
    """What "show the whole mail" shows. An oversized mail keeps its header and text
    only: its attachments are exactly what the limit is there to keep out."""
    if not parsed.oversized:
        return raw
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    head = raw[: min(ends) if ends else 0][:65536]
    note = (f"[ecoach: this mail was {parsed.size} bytes, over the limit of {limit}; "
            "its text is kept, its attachments are not]")
    return head + b"\r\n\r\n" + note.encode() + b"\r\n\r\n" + parsed.text.encode("utf-8")


async def record_mail(
    session: AsyncSession, parsed: ParsedMail, raw: bytes, engagement: Engagement,
    coachee: Coachee, now: datetime, *, limit: int | None = None,
) -> Recorded:
    text = parsed.new_text or parsed.text or ""
    from_coachee = (parsed.from_address or "").lower() == (coachee.email or "").lower()
    author_name = coachee.name if from_coachee else (parsed.from_name or parsed.from_address or coachee.name)
    [result] = await record_exchanges(
        session,
        [NewExchange(
            engagement_id=engagement.id, channel="mail", direction="in", author="coachee",
            author_name=author_name[:200], text=text, external_id=external_id_for(parsed.dedupe_key),
            meta=mail_meta(parsed), force=True,
        )],
        now,
    )
    assert isinstance(result, Recorded)  # force=True: only a missing engagement refuses
    if result.created:
        session.add(MailSource(exchange_id=result.exchange.id,
                               raw=kept_original(parsed, raw, limit or parsed.size)))
        for part in parsed.attachments:
            session.add(Attachment(exchange_id=result.exchange.id, filename=part.filename,
                                   content_type=part.content_type, size=len(part.data), data=part.data))
    return result


async def _quarantine(
    session: AsyncSession, parsed: ParsedMail, raw: bytes, source: str, route: Route, now: datetime
) -> Outcome:
    """Held whole, as it came: the coach decides what becomes of it."""
    reason = route.reason or "unknown_sender"
    entry = Quarantine(
        coach_id=route.coach_id, engagement_id=route.engagement.id if route.engagement else None,
        reason_code=reason, reason_detail=REASONS[reason], from_address=parsed.from_address,
        subject=parsed.subject[:1000], snippet=snippet(parsed.new_text or parsed.text or "", 500), raw=raw,
        received_at=now, status="held",
    )
    session.add(entry)
    await session.flush()
    session.add(InboundMail(dedupe_key=parsed.dedupe_key, source=source, received_at=now,
                            outcome="quarantine", quarantine_id=entry.id))
    await session.flush()
    if route.coach_id is None:
        log.warning("mail %s quarantined (%s) with no coach to see it; set mail.mailboxes "
                    "coach_email or mail.lmtp_coach_email", parsed.dedupe_key, reason)
    log.info("mail %s quarantined: %s", parsed.dedupe_key, reason)
    return Outcome("quarantine", parsed, quarantine=entry, engagement=route.engagement)
