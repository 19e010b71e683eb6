"""Outgoing webhooks: deliveries per second to a local receiver, and what they add to the
chat's write path.

    .venv/bin/python bench/webhooks.py --db both --deliveries 1000 --messages 2000

1. Deliveries: ``--deliveries`` chat messages to a coach with one endpoint, delivered by
   one task runner (claim, build and sign the body, POST to an aiohttp receiver on
   loopback, record) until none is left; beside it, a bare aiohttp loop POSTing the same
   number of requests to the same receiver the same way (a new connection each, at the
   same concurrency). Both in this process.
2. The write path: ``--messages`` chat messages, each its own transaction (the write
   path's worst case: the exchange writer usually commits several at once), with no
   webhook hook at all, with the hook and no endpoint, and with the hook and three
   endpoints subscribed to the coachee's messages (three deliveries and three tasks per
   message). Commit latency per message.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime, timezone

import aiohttp
from aiohttp import web

from common import bench_database, summary  # type: ignore[import-not-found]

from ecoach.actions.coaches import do_add_coach  # noqa: E402
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.webhooks import check_endpoint, do_create_endpoint, stage_hook
from ecoach.core.clock import FixedClock
from ecoach.core.events import EventBus
from ecoach.core.hub import Hub
from ecoach.core.webhooks import EXCHANGE_IN
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.scheduler import webhooks as webhook_tasks
from ecoach.scheduler.registry import TaskRegistry
from ecoach.scheduler.runner import TaskRunner
from ecoach.settings import Settings

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
SECRET = "bench-secret-key"


class Receiver:
    def __init__(self) -> None:
        self.count = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        return web.Response(text="ok")

    async def start(self) -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def setup(url: str, endpoints: int, receiver_url: str, *, hook: bool = True):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    await migrate(engine)
    bus = EventBus(Hub())
    if hook:
        bus.add_stage_hook(stage_hook(FixedClock(NOW), lambda: None))
    sessions = session_factory(engine, bus)
    async with sessions() as session:
        coach = await do_add_coach(session, name="Bench", email=f"bench{time.monotonic_ns()}@example.org",
                                   password="bench password 1", language="en", time_zone="Europe/Amsterdam", now=NOW)
        engagement = (await do_create_engagement(session, coach, coachee_name="Sanne", now=NOW, secret=SECRET)).engagement
        for _ in range(endpoints):
            form = check_endpoint(receiver_url, [EXCHANGE_IN], "", False, Settings().webhooks.model_copy(
                update={"allow_private_addresses": True}))
            await do_create_endpoint(session, coach.id, form, settings=Settings().webhooks, secret_key=SECRET, now=NOW)
        await session.commit()
    return engine, sessions, engagement.id


async def write_messages(sessions, engagement_id: int, count: int, tag: str) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for n in range(count):
        item = NewExchange(engagement_id=engagement_id, channel="chat", direction="in", author="coachee",
                           author_name="Sanne", text=f"Bericht {n}", external_id=f"chat:{tag}-{n}")
        started = time.perf_counter()
        async with sessions() as session:
            await record_exchanges(session, [item], NOW)
            await session.commit()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def deliveries(backend: str, url: str, count: int) -> None:
    receiver = Receiver()
    site, port = await receiver.start()
    target = f"http://127.0.0.1:{port}/hook"
    engine, sessions, engagement_id = await setup(url, 1, target)
    await write_messages(sessions, engagement_id, count, "deliver")
    settings = Settings(database_url=url, secret_key=SECRET, webhooks={"allow_private_addresses": True},
                        scheduler={"enabled": False, "batch_size": 100})
    registry = TaskRegistry()
    webhook_tasks.register_tasks(registry)
    runner = TaskRunner(sessions, registry, settings, FixedClock(NOW))
    started = time.perf_counter()
    while await runner.run_once():
        pass
    took = time.perf_counter() - started
    assert receiver.count == count, receiver.count
    concurrency = 1 if backend == "sqlite" else settings.scheduler.concurrency
    bare = await bare_loop(target, count, concurrency)
    print(f"  deliveries: {count} in {took:6.2f} s = {count / took:7.0f}/s   "
          f"(bare aiohttp loop, {concurrency} at a time: {count / bare:7.0f}/s; ratio {bare / took:4.2f})")
    await engine.dispose()
    await site.cleanup()


async def bare_loop(target: str, count: int, concurrency: int) -> float:
    """POST ``count`` requests, a new connection each, ``concurrency`` at a time."""
    left = iter(range(count))

    async def worker() -> None:
        for _ in left:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as client:
                async with client.post(target, data=b"{}", headers={"Content-Type": "application/json"}) as r:
                    assert r.status == 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def write_path(url: str, count: int) -> None:
    receiver = Receiver()
    site, port = await receiver.start()
    target = f"http://127.0.0.1:{port}/hook"
    results = {}
    for label, endpoints, hook in (("no hook", 0, False), ("hook, 0 endpoints", 0, True),
                                   ("hook, 3 endpoints", 3, True)):
        engine, sessions, engagement_id = await setup(url, endpoints, target, hook=hook)
        await write_messages(sessions, engagement_id, 50, f"warm-{label}")  # warm up caches and the pool
        results[label] = await write_messages(sessions, engagement_id, count, label)
        await engine.dispose()
    base = statistics.fmean(results["no hook"])
    for label, times in results.items():
        added = statistics.fmean(times) - base
        print(f"  write path, {label:18s}: {summary(times)}   added {added:+6.3f} ms/message")
    await site.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for backend in backends:
        print(f"{backend}:")
        async with bench_database(backend, "bench_webhooks", args.postgres_url) as url:
            await deliveries(backend, url, args.deliveries)
            await write_path(url, args.messages)


if __name__ == "__main__":
    asyncio.run(main())
