"""The process's cache of commitment policies and working calendars (on both databases).

The chat's write path reads a coachee's policy and the coach's calendar from the cache;
a change to availability, agreements or a coach's time zone, committed through any
session, is seen by the next message; a rolled-back change keeps the cache; a read that
overlapped a change is not kept; an engagement handed over is read again. (Across two
server processes: tests/test_event_processes.py.)
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ecoach.actions.availability import check_agreement, do_add_windows, do_save_coach_agreement, \
    do_save_engagement_agreement
from ecoach.actions.coach_admin import do_deactivate, do_hand_over
from ecoach.actions.engagement_details import do_update_profile
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.unit import unit_of_work
from ecoach.core import topics
from ecoach.core.agreements import Policy
from ecoach.core.events import EventBus
from ecoach.logbook.agreement_cache import WATCH, AgreementCache
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.db import session_factory

UTC = timezone.utc
numbers = itertools.count(1)


@pytest.fixture
def cache() -> AgreementCache:
    return AgreementCache()


@pytest.fixture
def cached(engine, hub, keyring, cache):  # type: ignore[no-untyped-def]
    """Sessions as the server makes them: with the event bus and the cache, which forgets
    when an ``agreements`` event reaches the hub."""
    WATCH.listen(hub, cache)
    return session_factory(engine, EventBus(hub), keyring, cache)


async def chat(sessions, engagement_id: int, now: datetime) -> datetime:  # type: ignore[no-untyped-def]
    """A coachee's chat message, recorded as the writer records it; its commitment's due time."""
    item = NewExchange(engagement_id, "chat", "in", "coachee", "Sanne", "Hallo", f"chat:cache-{next(numbers):06d}")
    async with unit_of_work(sessions) as session:
        [recorded] = await record_exchanges(session, [item], now)
    async with sessions() as session:
        return (await session.execute(select(Commitment.due_at).where(
            Commitment.exchange_id == recorded.exchange.id))).scalar_one()


def agreement(chat_hours: int) -> dict[str, object]:
    return check_agreement({"mail_amount": "2", "mail_unit": "days", "chat_amount": str(chat_hours),
                            "chat_unit": "hours", "remind_minutes": "0"}, inherit=False)


async def test_a_change_is_seen_by_the_next_message_and_nothing_is_read_in_between(  # type: ignore[no-untyped-def]
    cached, cache, sessions, make_coach, make_engagement, clock
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    now = clock.now()  # Wednesday 10:00 in Amsterdam: office hours
    assert await chat(cached, eid, now) == now + timedelta(hours=4)  # the default: 4 working hours
    assert await chat(cached, eid, now) == now + timedelta(hours=4)
    assert cache.reads == 1  # the second message read nothing
    # Changed through sessions of another factory (as a command or another area would): this
    # process's caches forget all the same.
    async with unit_of_work(sessions) as session:
        await do_save_coach_agreement(session, coach.id, agreement(1), now)
    assert await chat(cached, eid, now) == now + timedelta(hours=1)
    async with unit_of_work(cached) as session:
        await do_save_engagement_agreement(session, eid, {**agreement(2)}, now)
    assert await chat(cached, eid, now) == now + timedelta(hours=2)
    assert cache.reads == 3


async def test_a_change_of_windows_or_time_zone_is_seen_by_the_next_message(  # type: ignore[no-untyped-def]
    cached, cache, make_coach, make_engagement, clock
) -> None:
    coach = await make_coach(time_zone="Europe/Amsterdam")
    eid = (await make_engagement(coach)).engagement.id
    now = clock.now()  # Wednesday 25 November, 09:00 UTC = 10:00 in Amsterdam
    assert await chat(cached, eid, now) == now + timedelta(hours=4)
    async with unit_of_work(cached) as session:  # chat only on Wednesdays 10:00-12:00
        await do_add_windows(session, coach.id, channel="chat", weekdays=["2"], start="10:00", end="12:00", now=now)
    # Two hours today, two next Wednesday.
    assert await chat(cached, eid, now) == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    async with unit_of_work(cached) as session:  # the same windows, in London: 10:00 there is 10:00 UTC
        await do_update_profile(session, coach.id, (coach.name, coach.language, "Europe/London"))
    assert await chat(cached, eid, now) == datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert cache.reads == 3


async def test_a_rolled_back_change_keeps_the_cache(  # type: ignore[no-untyped-def]
    cached, cache, make_coach, make_engagement, clock
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    await chat(cached, eid, clock.now())
    generation = cache.generation
    with pytest.raises(RuntimeError):
        async with unit_of_work(cached) as session:
            await do_save_coach_agreement(session, coach.id, agreement(1), clock.now())
            raise RuntimeError("changed my mind")
    assert cache.generation == generation
    assert await chat(cached, eid, clock.now()) == clock.now() + timedelta(hours=4)
    assert cache.reads == 1


async def test_an_engagement_handed_over_follows_its_new_coach(  # type: ignore[no-untyped-def]
    cached, cache, make_coach, make_engagement, clock
) -> None:
    first, second = await make_coach(), await make_coach()
    async with unit_of_work(cached) as session:
        await do_save_coach_agreement(session, second.id, agreement(1), clock.now())
    eid = (await make_engagement(first)).engagement.id
    assert await chat(cached, eid, clock.now()) == clock.now() + timedelta(hours=4)
    generation = cache.generation
    async with unit_of_work(cached) as session:
        await do_deactivate(session, None, first.id, now=clock.now())
        await do_hand_over(session, first.id, second.id, now=clock.now())
    assert cache.generation == generation  # nothing the cache holds changed: it is kept
    assert await chat(cached, eid, clock.now()) == clock.now() + timedelta(hours=1)


def test_a_read_that_overlapped_a_change_is_not_kept() -> None:
    cache = AgreementCache(max_age=60, clock=lambda: 0.0)
    generation = cache.generation
    cache.forget()  # a change committed while the policies were read
    cache.keep(generation, {7: (1, Policy(chat_amount=1))}, {}, 0.0)
    assert cache.policy(7, 1, 0.0) is None
    cache.keep(cache.generation, {7: (1, Policy(chat_amount=1))}, {}, 0.0)
    assert cache.policy(7, 1, 0.0) == Policy(chat_amount=1)
    assert cache.policy(7, 2, 0.0) is None  # handed to another coach
    assert cache.policy(7, 1, 61.0) is None  # too old: read again


def test_a_resync_of_the_event_listener_forgets(hub) -> None:  # type: ignore[no-untyped-def]
    cache = AgreementCache(clock=lambda: 0.0)
    WATCH.listen(hub, cache)
    cache.keep(cache.generation, {7: (1, Policy())}, {}, 0.0)
    hub.resync([topics.coach(1)])
    assert cache.policy(7, 1, 0.0) == Policy()
    hub.resync()  # the listener came back: anything may have been missed
    assert cache.policy(7, 1, 0.0) is None
