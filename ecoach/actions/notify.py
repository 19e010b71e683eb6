"""Short notification mails, queued in the same transaction as what caused them:
- the coach hears that a coachee started waiting for an answer (setting notify_coach:
  ``immediate``; ``digest`` sends one daily list instead, ``off`` nothing), or wrote in a
  group (``group_notify``; the digest lists groups with unread messages);
- a coachee who is not in the chat hears that the coach answered there (with the link);
- a coachee whose mail was too large hears so (an RFC 3834 automatic reply).

They carry no coaching content, only who wrote and where to read it, and are marked
``Auto-Submitted: auto-generated`` (or ``auto-replied``) so no mail program answers them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.engagements import chat_token_of
from ecoach.actions.errors import N_
from ecoach.actions.exchanges import Recorded
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.crisis.resources import CrisisResource
from ecoach.core.mail.compose import compose_mail
from ecoach.core.mail.parse import ParsedMail
from ecoach.core.i18n import gettext_for
from ecoach.logbook import group_queries, queries
from ecoach.logbook.keyring import keyring_of
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange
from ecoach.settings import MailSettings, Settings

if TYPE_CHECKING:
    from ecoach.scheduler.registry import TaskContext, TaskRegistry

log = logging.getLogger(__name__)

COACH_SUBJECT = N_("%(name)s wrote to you")
COACH_BODY = N_("%(name)s wrote to you by %(channel)s and is waiting for your answer.\n\nRead and answer: %(url)s")
COACHEE_SUBJECT = N_("%(name)s answered you in the chat")
COACHEE_BODY = N_("Hello %(coachee)s,\n\n%(name)s answered you in your coaching chat.\n\nRead it here: %(url)s")


OVERSIZED_SUBJECT = N_("Your mail was too large")
OVERSIZED_BODY = N_(
    "Your mail \"%(subject)s\" was larger than %(limit)s MB. Your coach has received its text, "
    "but its attachments could not be kept. Please send large files in smaller parts."
)
# RFC 3834 (section 2): at most one automatic reply per address in this period.
AUTO_REPLY_PERIOD = timedelta(hours=1)


Online = Callable[[int], bool]  # is the engagement's coachee in the chat right now?


def nobody_online(_engagement_id: int) -> bool:
    return False


async def notify_after_record(
    session: AsyncSession, recorded: list[Recorded], *, settings: Settings, now: datetime,
    online: Online = nobody_online,
) -> int:
    """Queue the notifications this batch of new exchanges calls for; returns how many."""
    return sum(await do_notify_recorded(session, recorded, settings=settings, now=now, online=online))


async def do_notify_recorded(
    session: AsyncSession, recorded: list[Recorded], *, settings: Settings, now: datetime,
    online: Online = nobody_online,
) -> list[int]:
    """``notify_after_record``, counted per item (0 or 1 each): at most one notification
    per engagement and direction in a batch; their context read in one query. A coachee
    ``online`` in the chat gets no mail about the coach's chat answer."""
    counts = [0] * len(recorded)
    if not settings.mail.enabled:
        return counts
    chosen: list[tuple[int, bool]] = []  # (position, to the coach?)
    done: set[tuple[int, str]] = set()
    for i, item in enumerate(recorded):
        ex = item.exchange
        key = (ex.engagement_id, ex.direction)
        if not item.created or key in done:
            continue
        if ex.direction == "in" and not item.was_waiting and settings.mail.notify_coach == "immediate":
            done.add(key)
            chosen.append((i, True))
        elif (ex.direction == "out" and ex.channel == "chat" and settings.mail.notify_coachee_chat
              and not online(ex.engagement_id)):
            done.add(key)
            chosen.append((i, False))
    if not chosen:
        return counts
    contexts = await _contexts(session, {recorded[i].exchange.engagement_id for i, _ in chosen})
    for i, to_coach in chosen:
        context = contexts[recorded[i].exchange.engagement_id]
        notify = _notify_coach if to_coach else _notify_coachee
        counts[i] = await notify(session, recorded[i], context, settings, now)
    return counts


Context = tuple[Engagement, Coach, Coachee]


