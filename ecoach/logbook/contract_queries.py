"""Read queries of the contract: its versions, the goals in force and their scores, the
acceptances, personal links, the sponsor contact and summaries.

The interface other areas build on (session check-ins, reviews, the progress chart, the
evaluation): ``get_current_goals``, ``get_goal_scores``, ``get_contract_in_force``. A goal
keeps its id across contract versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.contract_models import (
    Contract,
    ContractAcceptance,
    ContractGoal,
    ContractLink,
    ContractTemplate,
    GoalScore,
    SponsorContact,
    SponsorSummary,
)


@dataclass(frozen=True)
class CurrentGoal:
    """A goal of the version in force, with its latest score from any source."""

    goal_id: int
    position: int  # 1..3, the order in the contract
    title: str
    indicators: tuple[str, ...]
    contract_id: int  # the version in force
    version: int
    start_score: int  # the score this version was drafted with
    score: int | None  # the latest recorded score (None: none recorded yet)
    scored_at: datetime | None


async def get_contract_in_force(session: AsyncSession, engagement_id: int) -> Contract | None:
    """The newest accepted version; before any acceptance the newest offered one; None
    while there are only drafts (or nothing)."""
    stmt = (
        select(Contract)
        .where(Contract.engagement_id == engagement_id, Contract.status.in_(("accepted", "offered")))
        .order_by((Contract.status == "accepted").desc(), Contract.version.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_current_goals(session: AsyncSession, engagement_id: int) -> list[CurrentGoal]:
    """The goals of the version in force (``get_contract_in_force``), in contract order,
    each with its latest score; empty before a version is offered."""
    contract = await get_contract_in_force(session, engagement_id)
    if contract is None:
        return []
    goals = await get_contract_goals(session, contract.id)
    latest = await get_latest_scores(session, engagement_id, [g.goal_id for g in goals])
    return [
        CurrentGoal(goal_id=g.goal_id, position=g.position, title=g.title, indicators=tuple(g.indicators),
                    contract_id=contract.id, version=contract.version, start_score=int(g.score),
                    score=latest[g.goal_id].score if g.goal_id in latest else None,
                    scored_at=latest[g.goal_id].recorded_at if g.goal_id in latest else None)
        for g in goals
    ]


async def get_goal_scores(session: AsyncSession, engagement_id: int, goal_ids: list[int] | None = None) -> list[GoalScore]:
    """Every score of the engagement's goals (or of ``goal_ids``), oldest first."""
    stmt = select(GoalScore).where(GoalScore.engagement_id == engagement_id)
    if goal_ids is not None:
        stmt = stmt.where(GoalScore.goal_id.in_(goal_ids))
    stmt = stmt.order_by(GoalScore.recorded_at, GoalScore.id)
    return list((await session.execute(stmt)).scalars())


async def get_latest_scores(session: AsyncSession, engagement_id: int, goal_ids: list[int]) -> dict[int, GoalScore]:
    """The newest score per goal (a handful of goals, a few dozen scores each)."""
    latest: dict[int, GoalScore] = {}
    for score in await get_goal_scores(session, engagement_id, goal_ids) if goal_ids else []:
        latest[score.goal_id] = score
    return latest


async def get_contracts(session: AsyncSession, engagement_id: int) -> list[Contract]:
    """Every version, newest first."""
    stmt = select(Contract).where(Contract.engagement_id == engagement_id).order_by(Contract.version.desc())
    return list((await session.execute(stmt)).scalars())


async def get_contract(session: AsyncSession, engagement_id: int, version: int) -> Contract | None:
    stmt = select(Contract).where(Contract.engagement_id == engagement_id, Contract.version == version)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_draft(session: AsyncSession, engagement_id: int) -> Contract | None:
    stmt = select(Contract).where(Contract.engagement_id == engagement_id, Contract.status == "draft")
    return (await session.execute(stmt.order_by(Contract.version.desc()).limit(1))).scalar_one_or_none()


async def get_pending(session: AsyncSession, engagement_id: int) -> Contract | None:
    """The offered version waiting for acceptance, if any."""
    stmt = select(Contract).where(Contract.engagement_id == engagement_id, Contract.status == "offered")
    return (await session.execute(stmt.order_by(Contract.version.desc()).limit(1))).scalar_one_or_none()


async def get_contract_goals(session: AsyncSession, contract_id: int) -> list[ContractGoal]:
    stmt = select(ContractGoal).where(ContractGoal.contract_id == contract_id).order_by(ContractGoal.position)
    return list((await session.execute(stmt)).scalars())


async def get_acceptances(session: AsyncSession, contract_ids: list[int]) -> list[ContractAcceptance]:
    if not contract_ids:
        return []
    stmt = (select(ContractAcceptance).where(ContractAcceptance.contract_id.in_(contract_ids))
            .order_by(ContractAcceptance.accepted_at, ContractAcceptance.id))
    return list((await session.execute(stmt)).scalars())


async def get_contract_link(session: AsyncSession, digest: str) -> ContractLink | None:
    stmt = select(ContractLink).where(ContractLink.token_hash == digest)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_active_contract_link(session: AsyncSession, engagement_id: int, party: str,
                                   now: datetime) -> ContractLink | None:
    stmt = (
        select(ContractLink)
        .where(ContractLink.engagement_id == engagement_id, ContractLink.party == party,
               ContractLink.revoked_at.is_(None))
        .order_by(ContractLink.id.desc())
        .limit(1)
    )
    link = (await session.execute(stmt)).scalar_one_or_none()
    if link is not None and link.expires_at is not None and link.expires_at <= now:
        return None
    return link


async def get_sponsor(session: AsyncSession, engagement_id: int) -> SponsorContact | None:
    return await session.get(SponsorContact, engagement_id)


async def get_sponsor_summaries(session: AsyncSession, engagement_id: int, *,
                                statuses: tuple[str, ...] = ("waiting", "approved", "declined")) -> list[SponsorSummary]:
    """Newest first."""
    stmt = (select(SponsorSummary)
            .where(SponsorSummary.engagement_id == engagement_id, SponsorSummary.status.in_(statuses))
            .order_by(SponsorSummary.created_at.desc(), SponsorSummary.id.desc()))
    return list((await session.execute(stmt)).scalars())


async def get_template(session: AsyncSession, coach_id: int, language: str) -> ContractTemplate | None:
    stmt = select(ContractTemplate).where(ContractTemplate.coach_id == coach_id, ContractTemplate.language == language)
    return (await session.execute(stmt)).scalar_one_or_none()
