"""The goals the session structure asks about, and the scores it records: the one place
where check-ins, reviews, evaluations and the progress chart meet the contract's goals
model (``ecoach.logbook.contract_queries``, ``ecoach.actions.goals``).

The goals asked about are those of the contract version in force; a goal keeps its id
across versions, so its scores form one line on the chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.contracts import do_new_contract_version
from ecoach.actions.goals import do_record_goal_scores
from ecoach.core.session_forms import Goal
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.models import Engagement

# Our names for where a score comes from -> the goals model's sources. The evaluation is
# the coachee's own look back, so it counts as the coachee's update.
SOURCES = {"checkin": "check_in", "review": "review", "coachee": "coachee", "evaluation": "coachee"}


@dataclass(frozen=True)
class Score:
    goal_id: int
    at: datetime
    score: int
    source: str  # the goals model's source: contract, check_in, review, coachee


async def current_goals(session: AsyncSession, engagement: Engagement) -> list[Goal]:
    """The goals of the contract version in force, in contract order (two indexed
    queries: without the latest scores, which ``cq.get_current_goals`` adds)."""
    contract = await cq.get_contract_in_force(session, engagement.id)
    if contract is None:
        return []
    return [Goal(g.goal_id, g.title) for g in await cq.get_contract_goals(session, contract.id)]


async def record_scores(session: AsyncSession, engagement: Engagement, scores: Mapping[int, int], *, source: str,
                        now: datetime, source_id: int | None = None) -> None:
    """One score per goal (``{goal id: 1-10}``), in the caller's transaction."""
    if scores:
        await do_record_goal_scores(session, engagement.id, dict(scores), source=SOURCES[source], now=now,
                                    source_id=source_id)


async def score_history(session: AsyncSession, engagement: Engagement, goals: list[Goal] | None = None
                        ) -> list[tuple[Goal, list[Score]]]:
    """Each current goal (``goals``, when the caller has them) with all its scores, oldest
    first: one indexed query more."""
    goals = await current_goals(session, engagement) if goals is None else goals
    if not goals:
        return []
    by_goal: dict[int, list[Score]] = {g.id: [] for g in goals}
    for row in await cq.get_goal_scores(session, engagement.id, list(by_goal)):
        by_goal[row.goal_id].append(Score(row.goal_id, row.recorded_at, int(row.score), row.source))
    return [(g, by_goal[g.id]) for g in goals]


async def do_adjust_goals(session: AsyncSession, engagement: Engagement, *, now: datetime) -> str:
    """A review decided to adjust the goals: a new contract version (a draft, from the
    version in force with the latest scores) for the coach to edit and offer; returns the
    page where that happens."""
    await do_new_contract_version(session, engagement, now=now)
    return adjust_url(engagement)


def adjust_url(engagement: Engagement) -> str:
    """The contract page of the engagement (from the contract work)."""
    return f"/engagements/{engagement.id}/contract"
