"""Goal scores: every score of a contract goal on the 1-10 scale, with its source.

Check-ins, reviews and the coachee's own updates record scores here; accepting a contract
version records its starting scores (source ``contract``). A score is kept for a goal of
the version in force only (``contract_queries.get_current_goals``): a goal dropped from
the contract takes no new scores.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.core.contract_terms import SCORE_MAX, SCORE_MIN
from ecoach.core.inputs import parse_int
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import SCORE_SOURCES, GoalScore

log = logging.getLogger(__name__)


def check_score(value: Any) -> int:
    """A whole number from 1 to 10 (an int, or its digits as text)."""
    number = parse_int(value.strip() if isinstance(value, str) else value, low=SCORE_MIN, high=SCORE_MAX)
    if number is None:
        raise ActionError("score_invalid", N_("A score is a whole number from %(low)s to %(high)s."),
                          low=SCORE_MIN, high=SCORE_MAX)
    return number


def check_source(source: str) -> str:
    if source not in SCORE_SOURCES:
        raise ValueError(f"goal score source must be one of {SCORE_SOURCES}, not {source!r}")
    return source


async def do_record_goal_scores(
    session: AsyncSession, engagement_id: int, scores: Mapping[int, Any], *, source: str, now: datetime,
    source_id: int | None = None,
) -> list[GoalScore]:
    """Record one score per goal (``{goal_id: score}``) of the version in force, in the
    caller's transaction. Refuses the whole set, with the reason, when a goal is not in the
    version in force or a score is not 1-10."""
    check_source(source)
    current = {g.goal_id: g for g in await cq.get_current_goals(session, engagement_id)}
    rows = []
    for goal_id, value in scores.items():
        goal = current.get(goal_id)
        if goal is None:
            raise NotFound("goal_unknown", N_("This goal is not part of the contract in force."))
        rows.append(GoalScore(engagement_id=engagement_id, goal_id=goal_id, contract_id=goal.contract_id,
                              score=check_score(value), source=source, source_id=source_id, recorded_at=now))
    session.add_all(rows)
    await session.flush()
    log.info("engagement %s: %d goal score(s) from %s", engagement_id, len(rows), source)
    return rows


async def do_record_goal_score(
    session: AsyncSession, engagement_id: int, goal_id: int, score: Any, *, source: str, now: datetime,
    source_id: int | None = None,
) -> GoalScore:
    """One score of one goal of the version in force (see ``do_record_goal_scores``)."""
    [row] = await do_record_goal_scores(session, engagement_id, {goal_id: score}, source=source, now=now,
                                        source_id=source_id)
    return row
