"""Putting a contract version before the parties, and their acceptance.

Offering sends the coachee their link in the chat (an exchange) and the sponsor theirs by
mail (when mail is on and the sponsor has an address; the coach's page shows it too).
Accepting records the name the party typed, the time and the exact version (number and
fingerprint) as an acceptance row and as an exchange in the timeline. Once every party
has accepted, the version is in force: the older accepted one is superseded and the
goals' starting scores enter their history (source ``contract``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.coaches import check_name
from ecoach.actions.contract_links import ensure_contract_link
from ecoach.actions.contracts import do_offer_contract, emit_contract
from ecoach.actions.errors import ActionError, Conflict, Forbidden, N_
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.i18n import gettext_for
from ecoach.core.inputs import parse_int
from ecoach.core.mail.compose import compose_mail
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import Contract, ContractAcceptance, GoalScore
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)

OFFER_TEXT = N_("Your coaching contract (version %(version)s) is ready. Please read it and, if you agree, "
                "accept it here: %(url)s")
SPONSOR_SUBJECT = N_("Coaching contract with %(coach)s: please read and accept your part")
SPONSOR_BODY = N_("Dear %(name)s,\n\n%(coach)s has prepared version %(version)s of the coaching contract in which "
                  "%(organisation)s takes part as sponsor. Please read your part and, if you agree, accept it: "
                  "%(url)s\n\nThe same link later shows what the contract lets you see of the coaching.")
ACCEPTED_TEXT = {
    "coachee": N_("%(name)s accepted version %(version)s of the coaching contract (fingerprint %(fingerprint)s)."),
    "sponsor": N_("%(name)s accepted version %(version)s of the coaching contract for the sponsor "
                  "(fingerprint %(fingerprint)s)."),
}


@dataclass(frozen=True)
class OfferSent:
    contract: Contract
    coachee_url: str
    sponsor_url: str | None
    sponsor_mailed: bool


async def do_send_offer(session: AsyncSession, engagement: Engagement, contract: Contract, coach: Coach, *,
                        settings: Settings, now: datetime) -> OfferSent:
    """Offer the draft and give each party their link."""
    offered = await do_offer_contract(session, engagement, contract, now=now)
    links = settings.contract
    token = await ensure_contract_link(session, engagement, "coachee", now=now, days=links.coachee_link_days,
                                       secret=settings.secret)
    coachee_url = f"{settings.base_url}/contract/{token}"
    _ = gettext_for(engagement.language)
    await record_entries(session, [NewExchange(
        engagement_id=engagement.id, channel="chat", direction="out", author="system", author_name=coach.name,
        text=_(OFFER_TEXT) % {"version": contract.version, "url": coachee_url},
        external_id=f"contract:{contract.id}:offered",
        meta={"event": "contract_offered", "contract_id": contract.id, "version": contract.version}, force=True,
    )], now)
    sponsor_url, mailed = None, False
    if offered.contract.triangular:
        token = await ensure_contract_link(session, engagement, "sponsor", now=now, days=links.sponsor_link_days,
                                           secret=settings.secret)
        sponsor_url = f"{settings.base_url}/sponsor/{token}"
        mailed = await _mail_sponsor(session, engagement, contract, coach, sponsor_url, settings, now)
    return OfferSent(offered.contract, coachee_url, sponsor_url, mailed)


async def _mail_sponsor(session: AsyncSession, engagement: Engagement, contract: Contract, coach: Coach, url: str,
                        settings: Settings, now: datetime) -> bool:
    sponsor = await cq.get_sponsor(session, engagement.id)
    if sponsor is None or not sponsor.email or not settings.mail.enabled:
        return False
    _ = gettext_for(engagement.language)
    values = {"coach": coach.name, "name": sponsor.name, "organisation": sponsor.organisation,
              "version": contract.version, "url": url}
    mail = settings.mail
    message, message_id = compose_mail(
        from_name=coach.name, from_address=mail.sender, to_address=sponsor.email, to_name=sponsor.name,
        reply_to=coach.email, subject=_(SPONSOR_SUBJECT) % values, text=_(SPONSOR_BODY) % values, html=None,
        message_id_domain=mail.domain, in_reply_to=None, references=[], date=now, auto="auto-generated")
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=sponsor.email, kind="contract", engagement_id=engagement.id, now=now)
    return True


async def record_entries(session: AsyncSession, items: list[NewExchange], now: datetime) -> list[Recorded]:
    results = await record_exchanges(session, items, now)
    for result in results:
        if isinstance(result, ActionError):
            raise result
    return [r for r in results if isinstance(r, Recorded)]


def _check_version(pending: Contract | None, version: object) -> Contract:
    if pending is None:
        raise Conflict("contract_not_pending", N_("There is no contract waiting for acceptance now: it has been "
                                                  "accepted already or withdrawn. Ask your coach if in doubt."))
    if str(version) != str(pending.version):
        raise Conflict("contract_version_replaced",
                       N_("Version %(version)s has replaced the version you were reading. Read version "
                          "%(version)s below and accept that one."), version=pending.version)
    return pending


async def do_accept_contract(session: AsyncSession, engagement: Engagement, party: str, *, version: object,
                             name: object, agreed: bool, now: datetime) -> ContractAcceptance:
    """The party's acceptance of the offered version they read (``version``). Accepting
    twice returns the first acceptance."""
    if engagement.status == "closed":
        raise Conflict("engagement_closed", N_("This coaching engagement has been closed."))
    pending = await cq.get_pending(session, engagement.id)
    if pending is None or str(pending.version) == str(version):
        if (earlier := await _earlier(session, engagement.id, party, version)) is not None:
            return earlier  # a double click, or the form sent again
    contract = _check_version(pending, version)
    if party == "sponsor" and not contract.triangular:
        raise Forbidden("contract_not_triangular", N_("This contract has no part for a sponsor."))
    given = check_name(name if isinstance(name, str) else "")
    if not agreed:
        raise ActionError("contract_not_agreed", N_("Tick the box to say that you have read the contract and "
                                                    "accept it."))
    exchange = await _record(session, engagement, contract, party, given, now)
    acceptance = ContractAcceptance(contract_id=contract.id, engagement_id=engagement.id, party=party,
                                    version=contract.version, name=given, accepted_at=now, exchange_id=exchange)
    try:
        async with session.begin_nested():
            session.add(acceptance)
            await session.flush()
    except IntegrityError:  # a double click: the other request recorded it first
        found = await session.execute(select(ContractAcceptance).where(
            ContractAcceptance.contract_id == contract.id, ContractAcceptance.party == party))
        return found.scalar_one()
    emit_contract(session, engagement, "accepted", contract, party=party)
    # audit: a contract acceptance (party, version, fingerprint) is the event above.
    parties = {"coachee", "sponsor"} if contract.triangular else {"coachee"}
    accepted = {a.party for a in await cq.get_acceptances(session, [contract.id])}
    if parties <= accepted:
        await _in_force(session, engagement, contract, exchange, now)
    return acceptance


async def _earlier(session: AsyncSession, engagement_id: int, party: str, version: object
                  ) -> ContractAcceptance | None:
    found = await session.execute(select(ContractAcceptance).where(
        ContractAcceptance.engagement_id == engagement_id, ContractAcceptance.party == party,
        ContractAcceptance.version == (parse_int(str(version)) or 0)))
    return found.scalar_one_or_none()


async def _record(session: AsyncSession, engagement: Engagement, contract: Contract, party: str, name: str,
                  now: datetime) -> int:
    _ = gettext_for(engagement.language)
    values = {"name": name, "version": contract.version, "fingerprint": (contract.fingerprint or "")[:16]}
    [recorded] = await record_entries(session, [NewExchange(
        engagement_id=engagement.id, channel="system", direction="in", author=party, author_name=name,
        text=_(ACCEPTED_TEXT[party]) % values, external_id=f"contract:{contract.id}:accepted:{party}",
        meta={"event": "contract_accepted", "contract_id": contract.id, "version": contract.version,
              "party": party, "fingerprint": contract.fingerprint}, force=True,
    )], now)
    return recorded.exchange.id


async def _in_force(session: AsyncSession, engagement: Engagement, contract: Contract, exchange_id: int,
                    now: datetime) -> None:
    await session.execute(
        update(Contract).where(Contract.engagement_id == engagement.id, Contract.status == "accepted")
        .values(status="superseded", superseded_at=now).execution_options(synchronize_session="fetch"))
    contract.status, contract.accepted_at = "accepted", now
    goals = await cq.get_contract_goals(session, contract.id)
    session.add_all(GoalScore(engagement_id=engagement.id, goal_id=g.goal_id, contract_id=contract.id, score=g.score,
                              source="contract", source_id=exchange_id, recorded_at=now) for g in goals)
    await session.flush()
    emit_contract(session, engagement, "in_force", contract)
    log.info("engagement %s: contract version %s in force", engagement.id, contract.version)
