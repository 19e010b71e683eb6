"""Routing an inbound mail: the reply token in To / Cc / Delivered-To finds the
engagement; without one, a known coachee address with one active engagement does. The
From address must then belong to that engagement's coachee. A mail that cannot be placed
safely gets the reason it goes to the quarantine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.channels.mail.parse import ParsedMail
from ecoach.core.reply_tokens import find_tokens, read_token
from ecoach.logbook.models import Coachee, Engagement
from ecoach.settings import MailSettings


@dataclass(frozen=True)
class Route:
    engagement: Engagement | None
    coachee: Coachee | None
    reason: str | None  # why it goes to quarantine, if it does
    coach_id: int | None = None


async def route_mail(session: AsyncSession, parsed: ParsedMail, mail: MailSettings, secret: str) -> Route:
    """Where a mail belongs, and whether it may go there (its sender verified)."""
    route = await _by_token(session, parsed, mail, secret)
    if route.reason is None and route.engagement is not None:
        route = _verify_sender(parsed, route)
    return route


async def _by_token(session: AsyncSession, parsed: ParsedMail, mail: MailSettings, secret: str) -> Route:
    recipients = [*parsed.delivered_to, *parsed.to, *parsed.cc]
    tokens = find_tokens(recipients, local=mail.reply_local, domain=mail.domain, form=mail.reply_form)
    if tokens:
        ids = {eid for eid in (read_token(secret, t) for t in tokens) if eid is not None}
        if len(ids) > 1:  # replies to two engagements at once: the coach decides
            stmt = select(Engagement.coach_id).where(Engagement.id.in_(ids)).distinct()
            coach_ids = (await session.execute(stmt)).scalars().all()
            return Route(None, None, "ambiguous", coach_ids[0] if len(coach_ids) == 1 else None)
        engagement = await session.get(Engagement, ids.pop()) if ids else None
        if engagement is None:
            return Route(None, None, "bad_token")
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
