"""Chat round trips: N coachee websocket clients writing to their coach.

    .venv/bin/python bench/chat_roundtrip.py --clients 100,1000 [--encryption both|on|off] [--postgres]

Three servers take the same load in one run: a bare aiohttp echo server, ecoach in one
process (a temp SQLite file, or PostgreSQL with ``--postgres`` / ``--database-url``), and
ecoach across two processes on one PostgreSQL database (the coach's socket on one ``ecoach
serve``, the coachees' on the other: every message reaches the coach over LISTEN/NOTIFY).
Each ecoach line also shows the server CPU per message (from /proc: a figure that a busy
machine disturbs far less than latency), and where a message's time went in each server
process (its /metrics histograms, read before and after the run): queue (waiting for its
group-commit batch), transaction, commit (with the events handed to the sockets), and the
event loop's lag (how late a timer fires: other work, or a busy machine).

Each client sends its messages one after another, waiting for the server's ack (which
ecoach sends only after the message is committed). The coach's websocket receives every
message; delivery latency is the time from a coachee's send to the coach receiving it.
The same load runs against a bare aiohttp websocket echo server (bench/echo_server.py)
in the same run, and the ratio is printed. Both servers run in their own process.

With ``--encryption both`` (the default) ecoach runs twice, on a fresh database each time:
with a master key (personal data sealed at rest) and in plaintext mode; the cost of
encryption is printed (target: the round trip loses at most 15 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp

from common import breakdown, percentile, scrape  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess, free_port  # noqa: E402

PASSWORD = "bench password 1"
LIFTED = {"ECOACH_LIMITS__HANDSHAKES_PER_MINUTE": "1000000", "ECOACH_LIMITS__SOCKETS_PER_CLIENT": "1000000",
          "ECOACH_LIMITS__CONNECTIONS_PER_CLIENT": "1000000", "ECOACH_LIMITS__CONNECTIONS_PER_SECOND": "1000000",
          # /metrics (from this machine) shows where a message's time goes: see breakdown().
          "ECOACH_METRICS__ENABLED": "true"}


def encryption_env(mode: str) -> dict[str, str]:
    """The server's settings for encryption ``on`` (a fresh master key) or ``off``."""
    from ecoach.core.crypto import new_master_key

    if mode == "on":
        return {"ECOACH_MASTER_KEYS": new_master_key("bench").line(), "ECOACH_ALLOW_PLAINTEXT": "false"}
    return {"ECOACH_MASTER_KEYS": "", "ECOACH_MASTER_KEY_FILE": "", "ECOACH_ALLOW_PLAINTEXT": "true"}


async def create_engagements(db_url: str, count: int, env: dict[str, str]) -> list[str]:
    from datetime import datetime, timezone

    from ecoach.actions.coaches import do_add_coach
    from ecoach.actions.engagements import do_create_engagement
    from ecoach.core.crypto import parse_master_keys, MasterKeys
    from ecoach.logbook.db import create_engine, migrate, session_factory
    from ecoach.logbook.keyring import Keyring

    keys = parse_master_keys(env.get("ECOACH_MASTER_KEYS", ""), "bench")
    keyring = Keyring(MasterKeys(keys) if keys else None)
    engine = create_engine(db_url)
    await migrate(engine)
    now = datetime.now(timezone.utc)
    tokens = []
    async with session_factory(engine, None, keyring)() as session:
        coach = await do_add_coach(session, name="Bench Coach", email="bench@example.org", password=PASSWORD,
                                   language="en", time_zone="Europe/Amsterdam", now=now)
        for n in range(count):
            created = await do_create_engagement(session, coach, coachee_name=f"Coachee {n}", now=now)
            tokens.append(created.chat_token)
        await session.commit()
    await engine.dispose()
    return tokens


async def coach_socket(http: aiohttp.ClientSession, base: str, login: bool) -> aiohttp.ClientWebSocketResponse:
    if login:
        page = await (await http.get(base + "/login")).text()
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        response = await http.post(base + "/login", data={"_csrf": csrf, "email": "bench@example.org",
                                                          "password": PASSWORD, "next": "/"})
        assert response.status == 200, await response.text()
    return await http.ws_connect(base.replace("http", "ws") + "/ws")


