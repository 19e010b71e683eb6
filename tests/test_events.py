"""One path for transactions and events: an action's events go out after its commit, to
this process and (PostgreSQL) to every other one, and never when it rolls back.

"Another process" here is a second event bus with its own hub, listening on its own
connection, exactly as a second ``ecoach serve`` does (tests/test_event_processes.py
runs the real thing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ecoach.actions.engagements import do_change_status, do_revoke_chat_links
from ecoach.actions.exchanges import NewExchange, exchange_event, record_exchanges
from ecoach.actions.unit import emit, on_commit, unit_of_work
from ecoach.core import topics
from ecoach.core.events import PAYLOAD_LIMIT, Event, EventBus, Remote, decode, encode, origin_of
from ecoach.core.hub import Hub, Subscription
from ecoach.core.tokens import token_digest
from ecoach.logbook.db import session_factory
from ecoach.logbook.models import Engagement
from ecoach.logbook.pg_events import APPLICATION_NAME, PgEventBus, asyncpg_dsn
from tests.dovecot import wait_until
from tests.conftest import fresh_keyring

PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


class Boom(Exception):
    pass


def heard(sub: Subscription) -> list[dict[str, Any]]:
    found = []
    while not sub.queue.empty():
        found.append(sub.queue.get_nowait())
    return found


@pytest.fixture
async def other(db_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[Hub, Any]]:
    """Another process's hub and sessions: on PostgreSQL a bus that listens for events,
    on SQLite (one process) one that hears only its own."""
    hub = Hub()
    if db_url.startswith("sqlite"):
        bus: EventBus = EventBus(hub)
    else:
        bus = PgEventBus(hub, db_url, ping_seconds=0.5, backoff_max=0.5)
        sessions = session_factory(engine, bus, fresh_keyring())

        async def exchange(exchange_id: int):  # type: ignore[no-untyped-def]
            async with sessions() as session:
                return await exchange_event(session, exchange_id)

        bus.add_resolver("exchange", exchange)
    await bus.start()
    try:
        yield hub, session_factory(engine, bus, fresh_keyring())
    finally:
        await bus.stop()


@pytest.fixture
async def pg_sessions(db_url: str, engine: AsyncEngine, hub: Hub) -> AsyncIterator[Any]:
    """This process's sessions: on PostgreSQL with the NOTIFY-sending bus."""
    if db_url.startswith("sqlite"):
        yield session_factory(engine, EventBus(hub), fresh_keyring())
        return
    bus = PgEventBus(hub, db_url)
    await bus.start()
    try:
        yield session_factory(engine, bus, fresh_keyring())
    finally:
        await bus.stop()


async def test_a_rolled_back_action_publishes_nothing(  # type: ignore[no-untyped-def]
    db_url, pg_sessions, hub, other, make_coach, make_engagement, clock
) -> None:
    other_hub, _ = other
    coach = await make_coach()
    created = await make_engagement(coach)
    eid = created.engagement.id
    link = topics.chat_link(token_digest(created.chat_token))
    here = hub.subscribe(topics.engagement(eid), link, topics.coach(coach.id))
    there = other_hub.subscribe(topics.engagement(eid), link, topics.coach(coach.id))
    called: list[str] = []

    with pytest.raises(Boom):
        async with unit_of_work(pg_sessions) as session:
            engagement = await session.get(Engagement, eid)
            await do_change_status(session, engagement, "pause", now=clock.now())
            await do_revoke_chat_links(session, engagement, now=clock.now())
            await record_exchanges(session, [NewExchange(eid, "chat", "in", "coachee", "Sanne", "Hoi", "chat:rolled-back-1")],
                                   clock.now())
            on_commit(session, lambda: called.append("rolled back"))
            raise Boom()
    # The same actions committed: heard here at once and there once NOTIFY arrives. Had
    # anything of the rolled-back transaction gone out, it would arrive before these.
    async with unit_of_work(pg_sessions) as session:
        engagement = await session.get(Engagement, eid)
        await do_change_status(session, engagement, "pause", now=clock.now())
        on_commit(session, lambda: called.append("committed"))
    assert [e["type"] for e in heard(here)] == ["status", "status"]  # engagement and coach topics
    assert called == ["committed"]
    if db_url.startswith("postgresql"):
        await wait_until(lambda: there.queue.qsize() >= 2)
        assert [(e["type"], e["status"]) for e in heard(there)] == [("status", "paused")] * 2
    else:
        assert heard(there) == []  # one process: nobody else to tell
    async with pg_sessions() as session:
        assert (await session.get(Engagement, eid)).status == "paused"


