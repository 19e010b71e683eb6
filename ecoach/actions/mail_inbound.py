"""Inbound mail, as a named list of steps (the pipeline):

parse -> dedupe -> bounce -> route (token, else known sender) -> verify sender ->
record (exchange, attachments, original) -> auto-reply if oversized -> notify.

Every mail ends as exactly one ``inbound_mail`` row: an exchange in a logbook, a matched
bounce, or a quarantine entry with its reason. Nothing is dropped. The caller commits;
only then may the transport acknowledge (IMAP move, LMTP 250).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.channels.mail.parse import ParsedMail, parse_mail
from ecoach.core.reply_tokens import find_tokens, read_token
from ecoach.core.text import snippet
from ecoach.logbook.mail_models import Attachment, InboundMail, MailSource, Quarantine
from ecoach.logbook.models import Coachee, Engagement
from ecoach.settings import MailSettings

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
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Route:
    engagement: Engagement | None
    coachee: Coachee | None
    reason: str | None  # why it goes to quarantine, if it does
    coach_id: int | None = None


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
    """Take one raw mail in. ``owner_coach_id`` (the mailbox's coach) sees quarantined
    mail that no engagement could claim."""
    parsed = parse_mail(raw, max_bytes=mail.max_bytes)
    if await _seen(session, parsed.dedupe_key):
        return Outcome("duplicate", parsed)
    if parsed.is_bounce:
        return await _bounce(session, parsed, raw, source, now)
    route = await _route(session, parsed, mail, secret)
    if route.reason is None and route.engagement is not None:
        route = _verify_sender(parsed, route)
    if route.reason is not None or route.engagement is None or route.coachee is None:
        if route.coach_id is None:
            route = Route(route.engagement, route.coachee, route.reason, owner_coach_id)
        return await _quarantine(session, parsed, raw, source, route, now)
    recorded = await record_mail(session, parsed, raw, route.engagement, route.coachee, now)
    session.add(InboundMail(dedupe_key=parsed.dedupe_key, source=source, received_at=now,
                            outcome="exchange", exchange_id=recorded.exchange.id))
    if parsed.oversized and not parsed.auto_submitted and parsed.from_address:
        await _reply_oversized(session, parsed, route.engagement, mail, now)
    await session.flush()
    return Outcome("exchange", parsed, recorded=recorded, engagement=route.engagement, coachee=route.coachee)


async def _seen(session: AsyncSession, key: str) -> bool:
    stmt = select(InboundMail.id).where(InboundMail.dedupe_key == key)
    return (await session.execute(stmt)).first() is not None


async def _bounce(session: AsyncSession, parsed: ParsedMail, raw: bytes, source: str, now: datetime) -> Outcome:
    from ecoach.actions.mail_outbox import do_mark_bounced

    matched = await do_mark_bounced(
        session, parsed.bounce_original_message_ids, parsed.bounce_status or "bounced", now
    )
    if not matched:
        return await _quarantine(session, parsed, raw, source, Route(None, None, "bounce_unmatched"), now)
    session.add(InboundMail(dedupe_key=parsed.dedupe_key, source=source, received_at=now, outcome="bounce"))
    await session.flush()
    return Outcome("bounce", parsed, bounced=matched)


async def _route(session: AsyncSession, parsed: ParsedMail, mail: MailSettings, secret: str) -> Route:
    recipients = [*parsed.delivered_to, *parsed.to, *parsed.cc]
    tokens = find_tokens(recipients, local=mail.reply_local, domain=mail.domain, form=mail.reply_form)
    if tokens:
        ids = {eid for eid in (read_token(secret, t) for t in tokens) if eid is not None}
        engagement = await session.get(Engagement, ids.pop()) if len(ids) == 1 else None
        if engagement is None:
            return Route(None, None, "bad_token" if not ids else "ambiguous")
        coachee = await session.get(Coachee, engagement.coachee_id)
        if engagement.status == "closed":
            return Route(engagement, coachee, "engagement_closed", engagement.coach_id)
        return Route(engagement, coachee, None, engagement.coach_id)
    return await _route_by_sender(session, parsed.from_address)


async def _route_by_sender(session: AsyncSession, address: str | None) -> Route:
    if not address:
        return Route(None, None, "unknown_sender")
    stmt = (
        select(Engagement, Coachee)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(func.lower(Coachee.email) == address.lower(), Engagement.status != "closed")
        .limit(2)
    )
    rows = (await session.execute(stmt)).all()
    if len(rows) == 1:
        return Route(rows[0][0], rows[0][1], None, rows[0][0].coach_id)
    if len(rows) > 1:
        coach_ids = {row[0].coach_id for row in rows}
        return Route(None, None, "ambiguous", coach_ids.pop() if len(coach_ids) == 1 else None)
    return Route(None, None, "unknown_sender")


def _verify_sender(parsed: ParsedMail, route: Route) -> Route:
    expected = (route.coachee.email or "").lower() if route.coachee else ""
    if not parsed.from_address or parsed.from_address.lower() != expected:
        return Route(route.engagement, route.coachee, "sender_mismatch", route.coach_id)
    return route


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
    }


def external_id_for(key: str) -> str:
    return "mail:" + (key if len(key) <= 200 else hashlib.sha256(key.encode()).hexdigest())


async def record_mail(
    session: AsyncSession, parsed: ParsedMail, raw: bytes, engagement: Engagement,
    coachee: Coachee, now: datetime,
) -> Recorded:
    text = parsed.new_text or parsed.text or ""
    from_coachee = (parsed.from_address or "").lower() == (coachee.email or "").lower()
    author_name = coachee.name if from_coachee else (parsed.from_name or parsed.from_address or coachee.name)
    [result] = await record_exchanges(
        session,
        [NewExchange(
            engagement_id=engagement.id, channel="mail", direction="in", author="coachee",
            author_name=author_name, text=text, external_id=external_id_for(parsed.dedupe_key),
            meta=mail_meta(parsed), force=True,
        )],
        now,
    )
    assert isinstance(result, Recorded)  # force=True: only a missing engagement refuses
    if result.created:
        session.add(MailSource(exchange_id=result.exchange.id, raw=raw))
        for part in parsed.attachments:
            session.add(Attachment(exchange_id=result.exchange.id, filename=part.filename,
                                   content_type=part.content_type, size=len(part.data), data=part.data))
    return result


async def _quarantine(
    session: AsyncSession, parsed: ParsedMail, raw: bytes, source: str, route: Route, now: datetime
) -> Outcome:
    reason = route.reason or "unknown_sender"
    entry = Quarantine(
        coach_id=route.coach_id, engagement_id=route.engagement.id if route.engagement else None,
        reason_code=reason, reason_detail=REASONS[reason], from_address=parsed.from_address,
        subject=parsed.subject[:1000], snippet=snippet(parsed.text or "", 500), raw=raw,
        received_at=now, status="held",
    )
    session.add(entry)
    await session.flush()
    session.add(InboundMail(dedupe_key=parsed.dedupe_key, source=source, received_at=now,
                            outcome="quarantine", quarantine_id=entry.id))
    await session.flush()
    log.info("mail %s quarantined: %s", parsed.dedupe_key, reason)
    return Outcome("quarantine", parsed, quarantine=entry, engagement=route.engagement)


OVERSIZED_SUBJECT = N_("Your mail was too large")
OVERSIZED_BODY = N_(
    "Your mail \"%(subject)s\" was larger than %(limit)s MB. Your coach has received its text, "
    "but its attachments could not be kept. Please send large files in smaller parts."
)


async def _reply_oversized(
    session: AsyncSession, parsed: ParsedMail, engagement: Engagement, mail: MailSettings, now: datetime
) -> None:
    """One clear, loop-safe automatic answer (RFC 3834: Auto-Submitted: auto-replied)."""
    from ecoach.actions.mail_outbox import do_enqueue_mail
    from ecoach.channels.mail.compose import compose_mail
    from ecoach.core.i18n import gettext_for

    _ = gettext_for(engagement.language)
    text = _(OVERSIZED_BODY) % {"subject": parsed.subject, "limit": round(mail.max_bytes / 1024**2, 1)}
    assert parsed.from_address is not None
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=parsed.from_address,
        to_name=parsed.from_name, reply_to=mail.sender, subject=_(OVERSIZED_SUBJECT), text=text,
        html=None, message_id_domain=mail.domain, in_reply_to=parsed.message_id,
        references=[*parsed.references, *([parsed.message_id] if parsed.message_id else [])],
        auto="auto-replied", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=parsed.from_address, kind="auto_reply",
                          engagement_id=engagement.id, now=now)