async def _contexts(session: AsyncSession, engagement_ids: set[int]) -> dict[int, Context]:
    stmt = (
        select(Engagement, Coach, Coachee)
        .join(Coach, Coach.id == Engagement.coach_id)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(Engagement.id.in_(sorted(engagement_ids)))
    )
    return {row[0].id: (row[0], row[1], row[2]) for row in (await session.execute(stmt)).all()}


async def _notify_coach(
    session: AsyncSession, item: Recorded, context: Context, settings: Settings, now: datetime
) -> int:
    engagement, coach, coachee = context
    _ = gettext_for(coach.language)
    values = {"name": coachee.name, "channel": _(item.exchange.channel),
              "url": f"{settings.base_url}/engagements/{engagement.id}"}
    await _queue(session, settings, now, to_address=coach.email, to_name=coach.name,
                 subject=_(COACH_SUBJECT) % values, text=_(COACH_BODY) % values,
                 engagement_id=engagement.id)
    return 1


async def _notify_coachee(
    session: AsyncSession, item: Recorded, context: Context, settings: Settings, now: datetime
) -> int:
    engagement, coach, coachee = context
    link = await queries.get_active_chat_link(session, engagement.id, now)
    token = chat_token_of(link, settings.secret) if link else None
    if not coachee.email or token is None:
        return 0
    _ = gettext_for(engagement.language)
    values = {"name": coach.name, "coachee": coachee.name, "url": f"{settings.base_url}/c/{token}"}
    await _queue(session, settings, now, to_address=coachee.email, to_name=coachee.name,
                 subject=_(COACHEE_SUBJECT) % values, text=_(COACHEE_BODY) % values,
                 engagement_id=engagement.id)
    return 1


async def _queue(session: AsyncSession, settings: Settings, now: datetime, *, to_address: str,
                 to_name: str, subject: str, text: str, engagement_id: int | None,
                 kind: str = "notification") -> None:
    mail = settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=to_address, to_name=to_name,
        reply_to=mail.sender, subject=subject, text=text, html=None,
        message_id_domain=mail.domain, in_reply_to=None, references=[], auto="auto-generated",
        date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=to_address, kind=kind, engagement_id=engagement_id, now=now)


queue_notification = _queue  # for the other notifications (``group_notify``)


async def recently_auto_replied(session: AsyncSession, addresses: set[str], now: datetime) -> set[str]:
    """Which of these addresses had an automatic reply within the period (one query)."""
    if not addresses:
        return set()
    keyring = keyring_of(session)  # recipients are sealed: compared by their blind index
    by_index = {await keyring.blind(session, MailOutbox.recipient, a): a for a in addresses}
    stmt = select(MailOutbox.recipient_index).distinct().where(
        MailOutbox.kind == "auto_reply", MailOutbox.recipient_index.in_(sorted(by_index)),
        MailOutbox.created_at > now - AUTO_REPLY_PERIOD,
    )
    return {by_index[index] for index in (await session.execute(stmt)).scalars()}


async def do_reply_oversized(
    session: AsyncSession, parsed: ParsedMail, engagement: Engagement, mail: MailSettings, now: datetime,
    *, recent: set[str] | None = None, crisis: Sequence[CrisisResource] = (),
) -> int:
    """One clear, loop-safe automatic answer (RFC 3834: ``Auto-Submitted: auto-replied``,
    in the same thread, never more than one an hour to an address). Returns 1 if queued.
    ``recent``: ``recently_auto_replied`` for a batch's addresses, kept up to date here."""
    address = parsed.from_address
    if not address or parsed.auto_submitted:
        return 0
    if recent is None:
        recent = await recently_auto_replied(session, {address}, now)
    if address in recent:
        log.info("no second automatic reply to %s within %s", address, AUTO_REPLY_PERIOD)
        return 0
    recent.add(address)
    _ = gettext_for(engagement.language)
    text = _(OVERSIZED_BODY) % {"subject": parsed.subject, "limit": round(mail.max_bytes / 1024**2, 1)}
    if crisis:  # the mail was flagged: this reply names where to get help
        from ecoach.actions.crisis import resources_text

        text += "\n\n" + resources_text(crisis, engagement.language)
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=address,
        to_name=parsed.from_name, reply_to=mail.sender, subject=_(OVERSIZED_SUBJECT), text=text,
        html=None, message_id_domain=mail.domain, in_reply_to=parsed.message_id,
        references=[*parsed.references, *([parsed.message_id] if parsed.message_id else [])],
        auto="auto-replied", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=address, kind="auto_reply", engagement_id=engagement.id, now=now)
    return 1