@PG_ONLY
async def test_every_kind_of_event_reaches_the_other_process(  # type: ignore[no-untyped-def]
    pg_sessions, hub, other, make_coach, make_engagement, clock
) -> None:
    """Revocations, status changes and exchanges (a long one by reference: NOTIFY carries
    under 8,000 bytes, so the receiver reads the row)."""
    other_hub, _ = other
    coach = await make_coach()
    created = await make_engagement(coach)
    eid = created.engagement.id
    link = topics.chat_link(token_digest(created.chat_token))
    there = other_hub.subscribe(topics.engagement(eid), link, topics.coach(coach.id))
    long_text = "Een lang verhaal. " * 1000  # about 18,000 characters
    async with unit_of_work(pg_sessions) as session:
        engagement = await session.get(Engagement, eid)
        await do_revoke_chat_links(session, engagement, now=clock.now())
        [short, long] = await record_exchanges(session, [
            NewExchange(eid, "chat", "in", "coachee", "Sanne", "Kort", "chat:short-one"),
            NewExchange(eid, "chat", "in", "coachee", "Sanne", long_text, "chat:long-one"),
        ], clock.now())
    await wait_until(lambda: there.queue.qsize() >= 5)
    events = heard(there)
    assert events[0] == {"type": "revoked"}
    exchanges = [e["exchange"] for e in events if e["type"] == "exchange"]
    assert [(x["id"], x["text"]) for x in exchanges] == [(short.exchange.id, "Kort"), (short.exchange.id, "Kort"),
                                                         (long.exchange.id, long_text), (long.exchange.id, long_text)]


@PG_ONLY
async def test_a_lost_listening_connection_makes_every_socket_resync(  # type: ignore[no-untyped-def]
    db_url, pg_sessions, other, make_coach, make_engagement, clock
) -> None:
    """Events sent while the connection was down are lost to LISTEN: so every subscriber
    is ended (its socket reconnects and reads the logbook), and events flow again."""
    other_hub, _ = other
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    before = other_hub.subscribe(topics.coach(coach.id))
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        killed = await conn.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE application_name = $1 AND datname = current_database()",
                                     APPLICATION_NAME)
    finally:
        await conn.close()
    assert killed == 2  # this process's listener and the other's
    await wait_until(lambda: not before.queue.empty())
    assert heard(before) == [None]  # the end marker: resync
    after = other_hub.subscribe(topics.coach(coach.id))
    async with unit_of_work(pg_sessions) as session:
        await do_change_status(session, await session.get(Engagement, eid), "close", now=clock.now())
    await wait_until(lambda: not after.queue.empty(), timeout=30)
    assert heard(after) == [{"type": "status", "engagement_id": eid, "status": "closed"}]


async def test_local_topics_stay_in_their_process(pg_sessions, hub, other) -> None:  # type: ignore[no-untyped-def]
    other_hub, _ = other
    woken: list[dict[str, Any]] = []
    hub.listen(topics.OUTBOX, woken.append)
    there: list[dict[str, Any]] = []
    other_hub.listen(topics.OUTBOX, there.append)
    async with unit_of_work(pg_sessions) as session:
        emit(session, topics.OUTBOX, {"type": "mail_queued"})
        emit(session, topics.coach(1), {"type": "marker"})
    marker = other_hub.subscribe(topics.coach(1))
    async with unit_of_work(pg_sessions) as session:
        emit(session, topics.coach(1), {"type": "marker"})
    if isinstance(pg_sessions.kw["info"]["ecoach.bus"], PgEventBus):
        await wait_until(lambda: not marker.queue.empty())  # the later event arrived: the local one never will
    assert woken == [{"type": "mail_queued"}] and there == []


def test_the_wire_form_stays_under_the_notify_limit() -> None:
    small = Event(("coach:1", "local:outbox"), {"type": "status", "status": "paused"})
    local = Event(("local:outbox",), {"type": "mail_queued"})
    [payload] = encode("p1", [small, local, small])  # one payload for a whole transaction
    assert origin_of(payload) == "p1"
    assert decode(payload) == [Remote(("coach:1",), small.data)] * 2
    big = Event(("engagement:2",), {"type": "exchange", "text": "x" * 10_000}, ref=("exchange", 42))
    unknown = Event(("engagement:2",), {"type": "notice", "text": "é" * 5000})  # 10,000 bytes, no reference
    many = [Event(("coach:1",), {"type": "exchange", "text": "y" * 1000, "n": n}) for n in range(20)]
    payloads = encode("p1", [big, unknown, *many])
    assert len(payloads) > 1 and all(len(p.encode()) <= PAYLOAD_LIMIT for p in payloads)
    remotes = [remote for p in payloads for remote in decode(p) or ()]
    assert remotes[0] == Remote(("engagement:2",), None, ("exchange", 42))  # read again by the receiver
    assert remotes[1] == Remote(("engagement:2",), None, None)  # the receiver resyncs these topics
    assert [r.data["n"] for r in remotes[2:]] == list(range(20))  # every one, in order
    assert decode("p1 not json") is None
