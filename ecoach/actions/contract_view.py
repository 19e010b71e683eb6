"""Building the contract document (``ecoach.core.contract_document``) of a version for
one reader: the coach, the coachee, or the sponsor (who gets no goals unless the contract
lets them see them, and never scores)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.agreement_texts import get_coachee_agreement
from ecoach.actions.errors import N_
from ecoach.core.contract_document import ContractDocument, DocAcceptance, DocGoal
from ecoach.core.contract_terms import merged_terms
from ecoach.core.crisis.resources import default_resources
from ecoach.core.i18n import gettext_for
from ecoach.logbook import contract_queries as cq
from ecoach.logbook import queries
from ecoach.logbook.contract_models import Contract
from ecoach.logbook.models import Engagement

CHAT_HOURS = N_("Chat hours (%(zone)s): %(hours)s")


async def contract_document(session: AsyncSession, engagement: Engagement, contract: Contract, *, now: datetime,
                            reader: str = "coach") -> ContractDocument:
    coach = await queries.get_coach(session, engagement.coach_id)
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    sponsor = await cq.get_sponsor(session, engagement.id)
    assert coach is not None and coachee is not None  # foreign keys
    for_sponsor = reader == "sponsor"
    show_goals = not for_sponsor or contract.sponsor_sees_goals
    goals = await cq.get_contract_goals(session, contract.id) if show_goals else []
    acceptances = await cq.get_acceptances(session, [contract.id])
    parties = ("coachee", "sponsor") if contract.triangular else ("coachee",)
    accepted = {a.party for a in acceptances}
    return ContractDocument(
        version=contract.version, status=contract.status, language=contract.language, zone=engagement.time_zone,
        coach_name=coach.name, coachee_name=coachee.name, terms=merged_terms(contract.terms, contract.language),
        goals=tuple(DocGoal(g.position, g.title, tuple(g.indicators), None if for_sponsor else int(g.score))
                    for g in goals),
        acceptances=tuple(DocAcceptance(a.party, a.name, a.accepted_at) for a in acceptances),
        triangular=contract.triangular, sponsor_organisation=sponsor.organisation if sponsor else None,
        sponsor_name=sponsor.name if sponsor else None, sponsor_sees=contract.sponsor_sees,
        sponsor_sees_goals=contract.sponsor_sees_goals, fingerprint=contract.fingerprint,
        offered_at=contract.offered_at, accepted_at=contract.accepted_at,
        availability=tuple(await _availability(session, engagement, contract.language, now)),
        help_lines=() if for_sponsor else default_resources(contract.language),
        for_sponsor=for_sponsor,
        missing=tuple(p for p in parties if p not in accepted) if contract.status == "offered" else (),
    )


async def _availability(session: AsyncSession, engagement: Engagement, language: str, now: datetime) -> list[str]:
    """The availability and response-time agreements the scheduler keeps, as sentences."""
    agreement = await get_coachee_agreement(session, engagement, now)
    _ = gettext_for(language)
    lines = []
    if agreement.chat_windows:
        lines.append(_(CHAT_HOURS) % {"zone": engagement.time_zone, "hours": ", ".join(agreement.chat_windows)})
    if agreement.chat_within:
        lines.append(_("Chat messages are answered within %(time)s.") % {"time": agreement.chat_within})
    if agreement.mail_within:
        lines.append(_("Mail is answered within %(time)s.") % {"time": agreement.mail_within})
    return lines
