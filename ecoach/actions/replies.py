"""The coach's answer on the channel of their choice: chat, mail or a private note."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.bundles import Rules, do_record_reply
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchange_writer import ExchangeWriter
from ecoach.actions.exchanges import NewExchange, Recorded
from ecoach.actions.unit import unit_of_work
from ecoach.core.bundles import estimate_minutes
from ecoach.core.clock import Clock
from ecoach.logbook import queries
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import Settings

CHANNELS = ("chat", "mail", "note")


@dataclass(frozen=True)
class ReplyContext:
    sessions: async_sessionmaker[AsyncSession]
    writer: ExchangeWriter
    clock: Clock
    settings: Settings


def check_channel(channel: Any) -> str:
    channel = channel or "chat"
    if channel not in CHANNELS:
        raise ActionError("channel_invalid", N_("Choose chat, mail or note."))
    return str(channel)


async def do_coach_reply(
    ctx: ReplyContext, coach: Coach, engagement_id: int, *, channel: str, text: str, client_id: str,
    origin: str | None = None, minutes: int | None = None,
) -> Recorded:
    """Record (and for mail: queue) the coach's answer; events go out after commit.
    Another coach's engagement is not found, whatever the channel. A chat or mail answer
    uses up ``minutes`` of the engagement's plan (None: estimated from its length), once
    per exchange however often it is resent."""
    channel = check_channel(channel)
    if channel == "mail":
        async with unit_of_work(ctx.sessions) as session:
            engagement = await _owned(session, coach, engagement_id)
            recorded = await _mail_reply(ctx, session, coach, engagement, text, client_id, origin)
            await _count(ctx, session, recorded, text, minutes)
            return recorded
    async with ctx.sessions() as session:  # only a look: the writer records it
        await _owned(session, coach, engagement_id)
    note = channel == "note"
    recorded = await ctx.writer.submit(NewExchange(
        engagement_id=engagement_id,
        channel="note" if note else "chat",
        direction="internal" if note else "out",
        author="coach",
        author_name=coach.name,
        text=text,
        external_id=f"{'note' if note else 'chat'}:{client_id}",
        origin=origin,
    ))
    if not note:
        # After the writer's commit: a failure here leaves the reply sent but not yet
        # counted, and the coach's resend (the same client id) counts it then.
        async with unit_of_work(ctx.sessions) as session:
            await _count(ctx, session, recorded, text, minutes)
    return recorded


async def _count(ctx: ReplyContext, session: AsyncSession, recorded: Recorded, text: str,
                 minutes: int | None) -> None:
    rules = Rules.of(ctx.settings.billing)
    if minutes is None:
        minutes = estimate_minutes(text, words_per_minute=rules.words_per_minute, minimum=rules.minimum_minutes)
    await do_record_reply(session, recorded.exchange.engagement_id, recorded.exchange.id, minutes,
                          ctx.clock.now(), rules)


async def _owned(session: AsyncSession, coach: Coach, engagement_id: int) -> Engagement:
    engagement = await queries.get_engagement(session, coach.id, engagement_id)
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


async def _mail_reply(ctx: ReplyContext, session: AsyncSession, coach: Coach, engagement: Engagement,
                      text: str, client_id: str, origin: str | None) -> Recorded:
    from ecoach.actions.mail_reply import do_send_mail_reply

    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    return await do_send_mail_reply(
        session, engagement=engagement, coachee=coachee, coach=coach, text=text,
        client_id=client_id, mail=ctx.settings.mail, secret=ctx.settings.secret,
        now=ctx.clock.now(), origin=origin,
    )
