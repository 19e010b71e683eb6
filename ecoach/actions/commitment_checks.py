"""What the commitment tasks do: remind the coach, note a breach, acknowledge the coachee.

One check task per engagement (key ``commitment-check:<engagement id>``), scheduled by the
logbook's write path when a wait begins (``ecoach.actions.commitments``), runs at the next
moment something is due: the reminder (the agreed lead before the earliest due time) or a
due time. Each run does what is due and schedules its own key for the next moment; with
nothing open (the coach answered) it does nothing. Per wait (inbound messages since the
coach's last answer) the coach gets one reminder and the logbook one breach entry, however
many messages the coachee sent; each commitment still gets its own breach time.

Everything happens in the caller's transaction (the task runner's unit of work); the
events (inbox refresh, the breach entry, the coachee's notice) go out after its commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.agreement_texts import (
    ACK_TEXT, BREACH_TEXT, REMINDER_BODY, REMINDER_SUBJECT, format_moment,
)
from ecoach.actions.commitments import CHECK_TASK, check_key
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.unit import emit
from ecoach.core import notices, topics
from ecoach.core.i18n import translations
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.availability_queries import get_policy
from ecoach.logbook.crisis_queries import get_flagged_exchanges, get_resources
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange
from ecoach.logbook.tasks import schedule_task
from ecoach.settings import Settings

log = logging.getLogger(__name__)


async def _open(session: AsyncSession, engagement_id: int) -> list[Commitment]:
    stmt = (
        select(Commitment)
        .where(Commitment.engagement_id == engagement_id, Commitment.state == "open")
        .order_by(Commitment.due_at, Commitment.id)
    )
    return list((await session.execute(stmt)).scalars())


async def do_check_commitments(session: AsyncSession, engagement_id: int, *, settings: Settings,
                               now: datetime) -> None:
    engagement = await session.get(Engagement, engagement_id)
    if engagement is None or engagement.status == "closed":
        return  # a closed engagement owes no answers
    open_rows = await _open(session, engagement.id)
    if not open_rows:
        return  # answered in the meantime
    policy = await get_policy(session, engagement.id)
    lead = timedelta(minutes=policy.remind_minutes)
    coach = await session.get(Coach, engagement.coach_id)
    assert coach is not None
    await _remind(session, settings, now, engagement, coach, open_rows, lead)
    await _breach(session, now, engagement, coach, open_rows)
    await session.flush()
    next_at = next_check(open_rows, lead)
    if next_at is not None:
        await schedule_task(session, CHECK_TASK, max(next_at, now), {"engagement_id": engagement.id},
                            key=check_key(engagement.id), now=now)
    emit(session, topics.coach(engagement.coach_id), {"type": "commitment", "engagement_id": engagement.id})


def next_check(open_rows: list[Commitment], lead: timedelta) -> datetime | None:
    """The next moment something is due: a reminder (if this wait has had none) or a due
    time not yet noted. Every breach is noted on its commitment; only the wait's first
    goes in the logbook."""
    moments = [c.due_at for c in open_rows if c.breached_at is None]
    if not any(c.reminded_at for c in open_rows):
        moments += [c.due_at - lead for c in open_rows]
    return min(moments, default=None)


async def _remind(session: AsyncSession, settings: Settings, now: datetime, engagement: Engagement,
                  coach: Coach, open_rows: list[Commitment], lead: timedelta) -> None:
    if any(c.reminded_at for c in open_rows):
        return
    due = [c for c in open_rows if c.due_at - lead <= now]
    if not due:
        return
    for commitment in open_rows:  # one reminder per wait: the later ones need none
        commitment.reminded_at = now
    first = due[0]
    if first.due_at <= now or engagement.status == "closed":
        return  # too late to remind: the breach says it
    if settings.mail.enabled and settings.agreements.remind_by_mail:
        await _mail_reminder(session, settings, now, engagement, coach, first)


async def _mail_reminder(session: AsyncSession, settings: Settings, now: datetime, engagement: Engagement,
                         coach: Coach, commitment: Commitment) -> None:
    from ecoach.actions.mail_outbox import do_enqueue_mail
    from ecoach.core.mail.compose import compose_mail

    coachee = await session.get(Coachee, engagement.coachee_id)
    assert coachee is not None
    t = translations(coach.language)
    values = {
        "name": coachee.name, "channel": t.gettext(commitment.channel),
        "received": format_moment(commitment.received_at, coach.time_zone, coach.language),
        "due": format_moment(commitment.due_at, coach.time_zone, coach.language),
        "url": f"{settings.base_url}/engagements/{engagement.id}",
    }
    mail = settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=coach.email, to_name=coach.name,
        reply_to=mail.sender, subject=t.gettext(REMINDER_SUBJECT) % values,
        text=t.gettext(REMINDER_BODY) % values, html=None, message_id_domain=mail.domain,
        in_reply_to=None, references=[], auto="auto-generated", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=coach.email, kind="reminder", engagement_id=engagement.id, now=now)


async def _breach(session: AsyncSession, now: datetime, engagement: Engagement, coach: Coach,
                  open_rows: list[Commitment]) -> None:
    already = any(c.breached_at for c in open_rows)
    late = [c for c in open_rows if c.breached_at is None and c.due_at <= now]
    if not late:
        return
    for commitment in late:
        commitment.breached_at = now
        emit(session, topics.FACTS, {"type": "commitment.breached", "coach_id": engagement.coach_id,
                                     "engagement_id": engagement.id, "commitment_id": commitment.id,
                                     "channel": commitment.channel})
    if already:
        return  # this wait is in the logbook as breached already
    first = min(late, key=lambda c: c.due_at)
    notice = notices.notice(notices.line(BREACH_TEXT, channel=notices.msg(first.channel),
                                         received=notices.at(first.received_at), due=notices.at(first.due_at)))
    await record_exchanges(session, [NewExchange(
        engagement_id=engagement.id, channel="system", direction="internal", author="system",
        author_name="ecoach", text=notices.render_text(notice, coach.language, coach.time_zone),
        external_id=f"commitment-breach:{first.id}", force=True,
        meta={"commitment_id": first.id, "kind": "commitment_breach", "notice": notice},
    )], now)


async def do_acknowledge(session: AsyncSession, engagement_id: int, exchange_id: int, *, settings: Settings,
                         now: datetime) -> None:
    """Tell the coachee when the answer is due: by mail for mail (Auto-Submitted:
    auto-replied, threaded to their message), in the chat page for chat. Nothing when
    the coach answered first."""
    stmt = select(Commitment, Exchange).join(Exchange, Exchange.id == Commitment.exchange_id).where(
        Commitment.exchange_id == exchange_id, Commitment.engagement_id == engagement_id)
    row = (await session.execute(stmt)).first()
    if row is None or row[0].state != "open":
        return
    commitment, exchange = row
    engagement = await session.get(Engagement, commitment.engagement_id)
    assert engagement is not None
    policy = await get_policy(session, engagement.id)
    if not policy.acknowledge or engagement.status == "closed":
        return
    t = translations(engagement.language)
    text = t.gettext(ACK_TEXT) % {"due": format_moment(commitment.due_at, engagement.time_zone, engagement.language)}
    meta = exchange.meta or {}
    if exchange.channel == "mail" and settings.mail.enabled and meta.get("from") and not meta.get("auto_submitted"):
        await _mail_ack(session, settings, now, engagement, exchange, text)
        return
    emit(session, topics.engagement(engagement.id),
         {"type": "notice", "kind": "acknowledgement", "engagement_id": engagement.id, "text": text})


async def _mail_ack(session: AsyncSession, settings: Settings, now: datetime, engagement: Engagement,
                    exchange: Exchange, text: str) -> None:
    from ecoach.actions.absence import is_our_address, queue_auto_reply
    from ecoach.core.mail.compose import subject_for_reply

    meta = exchange.meta or {}
    if is_our_address(meta["from"], settings.mail):
        return
    coach = await session.get(Coach, engagement.coach_id)
    coachee = await session.get(Coachee, engagement.coachee_id)
    subject = subject_for_reply(meta.get("subject") or "", engagement.language)
    if exchange.id in await get_flagged_exchanges(session, [exchange.id]):  # a crisis signal: name where to get help
        from ecoach.actions.crisis import resources_text

        text += "\n\n" + resources_text(await get_resources(session, engagement.coach_id, engagement.language),
                                          engagement.language)
    await queue_auto_reply(
        session, mail=settings.mail, secret=settings.secret, engagement=engagement,
        from_name=coach.name if coach else "ecoach", to_address=meta["from"],
        to_name=coachee.name if coachee else None, subject=subject, text=text,
        in_reply_to=meta.get("message_id"), references=meta.get("references") or [],
        kind="acknowledgement", now=now,
    )