async def run_load(base: str, tokens: list[str], messages: int, login: bool,
                   interval: float = 0.0, coachee_base: str | None = None,
                   started_hook: Callable[[], None] = lambda: None) -> dict[str, float]:
    """The coach's socket on ``base``; the coachees' on ``coachee_base`` (another server
    process on the same database) or ``base``. ``started_hook()``: once every socket is
    open (the login and handshakes are done), just before the first message."""
    # Client ids are unique per run: a repeated id is a resend, stored and shown once.
    run = "p" if interval else "s"
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    received = asyncio.Event()
    expected = len(tokens) * messages
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        coach = await coach_socket(http, base, login)

        async def observe() -> None:
            async for msg in coach:
                frame = json.loads(msg.data)
                if frame.get("type") == "exchange":
                    client_id = frame["exchange"].get("client_id")
                    if client_id in sent_at:
                        latencies.append(time.perf_counter() - sent_at.pop(client_id))
                        if len(latencies) == expected:
                            received.set()

        observer = asyncio.create_task(observe())
        where = (coachee_base or base).replace("http", "ws")
        sockets = await asyncio.gather(*(http.ws_connect(f"{where}/c/{t}/ws") for t in tokens))

        async def client(n: int, ws: aiohttp.ClientWebSocketResponse) -> int:
            acked = 0
            rnd = random.Random(n)
            if interval:
                await asyncio.sleep(rnd.uniform(0, interval))
            for m in range(messages):
                if interval and m:
                    await asyncio.sleep(rnd.uniform(0.5 * interval, 1.5 * interval))
                client_id = f"bench-{run}-{n:05d}-{m:05d}"
                sent_at[client_id] = time.perf_counter()
                await ws.send_str(json.dumps({"type": "message", "client_id": client_id,
                                              "text": f"message {m} from coachee {n}"}))
                while True:
                    frame = json.loads((await ws.receive(timeout=60)).data)
                    if frame.get("type") == "ack" and frame.get("client_id") == client_id:
                        acked += 1
                        break
            return acked

        started_hook()
        started, client_cpu = time.perf_counter(), time.process_time()
        acked = sum(await asyncio.gather(*(client(n, ws) for n, ws in enumerate(sockets))))
        elapsed, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
        try:
            await asyncio.wait_for(received.wait(), timeout=30)
        except asyncio.TimeoutError:
            pass
        observer.cancel()
        for ws in sockets:
            await ws.close()
        await coach.close()
    lat_ms = [x * 1000 for x in latencies]
    return {"acked": acked, "rate": acked / elapsed, "p50": percentile(lat_ms, 50),
            "p99": percentile(lat_ms, 99), "delivered": len(latencies),
            "client_ms": client_cpu * 1000 / max(acked, 1)}


def start_echo() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_server.py"), str(port)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("echo server did not start")


def line(name: str, r: dict[str, float]) -> str:
    cpu = f"   server CPU {r['cpu_ms']:.3f} ms/msg" if "cpu_ms" in r else ""
    cpu += f", client {r['client_ms']:.3f}" if "client_ms" in r else ""
    phases = "".join(f"\n      server {n}: {p}" for n, p in enumerate(r.get("phases", ()), 1) if p)  # type: ignore[arg-type]
    return (f"  {name:30s} {r['rate']:7.0f} msg/s   delivery p50 {r['p50']:7.2f} ms   p99 {r['p99']:7.2f} ms"
            f"   ({int(r['acked'])} acked, {int(r['delivered'])} delivered){cpu}{phases}")


