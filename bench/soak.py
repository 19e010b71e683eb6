"""Soak: 1,000 coachees chatting for ten minutes across two server processes.

    .venv/bin/python bench/soak.py [--clients 1000] [--minutes 10] [--interval 10]

Two ``ecoach serve`` on one PostgreSQL database (a throwaway cluster unless
``--database-url``): the coach's socket on A, the coachees' on B, so every message reaches
the coach over LISTEN/NOTIFY. Each coachee sends a message about every ``--interval``
seconds and waits for its ack. Prints the messages sent, acknowledged, stored (counted in
the database) and delivered to the coach (all equal), and both servers' RSS each minute
(target: flat within 10 % from the end of the first minute, once every socket is open and
the caches are warm, to the end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time

import aiohttp
import asyncpg

from chat_roundtrip import coach_socket, start_two_servers  # type: ignore[import-not-found]
from common import percentile, postgres_url  # type: ignore[import-not-found]
from idle_sockets import rss_mib  # type: ignore[import-not-found]


class Tally:
    def __init__(self) -> None:
        self.sent = self.acked = self.delivered = self.errors = 0
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []


async def coachee(n: int, ws: aiohttp.ClientWebSocketResponse, tally: Tally, interval: float, until: float) -> None:
    rnd = random.Random(n)
    await asyncio.sleep(rnd.uniform(0, interval))
    m = 0
    while time.monotonic() < until:
        client_id = f"soak-{n:05d}-{m:06d}"
        tally.sent_at[client_id] = time.perf_counter()
        await ws.send_str(json.dumps({"type": "message", "client_id": client_id, "text": f"soak {m} from {n}"}))
        tally.sent += 1
        while True:
            frame = json.loads((await ws.receive(timeout=120)).data)
            if frame.get("client_id") == client_id:
                if frame.get("type") == "ack":
                    tally.acked += 1
                else:
                    tally.errors += 1
                break
        m += 1
        await asyncio.sleep(rnd.uniform(0.5 * interval, 1.5 * interval))


async def soak(clients: int, minutes: float, interval: float, server_url: str) -> None:
    db_url, tokens, servers = await start_two_servers(server_url, "bench_soak", clients, "on")
    a, b = servers
    pids = [s.proc.pid for s in servers if s.proc]
    tally = Tally()
    rss: list[tuple[float, list[float]]] = [(0.0, [rss_mib(p) for p in pids])]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            coach = await coach_socket(http, a.url, login=True)

            async def observe() -> None:
                async for msg in coach:
                    frame = json.loads(msg.data)
                    if frame.get("type") == "exchange":
                        sent = tally.sent_at.pop(frame["exchange"].get("client_id"), None)
                        if sent is not None:
                            tally.delivered += 1
                            tally.latencies.append((time.perf_counter() - sent) * 1000)

            observer = asyncio.create_task(observe())
            where = b.url.replace("http://", "ws://")
            gate = asyncio.Semaphore(100)

            async def connect(token: str) -> aiohttp.ClientWebSocketResponse:
                async with gate:
                    return await http.ws_connect(f"{where}/c/{token}/ws")

            sockets = await asyncio.gather(*(connect(t) for t in tokens))
            started = time.monotonic()
            until = started + minutes * 60
            load = asyncio.gather(*(coachee(n, ws, tally, interval, until) for n, ws in enumerate(sockets)))
            while not load.done():
                await asyncio.wait([load], timeout=60)
                rss.append(((time.monotonic() - started) / 60, [rss_mib(p) for p in pids]))
                print(f"  {rss[-1][0]:5.1f} min: sent {tally.sent}, delivered {tally.delivered}, RSS "
                      + ", ".join(f"{x:.0f}" for x in rss[-1][1]) + " MiB", flush=True)
            load.result()
            deadline = time.monotonic() + 30
            while tally.delivered < tally.acked and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            observer.cancel()
            for ws in sockets:
                await ws.close()
    finally:
        for server in servers:
            server.stop()
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        stored = await conn.fetchval("SELECT count(*) FROM exchange WHERE external_id LIKE 'chat:soak-%'")
        distinct = await conn.fetchval("SELECT count(DISTINCT external_id) FROM exchange WHERE external_id LIKE 'chat:soak-%'")
    finally:
        await conn.close()
    print(f"  messages sent {tally.sent}, acknowledged {tally.acked}, stored {stored} ({distinct} distinct), "
          f"delivered to the coach {tally.delivered}, refused {tally.errors}"
          + ("  - all equal" if tally.sent == tally.acked == stored == distinct == tally.delivered else "  - NOT EQUAL"))
    print(f"  delivery p50 {percentile(tally.latencies, 50):.1f} ms   p99 {percentile(tally.latencies, 99):.1f} ms")
    start = rss[1][1] if len(rss) > 2 else rss[0][1]
    end = rss[-1][1]
    for name, s0, s1 in zip(("A (coach)", "B (coachees)"), start, end):
        print(f"  server {name}: RSS at launch {rss[0][1][0 if name.startswith('A') else 1]:.0f} MiB, after the first "
              f"minute {s0:.0f} MiB, at the end {s1:.0f} MiB ({s1 / s0 - 1:+.1%}; target within 10 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between one coachee's messages")
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+asyncpg://.../postgres)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(65536, 4 * args.clients)), hard))
    server_url, stop = postgres_url(args.database_url)
    try:
        print(f"\n{args.clients} clients for {args.minutes:g} minutes across two processes "
              f"(about {args.clients / args.interval:.0f} msg/s)", flush=True)
        asyncio.run(soak(args.clients, args.minutes, args.interval, server_url))
    finally:
        stop()


if __name__ == "__main__":
    main()
