"""The demo data of ``./run``: complete, working links, and safe to create again."""

from __future__ import annotations

from sqlalchemy import func, select

from ecoach.actions.engagements import check_chat_token
from ecoach.actions.unit import unit_of_work
from ecoach.actions.session_types import check_booking_link
from ecoach.demo import ensure_demo
from ecoach.logbook.booking_models import SessionType
from ecoach.logbook.models import Engagement, Exchange

SECRET = "demo-test-secret"


async def _counts(sessions) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return tuple([(await session.execute(select(func.count()).select_from(model))).scalar_one()
                      for model in (Engagement, Exchange, SessionType)])  # type: ignore[return-value]


async def test_demo_links_work_and_a_second_run_adds_nothing(sessions, clock) -> None:  # type: ignore[no-untyped-def]
    async with unit_of_work(sessions) as session:
        first = await ensure_demo(session, SECRET, clock.now())
    counts = await _counts(sessions)
    assert counts[0] == 3 and counts[1] >= 6 and counts[2] == 1
    async with unit_of_work(sessions) as session:
        again = await ensure_demo(session, SECRET, clock.now())
    assert await _counts(sessions) == counts
    assert again.links == first.links and again.booking == first.booking
    async with sessions() as session:
        for _name, token in first.links:
            await check_chat_token(session, token, clock.now())
        engagements = [(await check_booking_link(session, token, clock.now()))[1] for _name, token in first.booking]
    assert engagements[0] is None  # the public intake page
    assert engagements[1] is not None