async def start_two_servers(server_url: str, database: str, clients: int,
                            mode: str) -> tuple[str, list[str], list[ServerProcess]]:
    """A fresh PostgreSQL database with ``clients`` engagements and two started ``ecoach
    serve`` processes on it, "a" and "b": (database url, chat tokens, servers)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ecoach-{database}-"))
    db_url = await fresh_postgres(server_url, database)
    env = encryption_env(mode)
    tokens = await create_engagements(db_url, clients, env)
    servers = []
    for name in ("a", "b"):
        (workdir / name).mkdir()
        servers.append(ServerProcess(workdir / name, db_url, ECOACH_LOGIN_ATTEMPTS="1000", ECOACH_PROCESS_NAME=name,
                                     ECOACH_AUTO_MIGRATE="false", **LIFTED, **env))
    for server in servers:
        server.start()
    return db_url, tokens, servers


async def run_two_processes(clients: int, messages: int, server_url: str, interval: float,
                            paced_messages: int, mode: str) -> tuple[dict[str, float], dict[str, float]]:
    """Two ``ecoach serve`` on one PostgreSQL database: the coach on A, the coachees on B;
    every message crosses from B to A over LISTEN/NOTIFY."""
    _, tokens, servers = await start_two_servers(server_url, f"bench_chat_two_{mode}", clients, mode)
    a, b = servers
    try:
        ours = await measured(servers, lambda hook: run_load(a.url, tokens, messages, login=True,
                                                             coachee_base=b.url, started_hook=hook))
        paced = await measured(servers, lambda hook: run_load(a.url, tokens, paced_messages, login=True,
                                                              interval=interval, coachee_base=b.url, started_hook=hook))
    finally:
        for server in servers:
            server.stop()
    return ours, paced


async def run_ecoach(clients: int, messages: int, database_url: str | None, interval: float,
                     paced_messages: int, mode: str) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """One ecoach server on a fresh database, encryption ``on`` or ``off``."""
    workdir = Path(tempfile.mkdtemp(prefix="ecoach-bench-"))
    db_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if database_url:
        db_url = await fresh_postgres(database_url, f"bench_chat_{mode}")
    env = encryption_env(mode)
    tokens = await create_engagements(db_url, clients, env)
    # Every client is on 127.0.0.1: the per-client limits on connections, sockets and
    # handshakes (meant for one visitor each) are lifted, as behind a proxy.
    server = ServerProcess(workdir, db_url, ECOACH_LOGIN_ATTEMPTS="1000", **LIFTED, **env)
    server.start()
    try:
        spy = start_profile(server, f"saturated-{mode}")
        ours = await measured([server], lambda hook: run_load(server.url, tokens, messages, login=True,
                                                              started_hook=hook))
        stop_profile(spy)
        spy = start_profile(server, f"paced-{mode}")
        paced = await measured([server], lambda hook: run_load(server.url, tokens, paced_messages, login=True,
                                                               interval=interval, started_hook=hook))
        stop_profile(spy)
    finally:
        server.stop()
    if db_url.startswith("sqlite"):
        with sqlite3.connect(workdir / "bench.db") as conn:
            rows, distinct = conn.execute("SELECT count(*), count(DISTINCT external_id) FROM exchange").fetchone()
        sent = clients * (messages + paced_messages)
        print(f"  encryption {mode}: persisted {rows} exchanges ({distinct} distinct) for {sent} sent")
    return ours, paced, tokens


PROFILE_DIR: Path | None = None


def cpu_seconds(*pids: int) -> float:
    """User + system CPU these processes have used so far (from /proc): a figure a busy
    machine disturbs far less than latency."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def pids(servers: list[ServerProcess]) -> list[int]:
    return [server.proc.pid for server in servers if server.proc is not None]


async def measured(servers: list[ServerProcess], load) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """``load(started_hook)``: the run; the CPU per message counts from ``started_hook()``
    on (the messages only: not the login, whose password hash alone costs ~0.5 s, nor the
    sockets' handshakes)."""
    phases = [scrape(server.url) for server in servers]
    before = [cpu_seconds(*pids(servers))]
    result = await load(lambda: before.__setitem__(0, cpu_seconds(*pids(servers))))
    result["cpu_ms"] = (cpu_seconds(*pids(servers)) - before[0]) * 1000 / max(result["acked"], 1)
    result["phases"] = [breakdown(was, scrape(server.url)) for was, server in zip(phases, servers)]  # type: ignore[assignment]
    return result


