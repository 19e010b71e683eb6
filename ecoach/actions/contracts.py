"""Contract versions: draft, save, offer, discard; a new version from the current one.

A version is edited only while it is a draft (one draft per engagement at a time). Offering
freezes it, records its fingerprint, and marks older offered versions superseded; the
parties then accept it through their personal links (``contract_accept``). Every change
emits a ``{"type": "contract", "action": ...}`` event on the coach's topic: the coach's
open pages hear it, and the audit log hooks in there (``ecoach.core.events.add_stage_hook``
sees the event inside the transaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.contract_checks import GoalInput, TermsInput
from ecoach.actions.errors import Conflict, N_, NotFound
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.contract_terms import fingerprint, merged_terms
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import Contract, ContractGoal, Goal, GoalScore
from ecoach.logbook.models import Engagement

log = logging.getLogger(__name__)


def emit_contract(session: AsyncSession, engagement: Engagement, action: str, contract: Contract | None,
                  **extra: Any) -> None:
    """The contract event (ids only, never words): live pages and the audit hook."""
    data = {"type": "contract", "action": action, "engagement_id": engagement.id,
            "contract_id": contract.id if contract else None, "version": contract.version if contract else None,
            **extra}
    emit(session, topics.coach(engagement.coach_id), data)


async def do_new_contract_version(session: AsyncSession, engagement: Engagement, *, now: datetime) -> Contract:
    """A draft: a copy of the newest version (same goals, each with its latest score), or
    for a first contract the coach's template. The existing draft when there is one."""
    draft = await cq.get_draft(session, engagement.id)
    if draft is not None:
        return draft
    versions = await cq.get_contracts(session, engagement.id)
    if versions:
        contract = _copy(versions[0], now)
    else:
        contract = await _from_template(session, engagement, now)
    try:
        async with session.begin_nested():
            session.add(contract)
            await session.flush()
    except IntegrityError:
        raise Conflict("contract_changed", N_("The contract was changed at the same time elsewhere; "
                                              "reload the page.")) from None
    if versions:
        await _copy_goals(session, versions[0], contract)
    emit_contract(session, engagement, "drafted", contract)
    log.info("engagement %s: contract version %s drafted", engagement.id, contract.version)
    return contract


def _copy(newest: Contract, now: datetime) -> Contract:
    return Contract(engagement_id=newest.engagement_id, version=newest.version + 1, status="draft",
                    language=newest.language, triangular=newest.triangular, sponsor_sees=newest.sponsor_sees,
                    sponsor_sees_goals=newest.sponsor_sees_goals, terms=dict(newest.terms),
                    created_at=now, updated_at=now)


async def _copy_goals(session: AsyncSession, newest: Contract, draft: Contract) -> None:
    goals = await cq.get_contract_goals(session, newest.id)
    latest = await cq.get_latest_scores(session, newest.engagement_id, [g.goal_id for g in goals])
    session.add_all(
        ContractGoal(contract_id=draft.id, goal_id=g.goal_id, engagement_id=g.engagement_id, position=g.position,
                     title=g.title, indicators=list(g.indicators),
                     score=latest[g.goal_id].score if g.goal_id in latest else g.score)
        for g in goals
    )
    await session.flush()


async def _from_template(session: AsyncSession, engagement: Engagement, now: datetime) -> Contract:
    template = await cq.get_template(session, engagement.coach_id, engagement.language)
    sponsor = await cq.get_sponsor(session, engagement.id)
    return Contract(engagement_id=engagement.id, version=1, status="draft", language=engagement.language,
                    triangular=sponsor is not None,
                    sponsor_sees=template.sponsor_sees if template else "attendance", sponsor_sees_goals=False,
                    terms=merged_terms(template.terms if template else None, engagement.language),
                    created_at=now, updated_at=now)


def _check_draft(contract: Contract) -> None:
    if contract.status != "draft":
        raise Conflict("contract_frozen", N_("Version %(version)s has been offered and can no longer be changed; "
                                             "make a new version instead."), version=contract.version)


