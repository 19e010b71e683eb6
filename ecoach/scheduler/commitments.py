"""Task handlers for response-time commitments: reminder, breach, acknowledgement.

One check task per engagement (key ``commitment-check:<engagement id>``), scheduled by the
logbook's write path when a wait begins, runs at the next moment something is due: the
reminder (the agreed lead before the earliest due time) or a due time. Each run does
what is due and schedules its own key for the next moment; with nothing open (the coach
answered) it does nothing. Per wait (inbound messages since the coach's last answer) the
coach gets one reminder and the logbook one breach entry, however many messages the
coachee sent; each commitment still gets its own breach time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ecoach.actions.agreement_texts import (
    ACK_TEXT, BREACH_TEXT, REMINDER_BODY, REMINDER_SUBJECT, format_moment,
)
from ecoach.actions.commitments import ACK_TASK, CHECK_TASK, check_key
from ecoach.actions.exchanges import NewExchange, Recorded, publish_recorded, record_exchanges
from ecoach.core.hub import coach_topic, engagement_topic
from ecoach.core.i18n import translations
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.availability_queries import get_policy
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange
from ecoach.scheduler.registry import TaskContext, TaskRegistry
from ecoach.logbook.tasks import schedule_task

log = logging.getLogger(__name__)


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler(CHECK_TASK)(check_commitments)
    registry.handler(ACK_TASK)(acknowledge)


async def _open(ctx: TaskContext, engagement_id: int) -> list[Commitment]:
    stmt = (
        select(Commitment)
        .where(Commitment.engagement_id == engagement_id, Commitment.state == "open")
        .order_by(Commitment.due_at, Commitment.id)
    )
    return list((await ctx.session.execute(stmt)).scalars())


async def check_commitments(ctx: TaskContext, params: dict[str, Any]) -> None:
    engagement = await ctx.session.get(Engagement, int(params["engagement_id"]))
    if engagement is None or engagement.status == "closed":
        return  # a closed engagement owes no answers
    open_rows = await _open(ctx, engagement.id)
    if not open_rows:
        return  # answered in the meantime
    policy = await get_policy(ctx.session, engagement.id)
    lead = timedelta(minutes=policy.remind_minutes)
    coach = await ctx.session.get(Coach, engagement.coach_id)
    assert coach is not None
    await _remind(ctx, engagement, coach, open_rows, lead)
    await _breach(ctx, engagement, coach, open_rows)
    await ctx.session.flush()
    next_at = next_check(open_rows, lead)
    if next_at is not None:
        await schedule_task(ctx.session, CHECK_TASK, max(next_at, ctx.now), {"engagement_id": engagement.id},
                            key=check_key(engagement.id), now=ctx.now)
    coach_id = engagement.coach_id
    ctx.after_commit(lambda: ctx.hub.publish(coach_topic(coach_id), {
        "type": "commitment", "engagement_id": engagement.id}))


def next_check(open_rows: list[Commitment], lead: timedelta) -> datetime | None:
    """The next moment something is due: a reminder (if this wait has had none) or a due
    time not yet noted. Every breach is noted on its commitment; only the wait's first
    goes in the logbook."""
    moments = [c.due_at for c in open_rows if c.breached_at is None]
    if not any(c.reminded_at for c in open_rows):
        moments += [c.due_at - lead for c in open_rows]
    return min(moments, default=None)


async def _remind(ctx: TaskContext, engagement: Engagement, coach: Coach, open_rows: list[Commitment],
                  lead: timedelta) -> None:
    now = ctx.now
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
    if ctx.settings.mail.enabled and ctx.settings.agreements.remind_by_mail:
        await _mail_reminder(ctx, engagement, coach, first)


async def _mail_reminder(ctx: TaskContext, engagement: Engagement, coach: Coach, commitment: Commitment) -> None:
    from ecoach.actions.mail_outbox import do_enqueue_mail
    from ecoach.core.mail.compose import compose_mail

    coachee = await ctx.session.get(Coachee, engagement.coachee_id)
    assert coachee is not None
    t = translations(coach.language)
    values = {
        "name": coachee.name, "channel": t.gettext(commitment.channel),
        "received": format_moment(commitment.received_at, coach.time_zone, coach.language),
        "due": format_moment(commitment.due_at, coach.time_zone, coach.language),
        "url": f"{ctx.settings.base_url}/engagements/{engagement.id}",
    }
    mail = ctx.settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=coach.email, to_name=coach.name,
        reply_to=mail.sender, subject=t.gettext(REMINDER_SUBJECT) % values,
        text=t.gettext(REMINDER_BODY) % values, html=None, message_id_domain=mail.domain,
        in_reply_to=None, references=[], auto="auto-generated", date=ctx.now,
    )
    await do_enqueue_mail(ctx.session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=coach.email, kind="reminder", engagement_id=engagement.id, now=ctx.now)
    ctx.wake_outbox()


async def _breach(ctx: TaskContext, engagement: Engagement, coach: Coach, open_rows: list[Commitment]) -> None:
    now = ctx.now
    already = any(c.breached_at for c in open_rows)
    late = [c for c in open_rows if c.breached_at is None and c.due_at <= now]
    if not late:
        return
    for commitment in late:
        commitment.breached_at = now
    if already:
        return  # this wait is in the logbook as breached already
    first = min(late, key=lambda c: c.due_at)
    t = translations(coach.language)
    text = t.gettext(BREACH_TEXT) % {
        "channel": t.gettext(first.channel),
        "received": format_moment(first.received_at, coach.time_zone, coach.language),
        "due": format_moment(first.due_at, coach.time_zone, coach.language),
    }
    [recorded] = await record_exchanges(ctx.session, [NewExchange(
        engagement_id=engagement.id, channel="system", direction="internal", author="system",
        author_name="ecoach", text=text, external_id=f"commitment-breach:{first.id}", force=True,
        meta={"commitment_id": first.id, "kind": "commitment_breach"},
    )], now)
    if isinstance(recorded, Recorded):
        ctx.after_commit(lambda: publish_recorded(ctx.hub, recorded))


async def acknowledge(ctx: TaskContext, params: dict[str, Any]) -> None:
    """Tell the coachee when the answer is due: by mail for mail (Auto-Submitted:
    auto-replied, threaded to their message), in the chat page for chat. Nothing when
    the coach answered first."""
    stmt = select(Commitment, Exchange).join(Exchange, Exchange.id == Commitment.exchange_id).where(
        Commitment.exchange_id == int(params["exchange_id"]),
        Commitment.engagement_id == int(params["engagement_id"]))
    row = (await ctx.session.execute(stmt)).first()
    if row is None or row[0].state != "open":
        return
    commitment, exchange = row
    engagement = await ctx.session.get(Engagement, commitment.engagement_id)
    assert engagement is not None
    policy = await get_policy(ctx.session, engagement.id)
    if not policy.acknowledge or engagement.status == "closed":
        return
    t = translations(engagement.language)
    text = t.gettext(ACK_TEXT) % {"due": format_moment(commitment.due_at, engagement.time_zone, engagement.language)}
    meta = exchange.meta or {}
    if exchange.channel == "mail" and ctx.settings.mail.enabled and meta.get("from") and not meta.get("auto_submitted"):
        await _mail_ack(ctx, engagement, exchange, text)
        return
    event = {"type": "notice", "kind": "acknowledgement", "engagement_id": engagement.id, "text": text}
    ctx.after_commit(lambda: ctx.hub.publish(engagement_topic(engagement.id), event))


async def _mail_ack(ctx: TaskContext, engagement: Engagement, exchange: Exchange, text: str) -> None:
    from ecoach.actions.absence import is_our_address, queue_auto_reply
    from ecoach.core.mail.compose import subject_for_reply

    meta = exchange.meta or {}
    if is_our_address(meta["from"], ctx.settings.mail):
        return
    coach = await ctx.session.get(Coach, engagement.coach_id)
    coachee = await ctx.session.get(Coachee, engagement.coachee_id)
    subject = subject_for_reply(meta.get("subject") or "", engagement.language)
    await queue_auto_reply(
        ctx.session, mail=ctx.settings.mail, secret=ctx.settings.resolved_secret(), engagement=engagement,
        from_name=coach.name if coach else "ecoach", to_address=meta["from"],
        to_name=coachee.name if coachee else None, subject=subject, text=text,
        in_reply_to=meta.get("message_id"), references=meta.get("references") or [],
        kind="acknowledgement", now=ctx.now,
    )
    ctx.wake_outbox()
