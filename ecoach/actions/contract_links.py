"""The coachee's and the sponsor's personal contract links.

A link is the key: 256 bits, derived by HMAC from a stored salt under the server's secret
key (so the coach's page can show it again), stored as its SHA-256 digest. One link per
party and engagement is active; making a new one replaces it, and the old one then says
so and what to do. The sponsor's link is their whole access: their part of the contract
and the small page the confidentiality clause allows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.contracts import emit_contract
from ecoach.actions.errors import N_, NotFound
from ecoach.actions.session_types import link_token
from ecoach.core.tokens import looks_like_token, new_salt, token_digest
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import PARTIES, ContractLink
from ecoach.logbook.models import Engagement

REPLACED = {
    "coachee": N_("This contract link has been replaced by a newer one or withdrawn. Open the newest link "
                  "your coach sent you (it is in your chat), or ask your coach for it."),
    "sponsor": N_("This link has been replaced by a newer one or withdrawn. Use the newest link the coach "
                  "sent you, or ask the coach for a new one."),
}
EXPIRED = {
    "coachee": N_("This contract link has expired. Ask your coach for a new link."),
    "sponsor": N_("This link has expired. Ask the coach for a new link."),
}
UNKNOWN = N_("This link is not valid. Check that you copied all of it, or ask the coach for a new link.")


def _token(secret: str, party: str, salt: str) -> str:
    return link_token(secret, f"contract-{party}", salt)


def contract_token_of(link: ContractLink, secret: str) -> str:
    return _token(secret, link.party, link.salt)


async def do_new_contract_link(session: AsyncSession, engagement: Engagement, party: str, *, now: datetime,
                               days: int, secret: str) -> str:
    """Replace the party's link with a new one; returns its token."""
    if party not in PARTIES:
        raise NotFound("party_unknown", N_("Unknown party."))
    await session.execute(
        update(ContractLink)
        .where(ContractLink.engagement_id == engagement.id, ContractLink.party == party,
               ContractLink.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    salt = new_salt()
    token = _token(secret, party, salt)
    session.add(ContractLink(engagement_id=engagement.id, party=party, token_hash=token_digest(token), salt=salt,
                             created_at=now, expires_at=now + timedelta(days=days) if days else None))
    await session.flush()
    emit_contract(session, engagement, "link", None, party=party)
    return token


async def ensure_contract_link(session: AsyncSession, engagement: Engagement, party: str, *, now: datetime,
                               days: int, secret: str) -> str:
    """The party's active link, or a new one when there is none (or it expired)."""
    link = await cq.get_active_contract_link(session, engagement.id, party, now)
    if link is not None:
        return contract_token_of(link, secret)
    return await do_new_contract_link(session, engagement, party, now=now, days=days, secret=secret)


async def check_contract_token(session: AsyncSession, token: str, party: str, now: datetime) -> Engagement:
    """The engagement a party's link opens, or the reason it does not (in the
    engagement's language). A coachee's link does not open the sponsor's page, nor the
    other way round."""
    link = await cq.get_contract_link(session, token_digest(token)) if looks_like_token(token) else None
    if link is None or link.party != party:
        raise NotFound("contract_link_unknown", UNKNOWN)
    engagement = await session.get(Engagement, link.engagement_id)
    assert engagement is not None  # foreign key
    error = None
    if link.revoked_at is not None:
        error = NotFound("contract_link_replaced", REPLACED[party])
    elif link.expires_at is not None and link.expires_at <= now:
        error = NotFound("contract_link_expired", EXPIRED[party])
    if error is not None:
        error.language = engagement.language
        raise error
    return engagement