def start_profile(server: ServerProcess, label: str) -> subprocess.Popen[bytes] | None:
    """With ``--profile DIR``: py-spy samples the server during a run (collapsed stacks, one
    line per stack, for reading or a flame graph)."""
    if PROFILE_DIR is None or server.proc is None:
        return None
    out = PROFILE_DIR / f"chat-{label}-{server.proc.pid}.txt"
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--rate", "1000", "--nonblocking",
                             "-o", str(out), "--pid", str(server.proc.pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(2)
        spy.wait(30)


async def fresh_postgres(server_url: str, name: str) -> str:
    import asyncpg

    admin = await asyncpg.connect(server_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


def median_run(found: list) -> object:  # type: ignore[type-arg]
    return sorted(found, key=lambda r: r[0]["rate"])[len(found) // 2]


async def bench(clients: int, messages: int, database_url: str | None, interval: float,
                paced_messages: int, modes: list[str], repeat: int, two_url: str | None) -> None:
    # The modes take turns (on, off, on, off, ...), so a busy machine weighs on both alike;
    # each mode's run with the median throughput is reported.
    runs: dict[str, list[tuple[dict[str, float], dict[str, float], list[str]]]] = {m: [] for m in modes}
    twos: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {m: [] for m in modes}
    for _ in range(repeat):
        for mode in modes:
            runs[mode].append(await run_ecoach(clients, messages, database_url, interval, paced_messages, mode))
            if two_url:
                twos[mode].append(await run_two_processes(clients, messages, two_url, interval, paced_messages, mode))
    results = {mode: median_run(found) for mode, found in runs.items()}
    two = {mode: median_run(found) for mode, found in twos.items() if found}
    tokens = next(iter(results.values()))[2]
    echo, base = start_echo()
    try:
        # The echo server's CPU per message too: the floor of the socket work alone.
        before = [0.0]
        theirs = await run_load(base, tokens, messages, login=False,
                                started_hook=lambda: before.__setitem__(0, cpu_seconds(echo.pid)))
        theirs["cpu_ms"] = (cpu_seconds(echo.pid) - before[0]) * 1000 / max(theirs["acked"], 1)
        echo_paced = await run_load(base, tokens, paced_messages, login=False, interval=interval)
    finally:
        echo.terminate()
    where = "PostgreSQL" if database_url else "SQLite"
    print(f"  saturated (every client sends its next message as soon as the last is acknowledged):")
    for mode, (ours, _, _) in results.items():
        print(line(f"one process ({where}), enc. {mode}", ours))
    for mode, (ours, _) in two.items():
        print(line(f"two processes (PG), enc. {mode}", ours))
    print(line("echo", theirs))
    for mode, (ours, _, _) in results.items():
        print(f"  ratio    encryption {mode}: {ours['rate'] / theirs['rate']:.2f} of the echo server's throughput "
              f"(target >= 0.3); p99 ecoach {ours['p99']:.1f} ms vs echo {theirs['p99']:.1f} ms")
    for mode, (ours, _) in two.items():
        print(f"  ratio    two processes, encryption {mode}: {ours['rate'] / theirs['rate']:.2f} of the echo server's")
    if set(results) == {"on", "off"}:
        on, off = results["on"][0], results["off"][0]
        print(f"  encryption costs {1 - on['rate'] / off['rate']:+.1%} of the throughput, "
              f"p50 {on['p50'] - off['p50']:+.2f} ms, p99 {on['p99'] - off['p99']:+.2f} ms (target: loses <= 15 %)")
    print(f"  paced (each client writes about every {interval:g} s, {clients / interval:.0f} msg/s in all; "
          "p99 target < 20 ms on one process, < 40 ms across two):")
    for mode, (_, paced, _) in results.items():
        print(line(f"one process ({where}), enc. {mode}", paced))
    for mode, (_, paced) in two.items():
        print(line(f"two processes (PG), enc. {mode}", paced))
    print(line("echo", echo_paced))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="100,1000", help="comma-separated client counts")
    parser.add_argument("--messages", type=int, default=0, help="messages per client (default: 100 at 100 clients, 20 at 1000)")
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+asyncpg://.../postgres): each run "
                        "gets a fresh database there, instead of a temp SQLite file")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages in the paced run")
    parser.add_argument("--paced-messages", type=int, default=10, help="messages per client in the paced run")
    parser.add_argument("--encryption", choices=["both", "on", "off"], default="both",
                        help="run ecoach with personal data encrypted at rest, in plaintext mode, or both")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL cluster (as the tests)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode, taking turns; the median is shown")
    parser.add_argument("--one-process-only", action="store_true",
                        help="skip the run across two processes (which needs PostgreSQL: the --database-url "
                             "server, else a throwaway cluster)")
    parser.add_argument("--profile", type=Path, help="write py-spy samples of the server's saturated run "
                        "(collapsed stacks) into this folder (pip install py-spy)")
    args = parser.parse_args()
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    modes = ["on", "off"] if args.encryption == "both" else [args.encryption]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    for clients in (int(c) for c in args.clients.split(",")):
        messages = args.messages or (100 if clients <= 100 else 20)
        print(f"\n{clients} clients x {messages} messages", flush=True)
        database_url, stop = args.database_url, None
        server_url = database_url
        if (args.postgres or not args.one_process_only) and not database_url:
            from common import postgres_url  # type: ignore[import-not-found]

            server_url, stop = postgres_url(None)
            database_url = server_url if args.postgres else None
        try:
            asyncio.run(bench(clients, messages, database_url, args.interval, args.paced_messages, modes,
                              args.repeat, None if args.one_process_only else server_url))
        finally:
            if stop:
                stop()


if __name__ == "__main__":
    main()
