"""Idle coachee chat sockets: what each costs a real ``ecoach serve``, and whether the server
stays responsive while they are open.

    .venv/bin/python bench/idle_sockets.py [--sockets 10000] [--postgres]

Opens ``--sockets`` coachee websockets (one per engagement, each with its chat link, as
10,000 coachees with the chat open would) and leaves them idle. Prints the server's RSS
before and after, the RSS per socket (target: the whole server under 1 GiB at 10,000),
and /healthz latency (polled every 10 ms from its own process) while they are open.

All clients come from 127.0.0.1, so the per-address socket, connection and handshake
limits (meant for one visitor each) are lifted by settings, as behind a proxy; the bench
raises its own file-descriptor limit (the server inherits it).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from chat_roundtrip import LIFTED, create_engagements, encryption_env, fresh_postgres  # type: ignore[import-not-found]
from common import HealthPoller, percentile, postgres_url  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def open_sockets(base: str, tokens: list[str], parallel: int) -> tuple[list, aiohttp.ClientSession, float]:  # type: ignore[type-arg]
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    gate = asyncio.Semaphore(parallel)
    url = base.replace("http://", "ws://")

    async def one(token: str):  # type: ignore[no-untyped-def]
        async with gate:
            # No client heartbeat: idle means idle (the server pings every 30 s itself).
            return await http.ws_connect(f"{url}/c/{token}/ws", autoping=True)

    started = time.perf_counter()
    sockets = await asyncio.gather(*(one(t) for t in tokens))
    return sockets, http, time.perf_counter() - started


async def bench(count: int, hold: float, server_url: str | None, parallel: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="ecoach-idle-"))
    db_url = (await fresh_postgres(server_url, "bench_idle") if server_url
              else f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    env = encryption_env("on")
    started = time.perf_counter()
    tokens = await create_engagements(db_url, count, env)
    print(f"  {count} engagements with chat links made in {time.perf_counter() - started:.0f} s", flush=True)
    server = ServerProcess(workdir, db_url, **LIFTED, **env)
    server.start()
    try:
        assert server.proc is not None
        pid = server.proc.pid
        with HealthPoller(server.url) as idle_poll:
            await asyncio.sleep(3)
            baseline_ms = idle_poll.samples()
        before = rss_mib(pid)
        with HealthPoller(server.url) as poller:
            sockets, http, took = await open_sockets(server.url, tokens, parallel)
            opened_ms = poller.samples()
        with HealthPoller(server.url) as poller:
            await asyncio.sleep(hold)
            held_ms = poller.samples()
        after = rss_mib(pid)
        still = sum(1 for ws in sockets if not ws.closed)
        per = (after - before) * 1024 / max(count, 1)
        print(f"  opened {count} sockets in {took:.1f} s; {still} still open after {hold:g} s idle")
        print(f"  server RSS {before:.0f} MiB before, {after:.0f} MiB with them open: {per:.1f} KiB per socket "
              f"(target: the whole server under 1024 MiB{' - met' if after < 1024 else ' - MISSED'})")
        for name, values in (("before, no sockets", baseline_ms), ("while opening", opened_ms),
                             (f"{count} idle sockets open", held_ms)):
            print(f"  /healthz {name:24s} p50 {percentile(values, 50):6.2f} ms   p99 {percentile(values, 99):6.2f} ms"
                  f"   ({len(values)} requests)")
        for ws in sockets:
            await ws.close()
        await http.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--hold", type=float, default=20.0, help="seconds to keep them open while /healthz is polled")
    parser.add_argument("--parallel", type=int, default=200, help="handshakes in flight at once")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL cluster (default SQLite)")
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+asyncpg://.../postgres)")
    args = parser.parse_args()
    # Client and server sockets both live on this machine: room for them (the server inherits it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(65536, 3 * args.sockets)), hard))
    server_url, stop = args.database_url, None
    if args.postgres and not server_url:
        server_url, stop = postgres_url(None)
    try:
        print(f"\n{args.sockets} idle coachee sockets on {'PostgreSQL' if server_url else 'SQLite'}", flush=True)
        asyncio.run(bench(args.sockets, args.hold, server_url, args.parallel))
    finally:
        if stop:
            stop()


if __name__ == "__main__":
    main()
