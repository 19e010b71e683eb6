"""The chat's socket side alone: what the server does per message besides storing it.

    .venv/bin/python bench/chat_socket_path.py [--clients 100] [--messages 100] [--rounds 3]

N coachee websockets and one coach websocket on a real aiohttp server in this process,
speaking the chat protocol through the same code as ``/c/{token}/ws`` and ``/ws``
(``channels.chat.protocol.Connection``: frame parsing, the checks, the ack, the hub and the
event bus with the metrics observer, each reader's rendering, the JSON). The exchange
writer is replaced by a stub that "commits" whatever arrived in one loop iteration at
once, so no database time hides the socket work. The clients run in a child process
(each sends its next message when the last is acknowledged; the coach counts the pushes);
this process's CPU per message (user + system, which on loopback includes the kernel's
delivery) is the socket path's cost. Compare: bench/echo_server.py does the bare minimum
of the same socket work (chat_roundtrip.py prints it).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecoach.actions.exchanges import NewExchange, check_client_id, check_message  # noqa: E402
from ecoach.channels.chat.protocol import Connection, Frame  # noqa: E402
from ecoach.core import topics  # noqa: E402
from ecoach.core.events import Event, EventBus  # noqa: E402
from ecoach.core.hub import Hub  # noqa: E402
from ecoach.keys import SETTINGS, SOCKETS  # noqa: E402
from ecoach.metrics import Metrics  # noqa: E402
from ecoach.settings import Settings  # noqa: E402

COACH_ID = 1
TEXT = "Dank je voor je bericht van gisteren. Ik heb er goed over nagedacht en wil het er graag over hebben."


@dataclass
class Stored:
    data: dict[str, Any]
    created: bool = True

    def as_dict(self) -> dict[str, Any]:
        return dict(self.data)


class StubWriter:
    """Takes messages as the exchange writer does and "commits" each loop iteration's at
    once: events to the bus (hub, metrics), then the senders' futures."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.pending: list[tuple[NewExchange, asyncio.Future[Stored]]] = []
        self.next_id = 1

    async def submit(self, new: NewExchange) -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        if not self.pending:
            asyncio.get_running_loop().call_soon(self._commit)
        self.pending.append((new, future))
        return await future

    def _commit(self) -> None:
        batch, self.pending = self.pending, []
        events, done = [], []
        for new, future in batch:
            data = {"id": self.next_id, "engagement_id": new.engagement_id, "channel": new.channel,
                    "direction": new.direction, "author": new.author, "author_name": new.author_name,
                    "text": new.text, "html": f"<p>{new.text}</p>", "created_at": "2026-11-30T09:00:00+00:00",
                    "client_id": new.external_id.split(":", 1)[1], "delivery_state": None, "delivery_detail": None,
                    "subject": None, "notice": None, "event": None, "file": None, "share": None}
            self.next_id += 1
            events.append(Event((topics.engagement(new.engagement_id), topics.coach(COACH_ID)),
                                {"type": "exchange", "engagement_id": new.engagement_id, "exchange": data,
                                 "origin": new.origin}))
            done.append((future, Stored(data)))
        self.bus.committed(events)
        for future, stored in done:
            future.set_result(stored)


def build_app() -> web.Application:
    app = web.Application()
    settings = Settings()
    app[SETTINGS] = settings
    app[SOCKETS] = set()
    hub = Hub()
    bus = EventBus(hub)
    bus.observe(Metrics().observe)
    writer = StubWriter(bus)

    async def coachee(request: web.Request) -> web.WebSocketResponse:
        engagement_id = int(request.match_info["n"])
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        conn = Connection(request, ws, lambda text: text)
        conn.reader = ("coachee", "nl", "Europe/Amsterdam")
        sub = hub.subscribe(topics.engagement(engagement_id))

        async def on_frame(frame: Frame) -> None:  # the "message" branch of channels.chat.endpoint
            client_id = check_client_id(frame.get("client_id"))
            text = check_message(frame.get("text"), settings.max_message_chars)
            recorded = await writer.submit(NewExchange(
                engagement_id=engagement_id, channel="chat", direction="in", author="coachee",
                author_name=f"Coachee {engagement_id}", text=text, external_id=f"chat:{client_id}", origin=conn.id))
            await conn.reply({"type": "ack", "client_id": client_id,
                              "exchange": recorded.as_dict(), "duplicate": not recorded.created})

        await conn.serve(hub, sub, lambda event: event, on_frame)
        return ws

    async def coach(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        conn = Connection(request, ws, lambda text: text)
        conn.reader = ("coach", "nl", "Europe/Amsterdam")

        async def on_frame(frame: Frame) -> None:
            pass

        await conn.serve(hub, hub.subscribe(topics.coach(COACH_ID)), lambda event: event, on_frame)
        return ws

    app.router.add_get("/c/{n}/ws", coachee)
    app.router.add_get("/ws", coach)
    return app


CLIENTS = """
import asyncio, json, sys
import aiohttp

async def main(port, clients, messages):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        coach = await session.ws_connect(f"http://127.0.0.1:{port}/ws")
        sockets = [await session.ws_connect(f"http://127.0.0.1:{port}/c/{n}/ws") for n in range(1, clients + 1)]
        sys.stdout.write("ready\\n"); sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        async def coachee(n, ws):
            for m in range(messages):
                await ws.send_str(json.dumps({"type": "message", "client_id": f"c{n:04d}-{m:06d}", "text": TEXT}))
                while json.loads((await ws.receive()).data)["type"] != "ack":
                    pass

        async def pushes():
            seen = 0
            while seen < clients * messages:
                if json.loads((await coach.receive()).data)["type"] == "exchange":
                    seen += 1

        await asyncio.gather(pushes(), *(coachee(n, ws) for n, ws in enumerate(sockets)))

TEXT = sys.argv[4]
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
"""


async def one_round(port: int, clients: int, messages: int) -> tuple[float, float, float]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENTS, str(port), str(clients), str(messages), TEXT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    await child.stdout.readline()  # every socket is open
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    child.stdin.write(b"go\n")
    await child.stdin.drain()
    if await child.wait() != 0:
        raise SystemExit("the clients failed")
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    count = clients * messages
    return ((after.ru_utime - before.ru_utime) * 1e6 / count, (after.ru_stime - before.ru_stime) * 1e6 / count,
            count / wall)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=100, help="messages per client")
    parser.add_argument("--rounds", type=int, default=3, help="runs; the median is shown")
    args = parser.parse_args()
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    results = []
    try:
        for _ in range(args.rounds):
            results.append(await one_round(port, args.clients, args.messages))
    finally:
        await runner.cleanup()
    user, system, rate = sorted(results, key=lambda r: r[0] + r[1])[len(results) // 2]
    print(f"{args.clients} clients x {args.messages} messages, median of {args.rounds}: server CPU "
          f"{user + system:.1f} us/msg (user {user:.1f}, system {system:.1f}); {rate:.0f} msg/s "
          f"(the clients share the machine)")


if __name__ == "__main__":
    asyncio.run(main())
