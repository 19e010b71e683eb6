"""A flood of websocket handshakes on one coachee chat link from one address, against a
real ``ecoach serve`` (its own process), while /healthz is polled every 10 ms.

    .venv/bin/python bench/socket_flood.py [--attempts 3000] [--parallel 200]

Accepted sockets are kept open to the end, so the per-link cap (``limits.sockets_per_link``)
and the handshake rate per client (``limits.handshakes_per_minute``) both act. Target:
everything past the caps refused (429 before the upgrade, no database work) and /healthz
p99 under 50 ms. The flood runs at a lower CPU priority than the server and the poller,
as if it came from other machines (2 cores here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from common import HealthPoller, percentile  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402


async def flood(base: str, token: str, attempts: int, parallel: int) -> tuple[Counter[str], float, int]:
    url = base.replace("http://", "ws://") + f"/c/{token}/ws"
    outcomes: Counter[str] = Counter()
    kept: list[aiohttp.ClientWebSocketResponse] = []
    gate = asyncio.Semaphore(parallel)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def attempt() -> None:
            async with gate:
                try:
                    ws = await http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_receive=30))
                except aiohttp.WSServerHandshakeError as exc:
                    outcomes[f"refused {exc.status}"] += 1
                    return
                except (aiohttp.ClientError, OSError) as exc:
                    outcomes[f"error {type(exc).__name__}"] += 1
                    return
                kept.append(ws)
                outcomes["accepted"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(attempt() for _ in range(attempts)))
        elapsed = time.perf_counter() - started
        still_open = sum(1 for ws in kept if not ws.closed)
        for ws in kept:
            await ws.close()
    return outcomes, elapsed, still_open


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=3000)
    parser.add_argument("--parallel", type=int, default=200, help="handshakes in flight at once")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    work = Path(tempfile.mkdtemp())
    # Exposed directly, not behind a proxy on this machine: the flood's address is its own.
    server = ServerProcess(work, f"sqlite+aiosqlite:///{work / 'bench.db'}", ECOACH_SCHEDULER__ENABLED="false",
                           ECOACH_TRUSTED_PROXIES="")
    server.cli("migrate")
    server.cli("coach", "add", "--name", "Flood Coach", "--email", "flood@example.org",
               "--password", "the right password 2026")
    out = server.cli("engagement", "add", "--coach", "flood@example.org", "--name", "Sanne")
    token = out.strip().rsplit("/c/", 1)[1]
    server.start()
    os.nice(10)
    try:
        print("ecoach serve on sqlite; limits: 10 sockets per link, 50 per client, 120 handshakes a minute (defaults)")
        with HealthPoller(server.url) as poller:
            outcomes, elapsed, still_open = asyncio.run(flood(server.url, token, args.attempts, args.parallel))
            health = poller.samples()
        print(f"\n{args.attempts} handshakes on one chat link from one address ({args.parallel} in flight)")
        print(f"  outcomes:         {dict(sorted(outcomes.items()))}  in {elapsed:.2f} s")
        print(f"  open at the end:  {still_open}   (target: at most the cap, 10)")
        print(f"  /healthz during:  {len(health)} samples, p50 {percentile(health, 50):.1f} ms, "
              f"p99 {percentile(health, 99):.1f} ms, max {max(health):.1f} ms   (target p99 < 50 ms)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
