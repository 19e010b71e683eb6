"""The goals the session structure asks about, and the scores it records: the one place
where check-ins, reviews, evaluations and the progress chart meet the contract's goals
model (``ecoach.logbook`` goals, from the contract work).

Until that model is merged, an engagement has no goals: forms ask no goal scores and the
progress chart stays empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.session_forms import Goal
from ecoach.logbook.models import Engagement


@dataclass(frozen=True)
class Score:
    goal_id: int
    at: datetime
    score: int
    source: str


async def current_goals(session: AsyncSession, engagement: Engagement) -> list[Goal]:
    return []


async def record_scores(session: AsyncSession, engagement: Engagement, scores: Mapping[int, int], *, source: str,
                        now: datetime, exchange_id: int | None = None) -> None:
    return None


async def score_history(session: AsyncSession, engagement: Engagement) -> list[tuple[Goal, list[Score]]]:
    return []


def adjust_url(engagement: Engagement) -> str | None:
    """Where the coach adjusts the goals (a new contract version); None without a contract page."""
    return None
