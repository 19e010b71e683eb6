"""The process's copy of which coaches have webhook endpoints (on both databases): a
chat message of a coach without endpoints costs no statement in the webhooks' stage hook;
an endpoint added, turned off or removed through any session is seen by the next event;
a delivery's outcome noted on the endpoint keeps the copy."""

from __future__ import annotations

import itertools

from sqlalchemy import event, func, select

from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.unit import unit_of_work
from ecoach.actions.webhooks import check_endpoint, do_create_endpoint, do_set_enabled, stage_hook
from ecoach.core.events import EventBus
from ecoach.core.webhooks import EXCHANGE_IN
from ecoach.logbook.db import session_factory
from ecoach.logbook.webhook_cache import WATCH, EndpointCoaches
from ecoach.logbook.webhook_models import WebhookDelivery, WebhookEndpoint
from ecoach.settings import WebhookSettings

SECRET = "test-secret-key-of-enough-length"
numbers = itertools.count(1)


async def chat(sessions, engagement_id: int, now) -> None:  # type: ignore[no-untyped-def]
    item = NewExchange(engagement_id, "chat", "in", "coachee", "Sanne", "Hallo", f"chat:hook-{next(numbers):06d}")
    async with unit_of_work(sessions) as session:
        await record_exchanges(session, [item], now)


async def deliveries(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar_one()


async def test_the_stage_hook_reads_endpoints_only_after_a_change(  # type: ignore[no-untyped-def]
    engine, hub, keyring, sessions, make_coach, make_engagement, clock
) -> None:
    coaches = EndpointCoaches()
    WATCH.listen(hub, coaches)
    bus = EventBus(hub)
    bus.add_stage_hook(stage_hook(clock, lambda: None, coaches))
    cached = session_factory(engine, bus, keyring)
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    await chat(cached, eid, clock.now())
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    await chat(cached, eid, clock.now())
    assert not [s for s in statements if "webhook_endpoint" in s]  # nobody has an endpoint: no statement
    assert coaches.reads == 1
    # Added through sessions of another factory: this process's copy forgets all the same.
    form = check_endpoint("https://hooks.example.org/in", [EXCHANGE_IN], "", False, WebhookSettings())
    async with unit_of_work(sessions) as session:
        endpoint, _ = await do_create_endpoint(session, coach.id, form, settings=WebhookSettings(),
                                               secret_key=SECRET, now=clock.now())
    await chat(cached, eid, clock.now())
    assert await deliveries(cached) == 1
    generation = coaches.generation
    async with unit_of_work(cached) as session:  # a delivery's outcome noted on the endpoint: kept
        (await session.get(WebhookEndpoint, endpoint.id)).last_result = "200 OK"
    assert coaches.generation == generation
    async with unit_of_work(cached) as session:
        await do_set_enabled(session, coach.id, endpoint.id, False, now=clock.now())
    await chat(cached, eid, clock.now())
    assert await deliveries(cached) == 1
    async with unit_of_work(cached) as session:
        await do_set_enabled(session, coach.id, endpoint.id, True, now=clock.now())
    await chat(cached, eid, clock.now())
    assert await deliveries(cached) == 2
    async with unit_of_work(cached) as session:  # removed (as erasing the coach would)
        await session.delete(await session.get(WebhookEndpoint, endpoint.id))
    await chat(cached, eid, clock.now())
    assert await deliveries(cached) == 0  # its deliveries went with it; none new
    assert coaches.reads == 5
