"""Routing inbound mail: the reply token in To / Cc / Delivered-To finds the
engagement; without one, a known coachee address with one active engagement does. The
From address must then belong to that engagement's coachee. A mail that cannot be placed
safely gets the reason it goes to the quarantine.

Set-based: a batch of mails costs at most two queries (the engagements its tokens name,
the active engagements of its senders), whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.mail.parse import ParsedMail
from ecoach.core.reply_tokens import find_tokens, read_token
from ecoach.logbook.keyring import keyring_of
from ecoach.logbook.models import Coachee, Engagement
from ecoach.settings import MailSettings

CHUNK = 500  # ids or addresses per IN (...): far below any database's parameter limit


@dataclass(frozen=True)
class Route:
    engagement: Engagement | None
    coachee: Coachee | None
    reason: str | None  # why it goes to quarantine, if it does
    coach_id: int | None = None


async def route_mail(session: AsyncSession, parsed: ParsedMail, mail: MailSettings, secret: str) -> Route:
    """Where a mail belongs, and whether it may go there (its sender verified)."""
    [route] = await route_mails(session, [parsed], mail, secret)
    return route


async def route_mails(
    session: AsyncSession, mails: Sequence[ParsedMail], mail: MailSettings, secret: str
) -> list[Route]:
    """``route_mail`` for each mail of a batch, in order."""
    tokens = [_token_ids(parsed, mail, secret) for parsed in mails]
    by_id = await _engagements_by_id(session, {eid for ids in tokens if ids for eid in ids})
    senders = {p.from_address.lower() for p, ids in zip(mails, tokens) if ids is None and p.from_address}
    by_sender = await _active_by_sender(session, senders)
    routes = []
    for parsed, ids in zip(mails, tokens):
        if ids is None:
            route = _by_sender(by_sender, parsed.from_address)
        else:
            route = _by_token(by_id, ids)
        if route.reason is None and route.engagement is not None:
            route = _verify_sender(parsed, route)
        routes.append(route)
    return routes


def _token_ids(parsed: ParsedMail, mail: MailSettings, secret: str) -> set[int] | None:
    """The engagement ids the mail's valid tokens name; None when it carries no token."""
    recipients = [*parsed.delivered_to, *parsed.to, *parsed.cc]
    tokens = find_tokens(recipients, local=mail.reply_local, domain=mail.domain, form=mail.reply_form)
    if not tokens:
        return None
    return {eid for eid in (read_token(secret, t) for t in tokens) if eid is not None}


def _chunks(values: Iterable[object]) -> list[list[object]]:
    ordered = sorted(values)  # type: ignore[type-var]
    return [ordered[i:i + CHUNK] for i in range(0, len(ordered), CHUNK)]


async def _engagements_by_id(session: AsyncSession, ids: set[int]) -> dict[int, tuple[Engagement, Coachee]]:
    found: dict[int, tuple[Engagement, Coachee]] = {}
    for chunk in _chunks(ids):
        stmt = (select(Engagement, Coachee).join(Coachee, Coachee.id == Engagement.coachee_id)
                .where(Engagement.id.in_(chunk)))
        for engagement, coachee in (await session.execute(stmt)).all():
            found[engagement.id] = (engagement, coachee)
    return found


async def _active_by_sender(
    session: AsyncSession, addresses: set[str]
) -> dict[str, list[tuple[Engagement, Coachee]]]:
    """By the addresses' blind index (a keyed hash: the addresses are stored sealed)."""
    keyring = keyring_of(session)
    by_index = {await keyring.blind(session, Coachee.email, a): a for a in addresses}
    found: dict[str, list[tuple[Engagement, Coachee]]] = {}
    for chunk in _chunks(by_index):
        stmt = (
            select(Engagement, Coachee)
            .join(Coachee, Coachee.id == Engagement.coachee_id)
            .where(Coachee.email_index.in_(chunk), Engagement.status != "closed")
            .order_by(Engagement.id)
        )
        for engagement, coachee in (await session.execute(stmt)).all():
            found.setdefault(by_index[coachee.email_index], []).append((engagement, coachee))
    return found


def _by_token(by_id: dict[int, tuple[Engagement, Coachee]], ids: set[int]) -> Route:
    if len(ids) > 1:  # replies to two engagements at once: the coach decides
        coach_ids = {by_id[eid][0].coach_id for eid in ids if eid in by_id}
        return Route(None, None, "ambiguous", coach_ids.pop() if len(coach_ids) == 1 else None)
    found = by_id.get(next(iter(ids))) if ids else None
    if found is None:
        return Route(None, None, "bad_token")
    engagement, coachee = found
    if engagement.status == "closed":
        return Route(engagement, coachee, "engagement_closed", engagement.coach_id)
    return Route(engagement, coachee, None, engagement.coach_id)


def _by_sender(by_sender: dict[str, list[tuple[Engagement, Coachee]]], address: str | None) -> Route:
    rows = by_sender.get(address.lower(), []) if address else []
    if len(rows) == 1:
        return Route(rows[0][0], rows[0][1], None, rows[0][0].coach_id)
    if len(rows) > 1:
        coach_ids = {engagement.coach_id for engagement, _ in rows}
        return Route(None, None, "ambiguous", coach_ids.pop() if len(coach_ids) == 1 else None)
    return Route(None, None, "unknown_sender")


def _verify_sender(parsed: ParsedMail, route: Route) -> Route:
    expected = (route.coachee.email or "").lower() if route.coachee else ""
    if not parsed.from_address or parsed.from_address.lower() != expected:
        return Route(route.engagement, route.coachee, "sender_mismatch", route.coach_id)
    return route
