"""Sending a nudge: its text in the engagement's language with the pause link, the
exchange in the logbook and, by mail, the outbox entry, all in the caller's transaction;
and the limits that decide whether a due nudge goes now, later or not at all.

Nudges are written as ``author = "system"`` (sent automatically, in the coach's name),
``direction = "out"``, on chat or mail; the external id ``nudge:<engagement>:<kind>:
<occasion>`` makes a retried send a no-op. A nudge never answers a coachee who is waiting
for the coach: it would clear the wait in the inbox, so it waits (or is skipped) instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import nudges as plans
from ecoach.actions.errors import ActionError, N_
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.actions.nudge_texts import (
    ALERT_BODY, ALERT_NOTE, ALERT_SUBJECT, PAUSE_FOOTER, SUBJECTS, nudge_text, pause_url,
)
from ecoach.core import notices
from ecoach.core.i18n import gettext_for
from ecoach.core.nudge_rules import local_instant, next_day, out_of_quiet_hours, same_local_day
from ecoach.logbook import nudge_queries, queries
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.logbook.nudge_models import ActionStep, Nudge, NudgePlan
from ecoach.logbook.tasks import cancel_tasks
from ecoach.settings import Settings

log = logging.getLogger(__name__)

STALE_DAYS = 7  # a follow-up or check-in held back longer than this is no longer timely
PLAN_STALE_HOURS = 12


@dataclass
class Sent:
    nudge: Nudge
    recorded: list[Recorded] = field(default_factory=list)  # its logbook entries (announced after commit)
    mail_queued: bool = False


@dataclass
class Outcome:
    state: str  # sent, skipped, deferred, gone
    sent: Sent | None = None
    reason: str | None = None


async def lock_engagement(session: AsyncSession, engagement_id: int) -> Engagement | None:
    """Take the engagement's row (PostgreSQL) or the write lock (SQLite) before deciding,
    so a coachee's message cannot slip in between the check and the nudge."""
    await session.execute(update(Engagement).where(Engagement.id == engagement_id)
                          .values(unread_count=Engagement.unread_count)
                          .execution_options(synchronize_session=False))
    stmt = select(Engagement).where(Engagement.id == engagement_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


def human_activity_at(plan: NudgePlan, engagement: Engagement) -> datetime | None:
    """The last exchange that was not one of our nudges."""
    ours = plan.last_nudge_exchange_id is not None and plan.last_nudge_exchange_id == engagement.last_exchange_id
    return plan.activity_at if ours else engagement.last_exchange_at


def channel_for(plan: NudgePlan, coachee: Coachee, settings: Settings) -> str:
    return "mail" if plan.channel == "mail" and settings.mail.enabled and coachee.email else "chat"


async def deliver(session: AsyncSession, nudge: Nudge, *, engagement: Engagement, plan: NudgePlan,
                  settings: Settings, now: datetime) -> Sent:
    """Record (and by mail queue) the nudge now; the caller has checked the limits."""
    coach = await queries.get_coach(session, engagement.coach_id)
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coach is not None and coachee is not None
    _ = gettext_for(engagement.language)
    body = await nudge_text(session, nudge, plan, engagement, coach, coachee, now)
    url = pause_url(settings, engagement.id, now)
    text = f"{body}\n\n—\n{_(PAUSE_FOOTER) % {'url': url}}"
    channel = channel_for(plan, coachee, settings)
    before_id, before_at = engagement.last_exchange_id, engagement.last_exchange_at
    item = NewExchange(engagement_id=engagement.id, channel=channel, direction="out", author="system",
                       author_name=coach.name, text=text,
                       external_id=f"nudge:{engagement.id}:{nudge.kind}:{nudge.occasion}",
                       delivery_state="queued" if channel == "mail" else "stored", meta={"nudge": nudge.kind})
    sent = Sent(nudge)
    if channel == "mail":
        sent.mail_queued = await _mail(session, item, coach, coachee, engagement, settings, now, url, sent)
    else:
        sent.recorded.append(_recorded(await record_exchanges(session, [item], now)))
    exchange = sent.recorded[0].exchange
    if before_id is None or before_id != plan.last_nudge_exchange_id:
        plan.activity_at = before_at  # someone wrote since our last nudge
    plan.last_nudge_at, plan.last_nudge_exchange_id = now, exchange.id
    nudge.status, nudge.sent_at, nudge.exchange_id, nudge.reason = "sent", now, exchange.id, None
    if nudge.kind == plans.CHECKIN:
        await _alert_coach(session, sent, coach, coachee, engagement, plan, channel, settings, now)
    await session.flush()
    log.info("nudge %s (%s) sent to engagement %s by %s", nudge.id, nudge.kind, engagement.id, channel)
    return sent


def _recorded(results: list[Recorded | ActionError]) -> Recorded:
    [result] = results
    if isinstance(result, ActionError):
        raise result
    return result


async def _mail(session: AsyncSession, item: NewExchange, coach: Coach, coachee: Coachee,
                engagement: Engagement, settings: Settings, now: datetime, url: str, sent: Sent) -> bool:
    from ecoach.core.mail.compose import compose_mail
    from ecoach.core.reply_tokens import make_token, reply_address

    mail, _ = settings.mail, gettext_for(engagement.language)
    assert coachee.email
    subject = _(SUBJECTS[sent.nudge.kind]) % {"coach": coach.name}
    token = make_token(settings.secret, engagement.id)
    message, message_id = compose_mail(
        from_name=coach.name, from_address=mail.sender, to_address=coachee.email, to_name=coachee.name,
        reply_to=reply_address(token, local=mail.reply_local, domain=mail.domain, form=mail.reply_form),
        subject=subject, text=item.text, html=None, message_id_domain=mail.domain, in_reply_to=None,
        references=[], auto="auto-generated", date=now)
    message["List-Unsubscribe"] = f"<{url}>"
    meta = {"nudge": sent.nudge.kind, "subject": subject, "message_id": message_id, "in_reply_to": None,
            "references": [], "to": coachee.email}
    recorded = _recorded(await record_exchanges(session, [replace(item, meta=meta)], now))
    sent.recorded.append(recorded)
    if not recorded.created:
        return False
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=coachee.email, kind="nudge", exchange_id=recorded.exchange.id,
                          engagement_id=engagement.id, now=now)
    return True


