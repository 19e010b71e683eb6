"""The coach answers by mail: the exchange and its outbox entry are saved together; the
outbox dispatcher delivers afterwards (save first, deliver second)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, N_
from ecoach.actions.exchanges import NewExchange, Recorded, check_can_write, record_exchanges
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.mail.compose import compose_mail, subject_for_reply
from ecoach.core.reply_tokens import make_token, reply_address
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange
from ecoach.settings import MailSettings

log = logging.getLogger(__name__)

DEFAULT_SUBJECT = {"nl": "Je coaching met %(name)s", "en": "Your coaching with %(name)s"}


@dataclass(frozen=True)
class Thread:
    subject: str
    in_reply_to: str | None
    references: list[str]


async def get_mail_thread(session: AsyncSession, engagement: Engagement, coach: Coach) -> Thread:
    """Keep the whole engagement in one thread in the coachee's mail program: answer the
    latest mail, carrying the chain of ids before it."""
    stmt = (
        select(Exchange)
        .where(Exchange.engagement_id == engagement.id, Exchange.channel == "mail")
        .order_by(Exchange.id.desc())
        .limit(1)
    )
    last = (await session.execute(stmt)).scalar_one_or_none()
    meta = (last.meta or {}) if last else {}
    message_id = meta.get("message_id")
    if not message_id:
        subject = DEFAULT_SUBJECT.get(engagement.language, DEFAULT_SUBJECT["en"]) % {"name": coach.name}
        return Thread(subject, None, [])
    references = [*meta.get("references", []), message_id]
    subject = subject_for_reply(meta.get("subject") or "", engagement.language)
    return Thread(subject, message_id, references)


def check_can_mail(coachee: Coachee, mail: MailSettings) -> str:
    if not mail.enabled:
        raise ActionError("mail_disabled", N_("Mail is not set up on this server."))
    if not coachee.email:
        raise ActionError("coachee_no_email", N_("This coachee has no e-mail address."))
    return coachee.email


async def do_send_mail_reply(
    session: AsyncSession,
    *,
    engagement: Engagement,
    coachee: Coachee,
    coach: Coach,
    text: str,
    client_id: str,
    mail: MailSettings,
    secret: str,
    now: datetime,
    origin: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    extra_meta: dict[str, Any] | None = None,
    external_id: str | None = None,
) -> Recorded:
    """Record the coach's mail answer and queue it, in the caller's transaction.
    ``origin``: the connection that sent it (it gets the exchange in its ack).
    ``attachments`` (name, type, data) ride along; ``extra_meta`` joins the exchange's meta
    (a shared resource); ``external_id`` replaces ``mail-out:<client_id>``."""
    address = check_can_mail(coachee, mail)
    check_can_write(engagement, "out")
    thread = await get_mail_thread(session, engagement, coach)
    token = make_token(secret, engagement.id)
    message, message_id = compose_mail(
        from_name=coach.name,
        from_address=mail.sender,
        to_address=address,
        to_name=coachee.name,
        reply_to=reply_address(token, local=mail.reply_local, domain=mail.domain, form=mail.reply_form),
        subject=thread.subject,
        text=text,
        html=None,
        message_id_domain=mail.domain,
        in_reply_to=thread.in_reply_to,
        references=thread.references,
        date=now,
        attachments=attachments,
    )
    meta = {"subject": thread.subject, "message_id": message_id, "in_reply_to": thread.in_reply_to,
            "references": thread.references[-20:], "to": address, **(extra_meta or {})}
    [result] = await record_exchanges(
        session,
        [NewExchange(engagement_id=engagement.id, channel="mail", direction="out", author="coach",
                     author_name=coach.name, text=text, external_id=external_id or f"mail-out:{client_id}",
                     delivery_state="queued", meta=meta, origin=origin)],
        now,
    )
    if isinstance(result, ActionError):
        raise result
    if result.created:
        await do_enqueue_mail(
            session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
            recipient=address, kind="reply", exchange_id=result.exchange.id,
            engagement_id=engagement.id, now=now,
        )
    return result
