"""An engagement's details after it started: the coachee's name, address, language and
time zone (a coachee moves, or gets a new address), and the coach's own profile."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import nudges as plans
from ecoach.actions.coaches import check_email, check_language, check_name, check_time_zone
from ecoach.logbook import nudge_queries
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Details:
    name: str
    email: str | None
    language: str
    time_zone: str


def check_details(form: dict[str, str]) -> Details:
    return Details(name=check_name(form.get("coachee_name", "")),
                   email=check_email(form.get("coachee_email", ""), required=False),
                   language=check_language(form.get("language", "")),
                   time_zone=check_time_zone(form.get("time_zone", "")))


async def do_update_details(session: AsyncSession, engagement: Engagement, details: Details, *,
                            settings: Settings, now: datetime) -> Engagement:
    """Write the new details. Nudges already planned move to the same local time in a new
    zone; texts from now on use the new language."""
    coachee = await session.get(Coachee, engagement.coachee_id)
    assert coachee is not None  # foreign key
    moved = details.time_zone != engagement.time_zone
    coachee.name, coachee.email, coachee.language = details.name, details.email, details.language
    engagement.language, engagement.time_zone = details.language, details.time_zone
    await session.flush()
    if moved and (plan := await nudge_queries.get_plan(session, engagement.id)) is not None:
        await plans.do_replan(session, plan, engagement, settings=settings, now=now)
    log.info("engagement %s: details changed", engagement.id)
    return engagement


def check_profile(form: dict[str, str]) -> tuple[str, str, str]:
    return (check_name(form.get("name", "")), check_language(form.get("language", "")),
            check_time_zone(form.get("time_zone", "")))


async def do_update_profile(session: AsyncSession, coach_id: int, profile: tuple[str, str, str]) -> Coach:
    """The coach's own name, language and time zone (their pages, mails and agenda)."""
    coach = await session.get(Coach, coach_id)
    assert coach is not None
    coach.name, coach.language, coach.time_zone = profile
    await session.flush()
    log.info("coach %s: profile changed", coach_id)
    return coach