async def _alert_coach(session: AsyncSession, sent: Sent, coach: Coach, coachee: Coachee,
                       engagement: Engagement, plan: NudgePlan, channel: str, settings: Settings,
                       now: datetime) -> None:
    """The coach hears of a check-in: a note in the logbook, the inbox badge, a mail."""
    _ = gettext_for(coach.language)
    days = (now - plan.checkin_for).days if plan.checkin_for else plan.silence_days
    values = {"name": coachee.name, "days": days, "channel": _(channel),
              "url": f"{settings.base_url}/engagements/{engagement.id}"}
    notice = notices.notice(notices.line(ALERT_NOTE, name=coachee.name, days=days, channel=notices.msg(channel)))
    note = NewExchange(engagement_id=engagement.id, channel="system", direction="internal", author="system",
                       author_name="ecoach", text=notices.render_text(notice, coach.language, coach.time_zone),
                       external_id=f"nudge:{engagement.id}:alert:{sent.nudge.occasion}", force=True,
                       meta={"notice": notice})
    sent.recorded.append(_recorded(await record_exchanges(session, [note], now)))
    plan.alert_at = now
    if not settings.mail.enabled:
        return
    from ecoach.core.mail.compose import compose_mail

    mail = settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=coach.email, to_name=coach.name,
        reply_to=mail.sender, subject=_(ALERT_SUBJECT) % values, text=_(ALERT_BODY) % values, html=None,
        message_id_domain=mail.domain, in_reply_to=None, references=[], auto="auto-generated", date=now)
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=coach.email, kind="notification", engagement_id=engagement.id, now=now)
    sent.mail_queued = True


# --- due nudges (the task runner) and "send now" (the coach) ---------------------------