# --- The daily digest (notify_coach = "digest") ------------------------------------------

DIGEST_TASK = "mail.coach_digest"
DIGEST_SUBJECT = N_("Coachees waiting for your answer")
DIGEST_INTRO = N_("Hello %(name)s,\n\nThese coachees wrote to you and are waiting for your answer:")
DIGEST_LINE = N_("%(name)s, waiting since %(since)s: %(url)s")
DIGEST_OUTRO = N_("Your inbox: %(url)s")
DIGEST_GROUP_LINE = N_("Group %(name)s, unread messages: %(count)s: %(url)s")


def register_tasks(registry: TaskRegistry) -> None:
    """Every hour: each coach whose local digest hour has come gets one digest a day."""
    from apscheduler.triggers.cron import CronTrigger

    registry.add_recurring(DIGEST_TASK, CronTrigger(minute=5, timezone=timezone.utc))

    @registry.handler(DIGEST_TASK)
    async def send_digests(ctx: TaskContext, params: dict[str, Any]) -> None:
        if ctx.settings.mail.enabled and ctx.settings.mail.notify_coach == "digest":
            await do_coach_digests(ctx.session, ctx.settings, ctx.now)


def digest_moment(now: datetime, zone: str, hour: int) -> datetime | None:
    """Today's digest time in the coach's zone (as UTC), once it has come; else None."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    local = now.astimezone(tz)
    moment = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.astimezone(timezone.utc) if local >= moment else None


async def do_coach_digests(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue today's digest for every coach whose hour has come and who has coachees
    waiting that wrote since the last digest. Returns how many were queued."""
    queued = 0
    for coach in (await session.execute(select(Coach).order_by(Coach.id))).scalars():
        moment = digest_moment(now, coach.time_zone, settings.mail.digest_hour)
        if moment is None:
            continue
        index = await keyring_of(session).blind(session, MailOutbox.recipient, coach.email)
        last = (await session.execute(
            select(func.max(MailOutbox.created_at))
            .where(MailOutbox.kind == "digest", MailOutbox.recipient_index == index)
        )).scalar()
        if last is not None and last >= moment:
            continue
        queued += await _digest_for(session, settings, coach, since=last or moment - timedelta(days=1), now=now)
    return queued


async def _digest_for(session: AsyncSession, settings: Settings, coach: Coach, *, since: datetime,
                      now: datetime) -> int:
    wrote = (
        select(Engagement.id, Coachee.name, Engagement.waiting_since)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .join(Exchange, Exchange.engagement_id == Engagement.id)
        .where(Engagement.coach_id == coach.id, Engagement.waiting_since.is_not(None),
               Exchange.direction == "in", Exchange.created_at > since)
        .group_by(Engagement.id, Coachee.name, Engagement.waiting_since)
        .order_by(Engagement.waiting_since, Engagement.id)
    )
    rows = (await session.execute(wrote)).all()
    groups = await group_queries.get_unread_groups(session, coach.id, since=since)
    if not rows and not groups:
        return 0
    _ = gettext_for(coach.language)
    zone = coach.time_zone if coach.time_zone else "UTC"
    lines = [_(DIGEST_INTRO) % {"name": coach.name}, ""]
    for engagement_id, name, waiting in rows:
        when = format_datetime(waiting.astimezone(ZoneInfo(zone)), "d MMM y, HH:mm", locale=coach.language)
        lines.append("- " + _(DIGEST_LINE) % {"name": name, "since": when,
                                               "url": f"{settings.base_url}/engagements/{engagement_id}"})
    lines += ["- " + _(DIGEST_GROUP_LINE) % {"name": g.name, "count": g.coach_unread,
                                              "url": f"{settings.base_url}/groups/{g.id}"} for g in groups]
    lines += ["", _(DIGEST_OUTRO) % {"url": f"{settings.base_url}/"}]
    await _queue(session, settings, now, to_address=coach.email, to_name=coach.name,
                 subject=_(DIGEST_SUBJECT), text="\n".join(lines), engagement_id=None, kind="digest")
    return 1
