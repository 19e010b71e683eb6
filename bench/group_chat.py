"""Group chat fan-out: a group of N coachees (default 50), every member and the coach with
the group page open (a live socket each); members take turns writing to the group.

    .venv/bin/python bench/group_chat.py [--members 50] [--messages 200] [--encryption on|off]

For each message, fan-out latency is the time from the send to the moment each *other*
open socket (the other members and the coach) receives it: one sample per receiving socket.
Prints p50/p99 of that (target p99 < 50 ms), of the sender's ack (the message stored and
committed), and of the fan-out proper: from the first to the last of the 50 sockets reached. One ecoach server
process on a fresh SQLite database (encryption at rest on by default), clients in this
process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from chat_roundtrip import LIFTED, PASSWORD, coach_socket, encryption_env  # type: ignore[import-not-found]
from common import summary  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402


async def make_group(db_url: str, members: int, env: dict[str, str]) -> tuple[int, list[str]]:
    from ecoach.actions.coaches import do_add_coach
    from ecoach.actions.engagements import do_create_engagement
    from ecoach.actions.groups import do_add_group_member, do_create_group
    from ecoach.core.crypto import MasterKeys, parse_master_keys
    from ecoach.logbook.db import create_engine, migrate, session_factory
    from ecoach.logbook.keyring import Keyring

    keys = parse_master_keys(env.get("ECOACH_MASTER_KEYS", ""), "bench")
    engine = create_engine(db_url)
    await migrate(engine)
    now = datetime.now(timezone.utc)
    tokens = []
    async with session_factory(engine, None, Keyring(MasterKeys(keys) if keys else None))() as session:
        coach = await do_add_coach(session, name="Bench Coach", email="bench@example.org", password=PASSWORD,
                                   language="en", time_zone="Europe/Amsterdam", now=now)
        group = await do_create_group(session, coach, name="Bench group", language="en", now=now)
        for n in range(members):
            created = await do_create_engagement(session, coach, coachee_name=f"Member {n}", now=now)
            await do_add_group_member(session, coach, group, created.engagement.id, now=now)
            tokens.append(created.chat_token)
        await session.commit()
    await engine.dispose()
    return group.id, tokens


async def run(base: str, group_id: int, tokens: list[str], messages: int) -> tuple[list[float], list[float]]:
    ws_base = base.replace("http", "ws")
    fanout: list[float] = []
    acks: list[float] = []
    acked_at: dict[str, float] = {}
    last_at: dict[str, float] = {}
    first_at: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    waiting: dict[str, int] = {}
    done: dict[str, asyncio.Event] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await coach_socket(http, base, login=True)  # logs in (its /ws socket stays idle)
        coach = await http.ws_connect(f"{ws_base}/groups/{group_id}/ws")
        members = await asyncio.gather(*(http.ws_connect(f"{ws_base}/c/{t}/groups/{group_id}/ws") for t in tokens))
        sockets = [coach, *members]

        def arrived(client_id: str | None, *, sample: bool = True) -> None:
            if client_id in sent_at:
                now = time.perf_counter()
                last_at[client_id] = max(last_at.get(client_id, 0.0), now)
                if sample:
                    first_at.setdefault(client_id, now)
                    fanout.append(now - sent_at[client_id])
                waiting[client_id] -= 1
                if not waiting[client_id]:
                    done[client_id].set()

        async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                frame = json.loads(msg.data)
                if frame.get("type") == "exchange":
                    arrived(frame["exchange"].get("client_id"))
                elif frame.get("type") == "ack":
                    acked_at[frame["client_id"]] = time.perf_counter()
                    acks.append(acked_at[frame["client_id"]] - sent_at[frame["client_id"]])
                    arrived(frame["client_id"], sample=False)  # the sender has it: its ack

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        for m in range(messages):
            sender = members[m % len(members)]
            client_id = f"bench-group-{m:06d}"
            waiting[client_id], done[client_id] = len(sockets), asyncio.Event()
            sent_at[client_id] = time.perf_counter()
            await sender.send_str(json.dumps({"type": "message", "client_id": client_id,
                                              "text": f"message {m} to the group"}))
            await asyncio.wait_for(done[client_id].wait(), timeout=30)
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
    # The fan-out proper: from the first to the last of the other sockets reached (the hub
    # publishes right after the commit, before the sender's ack goes out).
    spread = [(last_at[c] - first_at[c]) * 1000 for c in first_at]
    return [x * 1000 for x in fanout], [x * 1000 for x in acks], spread


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--encryption", choices=("on", "off"), default="on")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ecoach-bench-group-"))
    db_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    env = encryption_env(args.encryption)
    group_id, tokens = await make_group(db_url, args.members, env)
    server = ServerProcess(workdir, db_url, ECOACH_LOGIN_ATTEMPTS="1000", **LIFTED, **env)
    server.start()
    try:
        fanout, acks, spread = await run(server.url, group_id, tokens, args.messages)
    finally:
        server.stop()
    receivers = args.members  # the other members and the coach
    print(f"group chat: {args.members} members + coach, {args.messages} messages, encryption {args.encryption}, "
          f"{len(fanout)} fan-out deliveries ({receivers} per message)")
    print(f"  fan-out (send -> each open socket)  {summary(fanout)}")
    print(f"  sender's ack (stored, committed)    {summary(acks)}")
    print(f"  first -> last socket reached        {summary(spread)}")
    print("  target: fan-out p99 < 50 ms")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    asyncio.run(main())
