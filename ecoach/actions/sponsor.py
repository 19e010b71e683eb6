"""The sponsor: their contact per engagement, the progress summaries the coachee approves
for them, and the one view of the coaching they get (``sponsor_view``).

What the sponsor sees is decided here and only here, from the contract in force (accepted
by every party): the sessions held, and, when the contract says so, the summaries the
coachee approved and the goals' wording. Never the logbook, notes, scores or anything
before the contract is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.coaches import check_email, check_name
from ecoach.actions.contracts import emit_contract
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import check_message
from ecoach.core.inputs import text_ok
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.contract_models import Contract, ContractGoal, SponsorContact, SponsorSummary
from ecoach.logbook.models import Engagement

MAX_SUMMARY = 4000


def check_organisation(value: object) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise ActionError("organisation_required", N_("Give the sponsor's organisation."))
    if len(text) > 200 or not text_ok(text):
        raise ActionError("organisation_invalid", N_("The organisation's name can be at most 200 characters."))
    return text


async def do_save_sponsor(session: AsyncSession, engagement: Engagement, *, organisation: object, name: object,
                          email: object, now: datetime) -> SponsorContact:
    """The sponsor contact (the engagement's own sponsor fields follow it)."""
    checked = (check_organisation(organisation), check_name(str(name or "")),
               check_email(str(email or ""), required=False))
    sponsor = await cq.get_sponsor(session, engagement.id)
    if sponsor is None:
        sponsor = SponsorContact(engagement_id=engagement.id)
        session.add(sponsor)
    sponsor.organisation, sponsor.name, sponsor.email = checked
    sponsor.updated_at = now
    engagement.sponsor_name, engagement.sponsor_email = checked[1], checked[2]
    await session.flush()
    emit_contract(session, engagement, "sponsor_saved", None)
    return sponsor


async def accepted_contract(session: AsyncSession, engagement_id: int) -> Contract | None:
    """The contract version every party accepted, if any: it alone decides what the sponsor sees."""
    contract = await cq.get_contract_in_force(session, engagement_id)
    return contract if contract is not None and contract.status == "accepted" else None


async def do_write_summary(session: AsyncSession, engagement: Engagement, text: object, *,
                           now: datetime) -> SponsorSummary:
    """A progress summary for the sponsor; it waits for the coachee's approval."""
    contract = await accepted_contract(session, engagement.id)
    if contract is None or not contract.triangular or contract.sponsor_sees != "summaries":
        raise Conflict("summaries_not_agreed", N_("The contract in force does not give the sponsor progress "
                                                  "summaries."))
    summary = SponsorSummary(engagement_id=engagement.id, text=check_message(text, MAX_SUMMARY), status="waiting",
                             created_at=now)
    session.add(summary)
    await session.flush()
    emit_contract(session, engagement, "summary_written", contract)
    return summary


async def do_decide_summary(session: AsyncSession, engagement: Engagement, summary_id: int | None, decision: str,
                            *, now: datetime) -> SponsorSummary:
    """The coachee approves (the sponsor then sees it) or declines a waiting summary."""
    if decision not in ("approve", "decline"):
        raise ActionError("decision_invalid", N_("Choose approve or decline."))
    summary = await session.get(SponsorSummary, summary_id) if summary_id else None
    if summary is None or summary.engagement_id != engagement.id:
        raise NotFound("summary_unknown", N_("This summary does not exist."))
    if summary.status != "waiting":
        raise Conflict("summary_decided", N_("You decided on this summary already."))
    summary.status, summary.decided_at = ("approved" if decision == "approve" else "declined"), now
    await session.flush()
    emit_contract(session, engagement, f"summary_{summary.status}", None, summary_id=summary.id)
    return summary


@dataclass(frozen=True)
class SponsorView:
    """Everything the sponsor's page may show."""

    organisation: str
    coachee_name: str
    coach_name: str
    agreed: bool  # a contract is in force; otherwise nothing below is shown
    sessions_agreed: int | None
    sessions_held: tuple[datetime, ...]
    summaries: tuple[SponsorSummary, ...]
    goals: tuple[str, ...]
    sees_summaries: bool


async def sponsor_view(session: AsyncSession, engagement: Engagement) -> SponsorView:
    from ecoach.logbook import queries

    sponsor = await cq.get_sponsor(session, engagement.id)
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    coach = await queries.get_coach(session, engagement.coach_id)
    assert coachee is not None and coach is not None
    contract = await accepted_contract(session, engagement.id)
    base = dict(organisation=sponsor.organisation if sponsor else "", coachee_name=coachee.name, coach_name=coach.name)
    if contract is None or not contract.triangular:
        return SponsorView(**base, agreed=False, sessions_agreed=None, sessions_held=(), summaries=(), goals=(),
                           sees_summaries=False)
    held = await session.execute(
        select(Booking.starts_at).where(Booking.engagement_id == engagement.id, Booking.held_at.is_not(None))
        .order_by(Booking.starts_at))
    sees = contract.sponsor_sees == "summaries"
    summaries = await cq.get_sponsor_summaries(session, engagement.id, statuses=("approved",)) if sees else []
    goals = await session.execute(select(ContractGoal.title).where(ContractGoal.contract_id == contract.id)
                                  .order_by(ContractGoal.position)) if contract.sponsor_sees_goals else None
    return SponsorView(**base, agreed=True, sessions_agreed=contract.terms.get("sessions"),
                       sessions_held=tuple(held.scalars()), summaries=tuple(summaries),
                       goals=tuple(goals.scalars()) if goals is not None else (), sees_summaries=sees)