async def do_save_draft(session: AsyncSession, engagement: Engagement, contract: Contract, terms: TermsInput,
                        goals: list[GoalInput], *, now: datetime) -> Contract:
    """The draft's words and goals (checked by ``contract_checks``). A goal keeps its id
    when the form carries it; a new goal gets a new one."""
    _check_draft(contract)
    known = set((await session.execute(select(Goal.id).where(Goal.engagement_id == engagement.id))).scalars())
    await session.execute(delete(ContractGoal).where(ContractGoal.contract_id == contract.id))
    used: set[int] = set()
    for position, goal in enumerate(goals, start=1):
        goal_id = goal.goal_id if goal.goal_id in known and goal.goal_id not in used else None
        if goal_id is None:
            made = Goal(engagement_id=engagement.id, created_at=now)
            session.add(made)
            await session.flush()
            goal_id = made.id
        used.add(goal_id)
        session.add(ContractGoal(contract_id=contract.id, goal_id=goal_id, engagement_id=engagement.id,
                                 position=position, title=goal.title, indicators=list(goal.indicators),
                                 score=goal.score))
    contract.terms = terms.terms
    contract.triangular, contract.sponsor_sees = terms.triangular, terms.sponsor_sees
    contract.sponsor_sees_goals, contract.updated_at = terms.sponsor_sees_goals, now
    await session.flush()
    await _drop_unused_goals(session, engagement.id)
    emit_contract(session, engagement, "saved", contract)
    return contract


async def _drop_unused_goals(session: AsyncSession, engagement_id: int) -> None:
    """Goals a draft made and then dropped (in no version, never scored)."""
    in_use = select(ContractGoal.goal_id).where(ContractGoal.engagement_id == engagement_id)
    scored = select(GoalScore.goal_id).where(GoalScore.engagement_id == engagement_id)
    await session.execute(delete(Goal).where(Goal.engagement_id == engagement_id, Goal.id.not_in(in_use),
                                             Goal.id.not_in(scored)))


async def do_discard_draft(session: AsyncSession, engagement: Engagement, contract: Contract) -> None:
    _check_draft(contract)
    await session.execute(delete(ContractGoal).where(ContractGoal.contract_id == contract.id))
    await session.delete(contract)
    await session.flush()
    await _drop_unused_goals(session, engagement.id)
    emit_contract(session, engagement, "discarded", None, version=contract.version)


@dataclass(frozen=True)
class Offered:
    contract: Contract
    goals: list[ContractGoal]


async def do_offer_contract(session: AsyncSession, engagement: Engagement, contract: Contract, *,
                            now: datetime) -> Offered:
    """Freeze the draft and put it before the parties; older offers are superseded (their
    acceptance is no longer possible). The caller sends the parties their links."""
    _check_draft(contract)
    goals = await cq.get_contract_goals(session, contract.id)
    if not goals:
        raise Conflict("contract_no_goals", N_("Add at least one goal before you offer the contract."))
    if contract.triangular and await cq.get_sponsor(session, engagement.id) is None:
        raise Conflict("contract_no_sponsor", N_("A triangular contract needs the sponsor's organisation and "
                                                 "name: fill in the sponsor contact first."))
    await session.execute(
        update(Contract).where(Contract.engagement_id == engagement.id, Contract.status == "offered")
        .values(status="superseded", superseded_at=now).execution_options(synchronize_session="fetch"))
    contract.status, contract.offered_at, contract.updated_at = "offered", now, now
    contract.fingerprint = version_fingerprint(contract, goals)
    await session.flush()
    emit_contract(session, engagement, "offered", contract)
    log.info("engagement %s: contract version %s offered", engagement.id, contract.version)
    return Offered(contract, goals)


def version_fingerprint(contract: Contract, goals: list[ContractGoal]) -> str:
    return fingerprint(version=contract.version, language=contract.language, terms=contract.terms,
                       goals=[{"title": g.title, "indicators": g.indicators, "score": g.score} for g in goals],
                       triangular=contract.triangular, sponsor_sees=contract.sponsor_sees,
                       sponsor_sees_goals=contract.sponsor_sees_goals)


async def get_owned_contract(session: AsyncSession, engagement: Engagement, version: int) -> Contract:
    contract = await cq.get_contract(session, engagement.id, version)
    if contract is None:
        raise NotFound("contract_unknown", N_("This contract version does not exist."))
    return contract