async def run_due(session: AsyncSession, nudge_id: int, *, settings: Settings, now: datetime) -> Outcome:
    """A due nudge goes out, moves (night, one a day, the coachee is waiting for an
    answer) or is skipped (paused, closed, no longer timely) according to the limits."""
    nudge = await session.get(Nudge, nudge_id)
    if nudge is None or nudge.status != "planned":
        return Outcome("gone")
    engagement = await lock_engagement(session, nudge.engagement_id)
    await session.refresh(nudge)
    if engagement is None or nudge.status != "planned":
        return Outcome("gone")
    plan = await plans.get_or_create_plan(session, engagement, settings, now)
    reason = await _skip_reason(session, nudge, plan, engagement, settings, now)
    if reason is not None:
        await plans.mark_skipped(session, nudge, reason)
        await plans.do_top_up(session, plan, engagement, settings=settings, now=now)
        return Outcome("skipped", reason=reason)
    zone, quiet = plans.zone_of(engagement), plans.quiet_hours(settings)
    later = out_of_quiet_hours(now, zone, quiet)
    if later == now and (engagement.waiting_since is not None or same_local_day(plan.last_nudge_at, now, zone)):
        # Only a follow-up or check-in gets here (a plan nudge was skipped): it keeps a day.
        later = next_day(now, zone, quiet)
    if later != now:
        nudge.due_at = later
        await plans.schedule(session, nudge, now)
        return Outcome("deferred", reason="later")
    sent = await deliver(session, nudge, engagement=engagement, plan=plan, settings=settings, now=now)
    await plans.do_top_up(session, plan, engagement, settings=settings, now=now)
    return Outcome("sent", sent=sent)


async def _skip_reason(session: AsyncSession, nudge: Nudge, plan: NudgePlan, engagement: Engagement,
                       settings: Settings, now: datetime) -> str | None:
    zone = plans.zone_of(engagement)
    if not settings.nudges.enabled:
        return "disabled"
    if engagement.status != "active":
        return "closed" if engagement.status == "closed" else "engagement_paused"  # by the coach
    if plan.paused_at is not None:
        return "paused"
    if nudge.kind == plans.PLAN:
        if not plan.enabled:
            return "plan_off"
        if now - nudge.due_at > timedelta(hours=PLAN_STALE_HOURS):
            return "stale"  # the runner was down: Monday's encouragement does not come on Thursday
        if engagement.waiting_since is not None:
            return "waiting"
        if same_local_day(plan.last_nudge_at, now, zone):
            return "limit"
        # The coachee's calendar day, midnight to midnight: 23 or 25 hours on a DST switch.
        day = now.astimezone(zone).date()
        day_start, day_end = (local_instant(d, datetime.min.time(), zone) for d in (day, day + timedelta(days=1)))
        if await nudge_queries.get_other_planned_between(session, engagement.id, plans.PLAN, day_start, day_end):
            return "limit"  # a follow-up or check-in is due today: that one goes
        return None
    if nudge.kind == plans.ACTION_STEP:
        step = await session.get(ActionStep, nudge.action_step_id) if nudge.action_step_id else None
        if step is None or step.cancelled_at is not None:
            return "cancelled"
        if step.done_at is not None:
            return "done"  # ticked off by the coachee: nothing to ask
        if (now.astimezone(zone).date() - step.due_on).days > STALE_DAYS:
            return "stale"
    if nudge.kind == plans.CHECKIN:
        active = human_activity_at(plan, engagement)
        if plan.checkin_for is not None and active is not None and active > plan.checkin_for:
            return "activity"  # the coachee (or coach) wrote meanwhile
        if now - nudge.created_at > timedelta(days=STALE_DAYS):
            return "stale"
    return None


async def do_send_now(session: AsyncSession, engagement: Engagement, nudge_id: int, *, settings: Settings,
                      now: datetime) -> Sent:
    """The coach sends a planned nudge at once. The coachee's limits still hold: a clear
    error says which."""
    locked = await lock_engagement(session, engagement.id)
    assert locked is not None
    nudge = await plans.get_planned_nudge(session, locked, nudge_id)
    plan = await plans.get_or_create_plan(session, locked, settings, now)
    zone = plans.zone_of(locked)
    if locked.status != "active":
        raise ActionError("nudge_inactive", N_("Nudges are not sent while the engagement is paused or closed."))
    if plan.paused_at is not None:
        raise ActionError("nudge_paused", N_("Your coachee has paused nudges."))
    if out_of_quiet_hours(now, zone, plans.quiet_hours(settings)) != now:
        raise ActionError("nudge_night", N_("It is %(time)s for your coachee: no nudges at night."),
                          time=now.astimezone(zone).strftime("%H:%M"))
    if same_local_day(plan.last_nudge_at, now, zone):
        raise ActionError("nudge_limit", N_("Your coachee had a nudge today already: one a day at most."))
    await cancel_tasks(session, key=plans.task_key(nudge))
    sent = await deliver(session, nudge, engagement=locked, plan=plan, settings=settings, now=now)
    await plans.do_top_up(session, plan, locked, settings=settings, now=now)
    return sent
